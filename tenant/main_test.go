package tenant_test

import (
	"os"
	"testing"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// migs are the reference service's migrations.
var migs = tenanttest.Migrations{Public: migrations.Public(), Tenant: migrations.Tenant()}

// TestMain gives the examples a migrated database in DATABASE_URL, with the
// tenants they use: acme (ExampleRegistry_Acquire) and globex
// (ExampleMiddleware), apart so that neither sees the other's users.
func TestMain(m *testing.M) {
	os.Exit(tenanttest.Main(m, tenanttest.MainOptions{Migrations: migs, Tenants: []string{"acme", "globex"}}))
}
