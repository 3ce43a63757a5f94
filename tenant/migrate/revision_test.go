package migrate_test

import (
	"database/sql"
	"testing"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// directoryRevision reads the revision of tenant id's directory row ("" for NULL).
func directoryRevision(t *testing.T, db *sql.DB, id string) string {
	t.Helper()
	var rev sql.NullString
	if err := db.QueryRowContext(t.Context(), "SELECT revision FROM public.tenants WHERE id = $1", id).Scan(&rev); err != nil {
		t.Fatal(err)
	}
	return rev.String
}

// TestRevisionIsRecordedWithTheMigration: creating or migrating a tenant
// records the track's latest migration in its directory row, and
// TenantsBehind counts, in one query, the tenants a newer track would not
// serve until MigrateAll has run.
func TestRevisionIsRecordedWithTheMigration(t *testing.T) {
	forEachLevel(t, testRevisionIsRecordedWithTheMigration)
}

func testRevisionIsRecordedWithTheMigration(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	ctx := t.Context()
	old := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: tenantTrack(t, false)})
	for _, id := range []string{"a", "b", "c"} {
		if _, err := old.CreateTenant(ctx, id, migrate.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := directoryRevision(t, db, id); got != old.Revision() || got == "" {
			t.Errorf("revision of %s after CreateTenant = %q; want %q", id, got, old.Revision())
		}
	}
	if n, err := old.TenantsBehind(ctx); n != 0 || err != nil {
		t.Errorf("TenantsBehind with the track they were created with = %d, %v; want 0", n, err)
	}
	// A row being dropped does not count.
	addToDirectory(t, db, "gone")
	if _, err := db.ExecContext(ctx, "UPDATE public.tenants SET status = 'dropping' WHERE id = 'gone'"); err != nil {
		t.Fatal(err)
	}

	next := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: tenantTrack(t, true)})
	if next.Revision() != "99990101000000_nickname" {
		t.Fatalf("Revision() = %q; want the extra migration", next.Revision())
	}
	if n, err := next.TenantsBehind(ctx); n != 3 || err != nil {
		t.Errorf("TenantsBehind after a new migration = %d, %v; want 3", n, err)
	}
	if _, err := next.MigrateTenant(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got := directoryRevision(t, db, "a"); got != next.Revision() {
		t.Errorf("revision of a after MigrateTenant = %q; want %q", got, next.Revision())
	}
	if n, _ := next.TenantsBehind(ctx); n != 2 {
		t.Errorf("TenantsBehind after migrating a = %d; want 2", n)
	}
	if _, err := next.MigrateAll(ctx, migrate.RunOptions{IDs: []string{"b", "c"}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := next.TenantsBehind(ctx); n != 0 {
		t.Errorf("TenantsBehind after MigrateAll = %d; want 0", n)
	}
	// An older binary migrating the tenant does not lower its revision.
	if _, err := old.MigrateTenant(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got := directoryRevision(t, db, "a"); got != next.Revision() {
		t.Errorf("revision of a after an older release migrated it = %q; want %q kept", got, next.Revision())
	}
}

// TestLatestRevision: the value a server passes as tenant.Options.Revision
// is the Migrator's.
func TestLatestRevision(t *testing.T) {
	got, err := migrate.LatestRevision(migrations.Tenant())
	if err != nil {
		t.Fatal(err)
	}
	if want := migrate.New(nil, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()}).Revision(); got != want || got == "" {
		t.Errorf("LatestRevision(migrations.Tenant()) = %q; want %q", got, want)
	}
	if got, _ := migrate.LatestRevision(tenantTrack(t, true)); got != "99990101000000_nickname" {
		t.Errorf("LatestRevision(track with an extra file) = %q", got)
	}
}
