package migrate_test

import (
	"database/sql"
	"testing"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"github.com/pgtenant/pgtenant/tenant/migrate"

	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// A session that resolved its search_path while the tenant's schema did not
// exist caches the schema as missing. When such a session waits for the
// schema's lock while another creates the schema, it must see the schema
// once it holds the lock instead of creating it a second time.
func TestCreateAfterWaitingSeesTheNewSchema(t *testing.T) {
	forEachLevel(t, testCreateAfterWaitingSeesTheNewSchema)
}

func testCreateAfterWaitingSeesTheNewSchema(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	cfg := tenanttest.NewDatabase(t, tenanttest.DefaultIsolation(level))
	other := tenanttest.Open(t, cfg)
	cfg.Runtime = map[string]string{"search_path": "tenant_acme"}
	db := tenanttest.Open(t, cfg)
	db.SetMaxOpenConns(1)
	ctx := t.Context()
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	if err := m.MigratePublic(ctx); err != nil {
		t.Fatal(err)
	}
	// Resolve the search_path on the migrator's only connection.
	if _, err := db.ExecContext(ctx, "SELECT to_regclass('users')"); err != nil {
		t.Fatal(err)
	}

	holder, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrate.LockKey("tenant_acme")); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.ExecContext(ctx, "CREATE SCHEMA tenant_acme"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := m.CreateTenant(ctx, "acme", migrate.CreateOptions{})
		done <- err
	}()
	// Commit only once CreateTenant waits for the lock.
	for waiting := false; !waiting; {
		err := other.QueryRowContext(ctx, "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)").Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			t.Fatalf("CreateTenant returned %v before waiting for the lock", err)
		default:
		}
	}
	if err := holder.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("CreateTenant after waiting for the lock: %v", err)
	}
}
