package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Note holds the schema definition for the Note entity, a tenant entity.
type Note struct {
	ent.Schema
}

// Fields of the Note.
func (Note) Fields() []ent.Field {
	return []ent.Field{
		field.String("text"),
		field.Int("notebook_id").
			Optional(),
	}
}

// Edges of the Note: its notebook, and a many-to-many edge between tenant
// entities.
func (Note) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("notebook", Notebook.Type).
			Ref("notes").
			Field("notebook_id").
			Unique(),
		edge.To("tags", Tag.Type),
	}
}
