package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"github.com/google/uuid"
)

// Notebook holds the schema definition for the Notebook entity. Notebooks
// live in every tenant's schema.
type Notebook struct {
	ent.Schema
}

// Fields of the Notebook.
func (Notebook) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).
			Default(uuid.New).
			Annotations(entsql.DefaultExpr("gen_random_uuid()")),
		field.String("title").
			NotEmpty(),
	}
}

// Edges of the Notebook: its notes, deleted with it.
func (Notebook) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("notes", Note.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}
