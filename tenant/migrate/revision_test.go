package migrate_test

import (
	"database/sql"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"
	"github.com/pgtenant/pgtenant/tenant/migrate"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
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
	t.Parallel()
	_, db := newDB(t)
	ctx := t.Context()
	old := migrate.New(db, migrate.Options{Tenant: tenantTrack(t, false)})
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

	next := migrate.New(db, migrate.Options{Tenant: tenantTrack(t, true)})
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
	got, err := migrate.LatestRevision(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := migrate.New(nil, migrate.Options{}).Revision(); got != want || got == "" {
		t.Errorf("LatestRevision(nil) = %q; want %q", got, want)
	}
	if got, _ := migrate.LatestRevision(tenantTrack(t, true)); got != "99990101000000_nickname" {
		t.Errorf("LatestRevision(track with an extra file) = %q", got)
	}
}

// TestRevisionBackfill: the public migration that adds the revision column
// fills it in for the tenants that existed before, from their revision
// tables, so that upgrading does not stop serving them.
func TestRevisionBackfill(t *testing.T) {
	t.Parallel()
	db := tenanttest.Open(t, tenanttest.NewDatabase(t))
	ctx := t.Context()
	if pending, err := migrate.New(db, migrate.Options{}).PublicPending(ctx); err != nil || len(pending) < 2 {
		t.Errorf("PublicPending of an empty database = %v, %v; want every public migration", pending, err)
	}
	all, err := fs.Glob(migrations.Public(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	// public as the first release left it: its first migration only.
	first := fstest.MapFS{}
	b, _ := fs.ReadFile(migrations.Public(), all[0])
	first[all[0]] = &fstest.MapFile{Data: b}
	if err := migrate.New(db, migrate.Options{Public: first}).MigratePublic(ctx); err != nil {
		t.Fatal(err)
	}
	// Two tenants as that release made them: migrated, and never migrated.
	if _, err := db.ExecContext(ctx, "INSERT INTO public.tenants (id, schema_name, status) VALUES ('old', 'tenant_old', 'active'), ('bare', 'tenant_bare', 'provisioning')"); err != nil {
		t.Fatal(err)
	}
	m := migrate.New(db, migrate.Options{})
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA tenant_old; CREATE TABLE tenant_old.schema_migrations (version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO tenant_old.schema_migrations (version, checksum) VALUES ($1, 'x')", m.Revision()); err != nil {
		t.Fatal(err)
	}
	pending, err := m.PublicPending(ctx)
	if pub, _ := m.Versions(); err != nil || len(pending) != len(pub)-1 || pending[0] != pub[1] {
		t.Errorf("PublicPending after the first release = %v, %v; want every migration but the first of %v", pending, err, pub)
	}
	if err := m.MigratePublic(ctx); err != nil {
		t.Fatal(err)
	}
	if pending, err := m.PublicPending(ctx); len(pending) != 0 || err != nil {
		t.Errorf("PublicPending after MigratePublic = %v, %v; want none", pending, err)
	}
	if got := directoryRevision(t, db, "old"); got != m.Revision() {
		t.Errorf("revision of a migrated tenant after the upgrade = %q; want %q", got, m.Revision())
	}
	if got := directoryRevision(t, db, "bare"); got != "" {
		t.Errorf("revision of a tenant never migrated = %q; want none", got)
	}
	if n, err := m.TenantsBehind(ctx); n != 1 || err != nil {
		t.Errorf("TenantsBehind = %d, %v; want 1 (bare)", n, err)
	}
}
