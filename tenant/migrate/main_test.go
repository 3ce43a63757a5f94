package migrate_test

import (
	"context"
	"database/sql"
	"os"
	"testing"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// migs are the reference service's migrations.
var migs = tenanttest.Migrations{Public: migrations.Public(), Tenant: migrations.Tenant()}

// TestMain gives the examples a migrated database in DATABASE_URL with the
// plan pro and the tenants acme and globex. ExampleMigrator_CreateTenant
// provisions acme again (it is idempotent), so ExampleMigrator_MigrateAll
// finds the same two tenants whichever examples run, and in any order.
func TestMain(m *testing.M) {
	os.Exit(tenanttest.Main(m, tenanttest.MainOptions{Migrations: migs,
		Tenants: []string{"acme", "globex"},
		Setup: func(ctx context.Context, db *sql.DB) error {
			_, err := db.ExecContext(ctx, "INSERT INTO public.plans (name) VALUES ('pro')")
			return err
		},
	}))
}
