package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"

	"github.com/pgtenant/pgtenant/entpgtenant"
)

// Account holds the schema definition for the Account entity. Accounts are
// shared by all tenants: their table lives once, in public.
type Account struct {
	ent.Schema
}

// Annotations of the Account: it is shared.
func (Account) Annotations() []schema.Annotation {
	return []schema.Annotation{entpgtenant.Shared()}
}

// Fields of the Account.
func (Account) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").
			NotEmpty(),
		field.String("plan").
			Default("free"),
	}
}
