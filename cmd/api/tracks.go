package main

import (
	"context"
	"database/sql"
	"errors"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/ent/migrate/migrations"
	"github.com/pgtenant/pgtenant/internal/tenantplan"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// newMigrator returns a migrator of this binary's migrations over db.
func newMigrator(db *sql.DB, opts migrate.Options) *migrate.Migrator {
	opts.Public, opts.Tenant = migrations.Public(), migrations.Tenant()
	return migrate.New(db, opts)
}

// sharedClient returns the client of the shared tables over db.
func sharedClient(db *sql.DB) *ent.Client {
	return ent.ClientForTenant(entsql.OpenDB(dialect.Postgres, db), "")
}

// createOptions returns, for each tenant id, the options of CreateTenant
// that give it the plan named by ref (none when ref is empty), resolving
// ref once: an unknown plan is an error before any tenant is created.
func createOptions(ctx context.Context, db *sql.DB, ref string) (func(id string) migrate.CreateOptions, error) {
	if ref == "" {
		return func(string) migrate.CreateOptions { return migrate.CreateOptions{} }, nil
	}
	plan, err := tenantplan.Resolve(ctx, sharedClient(db), ref)
	if errors.Is(err, tenantplan.ErrUnknownPlan) {
		return nil, usagef("%v", err)
	} else if err != nil {
		return nil, err
	}
	return func(id string) migrate.CreateOptions {
		return migrate.CreateOptions{Then: tenantplan.Set(id, plan)}
	}, nil
}

// tenantViews returns ts as the CLI prints them, with their plans.
func tenantViews(ctx context.Context, db *sql.DB, ts ...*migrate.Tenant) ([]tenantView, error) {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	plans, err := tenantplan.Of(ctx, sharedClient(db), ids...)
	if err != nil {
		return nil, err
	}
	out := make([]tenantView, len(ts))
	for i, t := range ts {
		out[i] = tenantView{ID: t.ID, Schema: t.Schema, Status: t.Status, Reason: t.StatusReason,
			CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
		if p, ok := plans[t.ID]; ok {
			out[i].PlanID = p.String()
		}
	}
	return out, nil
}

// writeTenant prints t as JSON, with its plan.
func writeTenant(ctx context.Context, e env, db *sql.DB, t *migrate.Tenant) error {
	vs, err := tenantViews(ctx, db, t)
	if err != nil {
		return err
	}
	return writeJSON(e.stdout, vs[0])
}
