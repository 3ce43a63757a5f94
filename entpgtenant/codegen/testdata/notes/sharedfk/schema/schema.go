// Package schema has a shared table holding a foreign key to a tenant
// table.
package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/pgtenant/pgtenant/entpgtenant"
)

// Account is shared; its favourite_note_id column would point into one
// tenant's notes.
type Account struct {
	ent.Schema
}

// Annotations of the Account.
func (Account) Annotations() []schema.Annotation {
	return []schema.Annotation{entpgtenant.Shared()}
}

// Fields of the Account.
func (Account) Fields() []ent.Field {
	return []ent.Field{
		field.String("name"),
		field.Int("favourite_note_id").Optional(),
	}
}

// Edges of the Account.
func (Account) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("favourite_note", Note.Type).
			Ref("favoured_by").
			Field("favourite_note_id").
			Unique(),
	}
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
	return []ent.Edge{edge.To("favoured_by", Account.Type)}
}
