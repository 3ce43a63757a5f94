// Package entpgtenant places the tables of an Ent graph for schema-per-tenant
// PostgreSQL: each tenant owns a schema (tenant_<id>) holding the tables of
// the tenant entities, and the tables of shared entities live once, in
// public.
//
// An entity is a tenant entity unless its schema carries [Shared]:
//
//	// Annotations of the Account: accounts are shared by all tenants.
//	func (Account) Annotations() []schema.Annotation {
//		return []schema.Annotation{entpgtenant.Shared()}
//	}
//
// The join table of a many-to-many edge lives with the two entities it joins,
// which must both be tenant entities or both shared ones, and a shared table
// may not hold a foreign key to a tenant table; code generation fails
// otherwise.
//
// Package [github.com/pgtenant/pgtenant/entpgtenant/codegen] is the entc
// extension that reads these annotations and generates ClientForTenant,
// TenantSchemaConfig, TenantTables and SharedTables into the ent package. It
// needs Ent's sql/schemaconfig feature. A project runs it from an entc.go:
//
//	//go:build ignore
//
//	package main
//
//	import (
//		"log"
//
//		"entgo.io/ent/entc"
//		"entgo.io/ent/entc/gen"
//
//		"github.com/pgtenant/pgtenant/entpgtenant/codegen"
//	)
//
//	func main() {
//		err := entc.Generate("./ent/schema", &gen.Config{
//			Features: []gen.Feature{gen.FeatureSchemaConfig, gen.FeatureVersionedMigration},
//		}, entc.Extensions(codegen.NewExtension()))
//		if err != nil {
//			log.Fatalf("running ent codegen: %v", err)
//		}
//	}
//
// with //go:generate go run ./ent/entc.go in a file at the module root, so
// that go generate runs it there and the schema path resolves. This package
// holds only the annotation, so the schema package, which the generated
// client imports, does not link the code generator into the program.
package entpgtenant

import "entgo.io/ent/schema"

// Annotation places an entity's table. Put [Shared] in an entity's
// Annotations to mark it shared; an entity without the annotation is a
// tenant entity.
type Annotation struct {
	// Shared reports that the entity's table lives in the public schema,
	// once for all tenants, instead of in every tenant's schema.
	Shared bool `json:"shared,omitempty"`
}

// Name implements schema.Annotation: it is the key of the annotation in the
// generated graph.
func (Annotation) Name() string { return "PgTenant" }

// Shared returns the annotation that marks an entity shared: its table lives
// in the public schema, once, and every tenant's client reads and writes it
// there. Every entity without it is a tenant entity, whose table lives in
// each tenant's schema.
func Shared() schema.Annotation { return Annotation{Shared: true} }
