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

// TenantPlan holds the schema definition for the TenantPlan entity: the plan
// of a tenant of the directory (public.tenants, which belongs to package
// tenant/migrate). A tenant without a row has no plan. It lives only in
// public.
type TenantPlan struct {
	ent.Schema
}

// Annotations of the TenantPlan.
func (TenantPlan) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("tenant_plans"), entpgtenant.Shared()}
}

// Fields of the TenantPlan.
func (TenantPlan) Fields() []ent.Field {
	return []ent.Field{
		// The tenant's id in the directory.
		field.String("id").
			StorageKey("tenant_id").
			MaxLen(48).
			SchemaType(varchar(48)).
			NotEmpty().
			Immutable(),
		field.UUID("plan_id", uuid.UUID{}),
	}
}

// Edges of the TenantPlan.
func (TenantPlan) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("plan", Plan.Type).
			Ref("tenants").
			Field("plan_id").
			Unique().
			Required(),
	}
}
