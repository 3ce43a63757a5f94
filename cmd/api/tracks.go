package main

import (
	"context"
	"database/sql"
	"errors"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/ent/migrate/migrations"
	"github.com/pgtenant/pgtenant/internal/cmdline"
	"github.com/pgtenant/pgtenant/internal/tenantplan"
	"github.com/pgtenant/pgtenant/tenant/command"
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

// commandConfig returns the configuration of the commands of package
// tenant/command (migrate, status, tenant create|drop|list) run with e:
// this binary's migrations, database and tenant plans.
func (e env) commandConfig() command.Config {
	return command.Config{
		Name:               "api",
		Public:             migrations.Public(),
		Tenant:             migrations.Tenant(),
		DefaultDatabaseURL: e.recordedURL,
		DefaultDatabaseDoc: databaseDoc,
		DatabaseHint:       fixNotReady,
		CreateFlags:        []command.CreateFlag{{Name: "plan", Usage: "create: the plan's `name or id`", Options: createOptions}},
		Columns:            []command.Column{{Header: "PLAN", Key: "planId", Values: planIDs}},
		AfterDrop: func(ctx context.Context, db *sql.DB, id string) error {
			return tenantplan.Forget(ctx, sharedClient(db), id)
		},
		TenantHelp: tenantHelp,
		Stdin:      e.stdin,
		Stdout:     e.stdout,
		Stderr:     e.stderr,
		Getenv:     e.getenv,
	}
}

// createOptions returns, for each tenant id, the options of CreateTenant
// that give it the plan named by ref, resolving ref once: an unknown plan
// is a usage error before any tenant is created.
func createOptions(ctx context.Context, db *sql.DB, ref string) (func(id string) migrate.CreateOptions, error) {
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

// planIDs returns the plan ids of the tenants ids that have one.
func planIDs(ctx context.Context, db *sql.DB, ids []string) (map[string]string, error) {
	plans, err := tenantplan.Of(ctx, sharedClient(db), ids...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(plans))
	for id, p := range plans {
		out[id] = p.String()
	}
	return out, nil
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
	return cmdline.WriteJSON(e.stdout, vs[0])
}
