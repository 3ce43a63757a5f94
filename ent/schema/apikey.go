package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// APIKey holds the schema definition for the APIKey entity: a bearer key of
// one tenant. Only its SHA-256 hash is stored; the key itself is shown once,
// when it is created. It lives only in public.
type APIKey struct {
	ent.Schema
}

// Annotations of the APIKey.
func (APIKey) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("api_keys")}
}

// Fields of the APIKey.
func (APIKey) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).
			Default(uuid.New).
			Annotations(entsql.DefaultExpr("gen_random_uuid()")),
		// The public part of the key, which names it in lists and logs.
		field.String("prefix").
			MaxLen(16).
			SchemaType(varchar(16)).
			NotEmpty().
			Unique().
			Immutable(),
		// SHA-256 of the whole key.
		field.Bytes("hash").
			MinLen(32).
			MaxLen(32).
			Immutable().
			Sensitive(),
		field.String("tenant_id").
			MaxLen(48).
			SchemaType(varchar(48)).
			NotEmpty().
			Immutable(),
		field.String("name").
			MaxLen(100).
			SchemaType(varchar(100)).
			Default(""),
		field.Time("created_at").
			Default(time.Now).
			Immutable().
			Annotations(entsql.DefaultExpr("now()")),
		field.Time("expires_at").
			Optional().
			Nillable(),
		field.Time("last_used_at").
			Optional().
			Nillable(),
		field.Time("revoked_at").
			Optional().
			Nillable(),
	}
}

// Edges of the APIKey.
func (APIKey) Edges() []ent.Edge {
	return []ent.Edge{
		// A tenant's keys go with its directory row.
		edge.To("tenant", Tenant.Type).
			Field("tenant_id").
			Unique().
			Required().
			Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the APIKey.
func (APIKey) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("tenant_id"),
	}
}
