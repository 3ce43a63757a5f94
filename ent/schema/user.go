package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"github.com/google/uuid"
)

// User holds the schema definition for the User entity. Users live in every
// tenant schema, never in public.
type User struct {
	ent.Schema
}

// Annotations of the User: PostgreSQL itself keeps e-mail addresses lower-case,
// so the unique index is case-insensitive for every writer, not only the API.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Checks(map[string]string{"users_email_lower": "email = lower(email)"}),
	}
}

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).
			Default(uuid.New).
			Annotations(entsql.DefaultExpr("gen_random_uuid()")),
		field.String("email").
			MaxRuneLen(255).
			SchemaType(varchar(255)).
			NotEmpty().
			Unique(),
		field.String("name").
			MaxRuneLen(255).
			SchemaType(varchar(255)).
			NotEmpty(),
		field.Bool("active").
			Default(true),
		field.Time("created_at").
			Default(time.Now).
			Immutable().
			Annotations(entsql.DefaultExpr("now()")),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("posts", Post.Type).
			Annotations(entsql.OnDelete(entsql.NoAction)),
	}
}
