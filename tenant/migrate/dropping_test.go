package migrate_test

import (
	"database/sql"
	"errors"
	"testing"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// TestCreateTenantBeingDropped: CreateTenant of a tenant whose directory row
// is dropping (a drop begun or failed midway) returns ErrDropping and
// changes nothing; after DropTenant finishes, the id can be created again.
func TestCreateTenantBeingDropped(t *testing.T) {
	forEachLevel(t, testCreateTenantBeingDropped)
}

func testCreateTenantBeingDropped(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	cfg, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	migs.NewTenant(t, cfg, "acme")
	if _, err := db.ExecContext(t.Context(), "UPDATE public.tenants SET status = 'dropping' WHERE id = 'acme'"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateTenant(t.Context(), "acme", migrate.CreateOptions{}); !errors.Is(err, migrate.ErrDropping) {
		t.Fatalf("CreateTenant of a tenant being dropped: error = %v; want ErrDropping", err)
	}
	var status string
	if err := db.QueryRowContext(t.Context(), "SELECT status FROM public.tenants WHERE id = 'acme'").Scan(&status); err != nil || status != "dropping" {
		t.Errorf("status after the refused create = %q, %v; want dropping", status, err)
	}
	if err := m.DropTenant(t.Context(), "acme"); err != nil {
		t.Fatalf("DropTenant: %v", err)
	}
	tn, err := m.CreateTenant(t.Context(), "acme", migrate.CreateOptions{})
	if err != nil || tn.Status != "active" {
		t.Fatalf("CreateTenant after the drop = %+v, %v; want active", tn, err)
	}
}
