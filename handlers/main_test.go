package handlers_test

import (
	"os"
	"testing"

	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// TestMain gives the examples a migrated database, without tenants, in
// DATABASE_URL. The package's other tests make their own databases.
func TestMain(m *testing.M) {
	os.Exit(tenanttest.Main(m, tenanttest.MainOptions{}))
}
