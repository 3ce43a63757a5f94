package command

import (
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

func TestMigrateCommandReportsAFailingTenant(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	db := tenanttest.Open(t, cfg)
	for _, id := range []string{"a", "broken", "c"} {
		if _, err := db.ExecContext(t.Context(), "INSERT INTO public.tenants (id, schema_name, status) VALUES ($1, $2, 'active')", id, "tenant_"+id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(t.Context(), "CREATE SCHEMA tenant_broken; CREATE TABLE tenant_broken.notes (x int)"); err != nil {
		t.Fatal(err)
	}
	cli := newAdminCLI(t, cfg)

	out, _, err := cli.run("migrate", "--all", "--dry-run", "--json")
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if !strings.Contains(out, `"pending"`) || strings.Contains(out, `"error"`) {
		t.Errorf("dry run report:\n%s", out)
	}
	var n int
	db.QueryRowContext(t.Context(), "SELECT count(*) FROM pg_namespace WHERE nspname IN ('tenant_a', 'tenant_c')").Scan(&n)
	if n != 0 {
		t.Fatalf("dry run created %d schemas", n)
	}

	out, _, err = cli.run("migrate", "--all", "--concurrency", "2", "--json")
	if err == nil {
		t.Fatal("migrate --all with a failing tenant returned nil")
	}
	var rep struct {
		Tenants []struct {
			ID      string
			Applied []string
			Error   string
		}
		Summary struct{ Total, Succeeded, Failed int }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	if rep.Summary.Failed != 1 || rep.Summary.Succeeded != 2 {
		t.Errorf("summary = %+v; want 2 succeeded, 1 failed", rep.Summary)
	}
	for _, r := range rep.Tenants {
		if (r.Error != "") != (r.ID == "broken") || (r.ID != "broken" && len(r.Applied) == 0) {
			t.Errorf("tenant %s: applied %v, error %q", r.ID, r.Applied, r.Error)
		}
	}
	// The text report names the tenant too.
	out, _, err = cli.run("migrate", "--tenants", "broken,a")
	if err == nil || !strings.Contains(out, "broken") || !strings.Contains(out, "1 failed") {
		t.Errorf("migrate --tenants broken,a = %v\n%s", err, out)
	}
	if out, _, err := cli.run("migrate", "--tenant", "a"); err != nil || !strings.Contains(out, "1 succeeded") {
		t.Errorf("migrate --tenant a = %v\n%s", err, out)
	}
}

func TestAdminCommandsRejectHostileIDs(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: reaching the database would be a different error.
	cli := adminCLI{t: t, url: "postgres://nobody@127.0.0.1:1/x?sslmode=disable&connect_timeout=1"}
	for _, id := range []string{"Acme", "a;DROP SCHEMA public CASCADE", `a"b`, "a,public", "../etc", strings.Repeat("x", 60)} {
		for _, args := range [][]string{
			{"migrate", "--tenant", id},
			{"migrate", "--tenants", "ok," + strings.ReplaceAll(id, ",", "/")},
			{"tenant", "create", id},
			{"tenant", "drop", id, "--force"},
			{"tenant", "drop", id},
		} {
			_, _, err := cli.run(args...)
			if !errors.Is(err, tenant.ErrInvalidID) {
				t.Errorf("%q error = %v; want ErrInvalidID", args, err)
			}
		}
	}
}

func TestMigrateCommandNeedsASelection(t *testing.T) {
	t.Parallel()
	cli := adminCLI{t: t, url: "postgres://nobody@127.0.0.1:1/x?sslmode=disable"}
	for _, args := range [][]string{{"migrate"}, {"migrate", "--all", "--tenant", "a"}, {"tenant"}, {"tenant", "create"}} {
		if _, _, err := cli.run(args...); err == nil {
			t.Errorf("%q succeeded; want a usage error", args)
		}
	}
}

// A tenant being dropped is reported skipped, in the JSON report and the
// summary line, and does not fail the run.
func TestMigrateCommandReportsASkippedTenant(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	migs.NewTenant(t, cfg, "a")
	migs.NewTenant(t, cfg, "leaving")
	db := tenanttest.Open(t, cfg)
	if _, err := db.ExecContext(t.Context(), "UPDATE public.tenants SET status = 'dropping' WHERE id = 'leaving'"); err != nil {
		t.Fatal(err)
	}
	cli := newAdminCLI(t, cfg)
	out, _, err := cli.run("migrate", "--all", "--json")
	if err != nil {
		t.Fatalf("migrate --all --json: %v\n%s", err, out)
	}
	var rep struct {
		Tenants []struct{ ID, Status, Skipped string }
		Summary struct{ Total, Succeeded, Skipped, Failed int }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	want := map[string]string{"a": "ok/", "leaving": "skipped/being dropped"}
	for _, r := range rep.Tenants {
		if got := r.Status + "/" + r.Skipped; got != want[r.ID] {
			t.Errorf("tenant %s: status/skipped = %q; want %q", r.ID, got, want[r.ID])
		}
	}
	if s := rep.Summary; s.Total != 2 || s.Succeeded != 1 || s.Skipped != 1 || s.Failed != 0 {
		t.Errorf("summary = %+v; want 2 in all, 1 succeeded, 1 skipped", s)
	}
	out, _, err = cli.run("migrate", "--all")
	if err != nil || !strings.Contains(out, "skipped: tenant being dropped") || !strings.Contains(out, "1 succeeded, 1 skipped, 0 failed") {
		t.Errorf("migrate --all = %v\n%s", err, out)
	}
}

// --lock-timeout bounds the waits of migrate and tenant create for a lock
// that another transaction holds: the tenant fails with a message that says
// so, instead of the command hanging.
func TestLockTimeoutFlag(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	migs.NewTenant(t, cfg, "busy")
	migs.NewTenant(t, cfg, "free")
	db := tenanttest.Open(t, cfg)
	cli := newAdminCLI(t, cfg)
	for _, args := range [][]string{{"migrate", "--all"}, {"tenant", "create", "newco"}} {
		if _, _, err := cli.run(append(args, "--lock-timeout", "-1s")...); err == nil || !strings.Contains(err.Error(), "--lock-timeout") {
			t.Errorf("%s --lock-timeout -1s = %v; want an error naming --lock-timeout", args, err)
		}
	}
	// Every table of busy's schema (which busy's migrations lock) is held.
	blocker := holdLocks(t, db, "LOCK TABLE tenant_busy.schema_migrations IN ACCESS EXCLUSIVE MODE")
	out, _, err := cli.run("migrate", "--tenants", "busy,free", "--lock-timeout", "50ms", "--json")
	if err == nil {
		t.Errorf("migrate with busy locked succeeded\n%s", out)
	}
	var rep struct {
		Tenants []struct{ ID, Status, Error string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	for _, r := range rep.Tenants {
		switch {
		case r.ID == "busy" && (r.Status != "failed" || !strings.Contains(r.Error, "lock timeout")):
			t.Errorf("busy: status %s, error %q; want failed by the lock timeout", r.Status, r.Error)
		case r.ID == "free" && r.Status != "ok":
			t.Errorf("free: status %s, error %q; want ok", r.Status, r.Error)
		}
	}
	blocker.Rollback()
	// The directory row of busy, which tenant create updates. (On Citus,
	// where the directory is a reference table, such a lock holds every
	// write to the directory, so it is taken only now.)
	blocker = holdLocks(t, db, "SELECT FROM public.tenants WHERE id = 'busy' FOR UPDATE")
	defer blocker.Rollback()
	if _, _, err := cli.run("tenant", "create", "busy", "--lock-timeout", "50ms"); err == nil || !strings.Contains(err.Error(), "lock timeout") {
		t.Errorf("tenant create busy = %v; want a lock timeout", err)
	}
}

// holdLocks runs stmt in a transaction it returns open, rolled back at the
// latest when t ends.
func holdLocks(t *testing.T, db *sql.DB, stmt string) *sql.Tx {
	t.Helper()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	if _, err := tx.ExecContext(t.Context(), stmt); err != nil {
		t.Fatal(err)
	}
	return tx
}
