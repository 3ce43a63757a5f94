package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"github.com/google/uuid"

	"github.com/pgtenant/pgtenant/entpgtenant"
)

// Plan holds the schema definition for the Plan entity. Plans are shared by all
// tenants and live only in public.
type Plan struct {
	ent.Schema
}

// Annotations of the Plan: it is shared, its table lives only in public.
func (Plan) Annotations() []schema.Annotation {
	return []schema.Annotation{entpgtenant.Shared()}
}

// Fields of the Plan.
func (Plan) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).
			Default(uuid.New).
			Annotations(entsql.DefaultExpr("gen_random_uuid()")),
		field.String("name").
			MaxRuneLen(100).
			SchemaType(varchar(100)).
			NotEmpty(),
		field.String("max_users").
			MaxRuneLen(50).
			SchemaType(varchar(50)).
			Optional().
			Nillable(),
		field.String("price").
			MaxRuneLen(50).
			SchemaType(varchar(50)).
			Optional().
			Nillable(),
	}
}

// Edges of the Plan.
func (Plan) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("tenants", TenantPlan.Type).
			Annotations(entsql.OnDelete(entsql.Restrict)),
	}
}
