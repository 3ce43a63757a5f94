// Package schema has a many-to-many edge between a shared entity and a
// tenant entity, whose join table cannot be placed.
package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/pgtenant/pgtenant/entpgtenant"
)

// Account is shared.
type Account struct {
	ent.Schema
}

// Annotations of the Account.
func (Account) Annotations() []schema.Annotation {
	return []schema.Annotation{entpgtenant.Shared()}
}

// Fields of the Account.
func (Account) Fields() []ent.Field {
	return []ent.Field{field.String("name")}
}

// Edges of the Account.
func (Account) Edges() []ent.Edge {
	return []ent.Edge{edge.To("notes", Note.Type)}
}

// Note is a tenant entity.
type Note struct {
	ent.Schema
}

// Fields of the Note.
func (Note) Fields() []ent.Field {
	return []ent.Field{field.String("text")}
}

// Edges of the Note.
func (Note) Edges() []ent.Edge {
	return []ent.Edge{edge.From("accounts", Account.Type).Ref("notes")}
}
