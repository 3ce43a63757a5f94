package tenant_test

import (
	"os"
	"testing"

	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// TestMain gives the examples a migrated database in DATABASE_URL, with the
// tenants they use: acme (ExampleRegistry_Acquire) and globex
// (ExampleMiddleware), apart so that neither sees the other's users.
func TestMain(m *testing.M) {
	os.Exit(tenanttest.Main(m, tenanttest.MainOptions{Tenants: []string{"acme", "globex"}}))
}
