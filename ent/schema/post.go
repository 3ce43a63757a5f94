package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Post holds the schema definition for the Post entity. Posts live in every
// tenant schema, never in public; an author is a user of the same schema.
type Post struct {
	ent.Schema
}

// Fields of the Post.
func (Post) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).
			Default(uuid.New).
			Annotations(entsql.DefaultExpr("gen_random_uuid()")),
		field.String("title").
			MaxRuneLen(255).
			SchemaType(varchar(255)).
			NotEmpty(),
		field.String("content").
			MaxRuneLen(5000).
			SchemaType(varchar(5000)).
			Optional().
			Nillable(),
		field.UUID("author_id", uuid.UUID{}).
			Optional().
			Nillable(),
		field.Time("created_at").
			Default(time.Now).
			Immutable().
			Annotations(entsql.DefaultExpr("now()")),
	}
}

// Edges of the Post.
func (Post) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("author", User.Type).
			Ref("posts").
			Field("author_id").
			Unique(),
	}
}

// Indexes of the Post: listing a user's posts must not scan the table.
func (Post) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("author_id"),
	}
}
