package migrate_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"log/slog"
	"os"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	_ "github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// Provisioning a tenant at sign-up: the directory row, the schema and its
// tables, then activation. Running it again is harmless.
func ExampleMigrator_CreateTenant() {
	db, err := sql.Open("postgres", os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant(), Logger: slog.Default()})
	if err := m.MigratePublic(ctx); err != nil {
		log.Fatal(err)
	}
	t, err := m.CreateTenant(ctx, "acme", migrate.CreateOptions{})
	if err != nil {
		log.Fatal(err) // the tenant stays "provisioning" and is not served
	}
	fmt.Println(t.Schema, t.Status)
	// Output: tenant_acme active
}

// Migrating every tenant at deploy time, ten at a time, with a report.
func ExampleMigrator_MigrateAll() {
	db, err := sql.Open("postgres", os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant(), Concurrency: 10})
	rep, err := m.MigrateAll(context.Background(), migrate.RunOptions{
		Progress: func(p migrate.Progress) { fmt.Fprintf(os.Stderr, "%d/%d tenants\n", p.Done, p.Total) },
	})
	for _, r := range rep.Tenants { // ordered by id
		switch {
		case r.Err != nil:
			fmt.Println(r.ID, "failed:", r.Err)
		case len(r.Applied) == 0:
			fmt.Println(r.ID, "up to date")
		default:
			fmt.Println(r.ID, "applied", r.Applied)
		}
	}
	if err != nil {
		log.Fatalf("%d tenants failed: %v", rep.Failed(), err)
	}
	// Output:
	// acme up to date
	// globex up to date
}
