package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Notebook holds the schema definition for the Notebook entity, a tenant
// entity.
type Notebook struct {
	ent.Schema
}

// Fields of the Notebook.
func (Notebook) Fields() []ent.Field {
	return []ent.Field{
		field.String("title"),
		field.Int("owner_id").
			Optional(),
	}
}

// Edges of the Notebook.
func (Notebook) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("owner", Account.Type).
			Ref("notebooks").
			Field("owner_id").
			Unique(),
		edge.To("notes", Note.Type),
		// Readers are shared accounts; the edge schema Share, a tenant
		// entity, holds the pairs.
		edge.To("readers", Account.Type).
			Through("shares", Share.Type),
	}
}
