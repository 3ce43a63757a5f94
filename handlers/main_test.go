package handlers_test

import (
	"os"
	"testing"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// migs are the reference service's migrations.
var migs = tenanttest.Migrations{Public: migrations.Public(), Tenant: migrations.Tenant()}

// TestMain gives the examples a migrated database, without tenants, in
// DATABASE_URL. The package's other tests make their own databases.
func TestMain(m *testing.M) {
	os.Exit(tenanttest.Main(m, tenanttest.MainOptions{Migrations: migs}))
}
