package tenanttest_test

import (
	"testing"

	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

func TestMigrationsNewDatabaseAndNewTenant(t *testing.T) {
	t.Parallel()
	a, b := migs.NewDatabase(t), migs.NewDatabase(t)
	if a.Database == b.Database {
		t.Fatalf("Migrations.NewDatabase returned %q twice", a.Database)
	}
	db := tenanttest.Open(t, a)
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM public.tenants").Scan(&n); err != nil || n != 0 {
		t.Fatalf("public.tenants: %d rows, %v; want an empty directory", n, err)
	}
	if s := migs.NewTenant(t, a, "acme"); s != "tenant_acme" {
		t.Errorf("NewTenant = %q; want tenant_acme", s)
	}
	var status string
	if err := db.QueryRowContext(t.Context(), "SELECT status FROM public.tenants WHERE id = 'acme'").Scan(&status); err != nil || status != "active" {
		t.Errorf("acme status = %q, %v; want active", status, err)
	}
	if _, err := db.ExecContext(t.Context(), "INSERT INTO tenant_acme.users (email, name) VALUES ('a@example.com', 'A')"); err != nil {
		t.Errorf("tenant schema not usable: %v", err)
	}
	// The other database is untouched.
	other := tenanttest.Open(t, b)
	if err := other.QueryRowContext(t.Context(), "SELECT count(*) FROM public.tenants").Scan(&n); err != nil || n != 0 {
		t.Errorf("second database: %d tenants, %v; want 0", n, err)
	}
}

// A test that needs a provisioned tenant: a fresh database with public
// migrated, then the tenant, both gone when the test ends.
//
// This example only compiles: NewTenant needs the *testing.T of a running
// test, which an example has no way to get (testing.TB cannot be
// implemented outside package testing). TestMigrationsNewDatabaseAndNewTenant
// runs the same steps, and ExampleMigrations_CreateDatabase runs.
func ExampleMigrations_NewTenant() {
	_ = func(t *testing.T) {
		cfg := migs.NewDatabase(t)
		schema := migs.NewTenant(t, cfg, "acme") // "tenant_acme", status active
		db := tenanttest.Open(t, cfg)
		_, err := db.ExecContext(t.Context(), "INSERT INTO "+schema+".users (email, name) VALUES ('a@example.com', 'A')")
		if err != nil {
			t.Fatal(err)
		}
	}
}
