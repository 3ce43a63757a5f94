package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/pgtenant/pgtenant/entpgtenant"
)

// Account holds the schema definition for the Account entity, shared by all
// tenants.
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
	}
}

// Edges of the Account: a many-to-many edge between shared entities, the
// tenant notebooks an account owns, and those it reads.
func (Account) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("following", Account.Type).
			From("followers"),
		edge.To("notebooks", Notebook.Type),
		edge.From("read_notebooks", Notebook.Type).
			Ref("readers"),
	}
}
