package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Tenant holds the schema definition for the Tenant entity: the tenant
// directory, the source of truth for which tenants exist and may be served.
// It lives only in public.
type Tenant struct {
	ent.Schema
}

// Fields of the Tenant.
func (Tenant) Fields() []ent.Field {
	return []ent.Field{
		// The tenant id as validated by tenant.ValidateID (ASCII only, so
		// bytes and characters agree).
		field.String("id").
			MaxLen(48).
			SchemaType(varchar(48)).
			NotEmpty().
			Immutable(),
		// PostgreSQL limits identifiers to 63 bytes, not characters.
		field.String("schema_name").
			MaxLen(63).
			SchemaType(varchar(63)).
			NotEmpty().
			Unique().
			Immutable(),
		field.UUID("plan_id", uuid.UUID{}).
			Optional().
			Nillable(),
		// A tenant is served only while active. A suspended tenant's
		// requests are refused; a failed one is a clone or import that did
		// not complete (re-run it, or drop the tenant).
		field.Enum("status").
			Values("provisioning", "active", "suspended", "dropping", "failed").
			Default("provisioning"),
		// Why the tenant is suspended or failed; nil otherwise.
		field.String("status_reason").
			MaxRuneLen(500).
			Optional().
			Nillable(),
		// The latest tenant migration applied to the tenant's schema,
		// recorded by the migrator in the transaction that applied it;
		// NULL until the schema is first migrated. A registry compares it
		// with the latest migration of its binary (tenant.Options.Revision)
		// with one read of the directory row it makes anyway.
		field.String("revision").
			MaxLen(255).
			SchemaType(varchar(255)).
			Optional().
			Nillable(),
		field.Time("created_at").
			Default(time.Now).
			Immutable().
			Annotations(entsql.DefaultExpr("now()")),
		field.Time("updated_at").
			Default(time.Now).
			UpdateDefault(time.Now).
			Annotations(entsql.DefaultExpr("now()")),
	}
}

// Edges of the Tenant.
func (Tenant) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("plan", Plan.Type).
			Ref("tenants").
			Field("plan_id").
			Unique(),
	}
}

// Indexes of the Tenant.
func (Tenant) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("status"),
	}
}
