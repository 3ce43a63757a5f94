package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Share holds the schema definition for the Share entity, the edge schema
// of a notebook's readers: a tenant entity joining a tenant entity and a
// shared one.
type Share struct {
	ent.Schema
}

// Annotations of the Share.
func (Share) Annotations() []schema.Annotation {
	return []schema.Annotation{field.ID("notebook_id", "account_id")}
}

// Fields of the Share.
func (Share) Fields() []ent.Field {
	return []ent.Field{
		field.Int("notebook_id"),
		field.Int("account_id"),
	}
}

// Edges of the Share.
func (Share) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("notebook", Notebook.Type).
			Field("notebook_id").
			Unique().
			Required(),
		edge.To("account", Account.Type).
			Field("account_id").
			Unique().
			Required(),
	}
}
