package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Note holds the schema definition for the Note entity. Notes live in every
// tenant's schema; a note belongs to exactly one notebook of the same schema.
type Note struct {
	ent.Schema
}

// Fields of the Note.
func (Note) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).
			Default(uuid.New).
			Annotations(entsql.DefaultExpr("gen_random_uuid()")),
		field.String("title").
			NotEmpty(),
		field.Text("body").
			Default(""),
		field.UUID("notebook_id", uuid.UUID{}),
	}
}

// Edges of the Note.
func (Note) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("notebook", Notebook.Type).
			Ref("notes").
			Field("notebook_id").
			Unique().
			Required(),
	}
}

// Indexes of the Note: listing a notebook's notes must not scan the table.
func (Note) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("notebook_id"),
	}
}
