// Package codegen is the entc extension of entpgtenant. It generates
// pgtenant.go into the ent package, holding:
//
//	func ClientForTenant(drv dialect.Driver, tenantSchema string) *Client
//	func TenantSchemaConfig(tenantSchema string) SchemaConfig
//	func TenantTables() []*schema.Table
//	func SharedTables() []*schema.Table
//
// ClientForTenant is a client for one tenant's data: tenant tables qualified
// with tenantSchema, or unqualified when it is "" (the connection's
// search_path then selects the tenant's schema), shared tables qualified with
// public. TenantTables and SharedTables partition migrate.Tables. Entities
// are placed by the annotation of package
// [github.com/pgtenant/pgtenant/entpgtenant], whose documentation shows the
// entc.go that runs the extension.
//
// The generated code qualifies tables through Ent's SchemaConfig, so code
// generation needs the sql/schemaconfig feature (gen.FeatureSchemaConfig).
package codegen

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"

	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"

	"github.com/pgtenant/pgtenant/entpgtenant"
)

// ErrNoSchemaConfig is returned by code generation with the extension when
// the sql/schemaconfig feature is not enabled: the generated code qualifies
// tables through Ent's SchemaConfig, which only that feature generates.
var ErrNoSchemaConfig = errors.New("entpgtenant: the sql/schemaconfig feature is not enabled; " +
	"add gen.FeatureSchemaConfig to gen.Config.Features (--feature sql/schemaconfig with the ent command)")

// ErrPlacement is wrapped by the error code generation returns when a table
// cannot be placed: a many-to-many edge joins a tenant entity and a shared
// one, or a shared table holds a foreign key to a tenant table. The message
// names the edge or table and the fix.
var ErrPlacement = errors.New("entpgtenant: table cannot be placed")

//go:embed template/pgtenant.tmpl
var templateFS embed.FS

// Extension is the entc extension that generates pgtenant.go into the ent
// package. Its zero value is ready to use; pass it to entc.Extensions.
//
// Code generation with it fails, before any code is generated, with
// [ErrNoSchemaConfig] when the sql/schemaconfig feature is off and with an
// error wrapping [ErrPlacement] when a table cannot be placed.
type Extension struct {
	entc.DefaultExtension
}

// NewExtension returns the extension, to pass to entc.Extensions.
func NewExtension() *Extension { return &Extension{} }

// Hooks returns the hook that checks the graph before anything is
// generated: the sql/schemaconfig feature is on and every table can be
// placed.
func (*Extension) Hooks() []gen.Hook {
	return []gen.Hook{check}
}

// Templates returns the template of pgtenant.go.
func (*Extension) Templates() []*gen.Template {
	return []*gen.Template{
		gen.MustParse(gen.NewTemplate("pgtenant").
			Funcs(map[string]any{"pgtenantLayout": newLayout}).
			ParseFS(templateFS, "template/pgtenant.tmpl")),
	}
}

// check is the extension's hook.
func check(next gen.Generator) gen.Generator {
	return gen.GenerateFunc(func(g *gen.Graph) error {
		on, err := g.FeatureEnabled(gen.FeatureSchemaConfig.Name)
		if err != nil {
			return err
		}
		if !on {
			return ErrNoSchemaConfig
		}
		if _, err := newLayout(g); err != nil {
			return err
		}
		return next.Generate(g)
	})
}

// isShared reports whether t carries the entpgtenant.Shared annotation.
func isShared(t *gen.Type) (bool, error) {
	v, ok := t.Annotations[entpgtenant.Annotation{}.Name()]
	if !ok || v == nil {
		return false, nil
	}
	// Annotations loaded by entc went through JSON; decode whatever form
	// they have the same way.
	b, err := json.Marshal(v)
	if err != nil {
		return false, fmt.Errorf("entpgtenant: annotation of %s: %w", t.Name, err)
	}
	var a entpgtenant.Annotation
	if err := json.Unmarshal(b, &a); err != nil {
		return false, fmt.Errorf("entpgtenant: annotation of %s: %w", t.Name, err)
	}
	return a.Shared, nil
}
