package migrate_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// tracks returns the embedded tenant track plus, if extra, a second
// migration adding a column, so partial tenants can be built.
func tenantTrack(t *testing.T, extra bool) fs.FS {
	t.Helper()
	files, err := fs.Glob(migrations.Tenant(), "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded tenant migrations: %v %v", files, err)
	}
	m := fstest.MapFS{}
	for _, f := range files {
		b, _ := fs.ReadFile(migrations.Tenant(), f)
		m[f] = &fstest.MapFile{Data: b}
	}
	if extra {
		m["99990101000000_nickname.sql"] = &fstest.MapFile{Data: []byte("ALTER TABLE users ADD COLUMN nickname text;\n")}
	}
	return m
}

// newDBAt returns a database whose public schema is migrated and whose
// default transaction isolation is level.
func newDBAt(t *testing.T, level sql.IsolationLevel) (pq.Config, *sql.DB) {
	t.Helper()
	cfg := migs.NewDatabase(t, tenanttest.DefaultIsolation(level))
	db := tenanttest.Open(t, cfg)
	db.SetMaxOpenConns(20)
	return cfg, db
}

// levels are the defaults of default_transaction_isolation under which every
// test of the migrator runs: a server configured for repeatable read or
// serializable must not change what the migrator does.
var levels = []sql.IsolationLevel{sql.LevelDefault, sql.LevelRepeatableRead, sql.LevelSerializable}

// forEachLevel runs test as a subtest per default isolation level of the
// database, named after the level; test calls t.Parallel itself.
func forEachLevel(t *testing.T, test func(t *testing.T, level sql.IsolationLevel)) {
	t.Helper()
	t.Parallel()
	for _, level := range levels {
		t.Run(strings.ReplaceAll(strings.ToLower(level.String()), " ", "_"), func(t *testing.T) { test(t, level) })
	}
}

// addToDirectory inserts directory rows without creating schemas.
func addToDirectory(t *testing.T, db *sql.DB, ids ...string) {
	t.Helper()
	for _, id := range ids {
		_, err := db.ExecContext(t.Context(), "INSERT INTO public.tenants (id, schema_name, status) VALUES ($1, $2, 'active')", id, "tenant_"+id)
		if err != nil {
			t.Fatal(err)
		}
	}
}

func revisions(t *testing.T, db *sql.DB, schema string) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT version FROM "+pq.QuoteIdentifier(schema)+".schema_migrations ORDER BY version")
	if err != nil {
		t.Fatalf("revisions of %s: %v", schema, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		rows.Scan(&v)
		out = append(out, v)
	}
	return out
}

func schemaExists(t *testing.T, db *sql.DB, schema string) bool {
	t.Helper()
	var ok bool
	if err := db.QueryRowContext(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func byID(rep *migrate.Report) map[string]migrate.Result {
	m := map[string]migrate.Result{}
	for _, r := range rep.Tenants {
		m[r.ID] = r
	}
	return m
}

func TestMigrateAllFreshPartialAndUpToDate(t *testing.T) {
	forEachLevel(t, testMigrateAllFreshPartialAndUpToDate)
}

func testMigrateAllFreshPartialAndUpToDate(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	v1 := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: tenantTrack(t, false)})
	v2 := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: tenantTrack(t, true)})
	_, all := v2.Versions()
	addToDirectory(t, db, "fresh", "partial", "current")
	if _, err := v1.MigrateTenant(t.Context(), "partial"); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.MigrateTenant(t.Context(), "current"); err != nil {
		t.Fatal(err)
	}

	var progress []migrate.Progress
	rep, err := v2.MigrateAll(t.Context(), migrate.RunOptions{Progress: func(p migrate.Progress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatalf("MigrateAll: %v", err)
	}
	got := byID(rep)
	want := map[string][]string{"fresh": all, "partial": all[1:], "current": nil}
	for id, w := range want {
		if r := got[id]; r.Err != nil || !slices.Equal(r.Applied, w) {
			t.Errorf("tenant %s: applied %v, err %v; want %v", id, r.Applied, r.Err, w)
		}
		if rev := revisions(t, db, "tenant_"+id); !slices.Equal(rev, all) {
			t.Errorf("tenant %s revisions = %v; want %v", id, rev, all)
		}
	}
	if len(progress) != 3 || progress[2].Done != 3 || progress[2].Total != 3 {
		t.Errorf("progress = %+v; want 3 calls ending at 3/3", progress)
	}
	if _, err := db.ExecContext(t.Context(), "SELECT nickname FROM tenant_fresh.users"); err != nil {
		t.Errorf("second migration not applied: %v", err)
	}
	// A second run applies nothing.
	rep, err = v2.MigrateAll(t.Context(), migrate.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Tenants {
		if len(r.Applied) != 0 {
			t.Errorf("rerun applied %v to %s", r.Applied, r.ID)
		}
	}
}

// A run with nothing to do reads the revisions in bulk and opens no
// transaction for an up-to-date tenant; a tenant whose directory row lags
// its schema, one with a pending migration and one with a drifted
// checksum still get their own, under their lock.
func TestMigrateAllSkipsUpToDateTenantsInBulk(t *testing.T) {
	forEachLevel(t, testMigrateAllSkipsUpToDateTenantsInBulk)
}

func testMigrateAllSkipsUpToDateTenantsInBulk(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	cfg, db := newDBAt(t, level)
	ids := []string{"current1", "current2", "drifted", "lagging", "pending"}
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: tenantTrack(t, true)})
	for _, id := range ids {
		migs.NewTenant(t, cfg, id)
		if id == "pending" {
			continue
		}
		if _, err := m.MigrateTenant(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	var locked []string
	migrate.SetBeforeLock(m, func(id string) { locked = append(locked, id) })
	for _, q := range []string{
		"UPDATE public.tenants SET revision = NULL WHERE id = 'lagging'",
		"UPDATE tenant_drifted.schema_migrations SET checksum = 'tampered'",
	} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := m.MigrateAll(t.Context(), migrate.RunOptions{Concurrency: 1})
	if !errors.Is(err, migrate.ErrDrift) {
		t.Fatalf("MigrateAll error = %v; want ErrDrift from drifted", err)
	}
	slices.Sort(locked)
	if want := []string{"drifted", "lagging", "pending"}; !slices.Equal(locked, want) {
		t.Errorf("tenants checked under their lock = %v; want %v", locked, want)
	}
	got := byID(rep)
	for _, id := range []string{"current1", "current2", "lagging"} {
		if r := got[id]; r.Outcome() != migrate.OutcomeOK || len(r.Applied) != 0 {
			t.Errorf("%s: outcome %s, applied %v, err %v; want ok, nothing applied", id, r.Outcome(), r.Applied, r.Err)
		}
	}
	if r := got["pending"]; r.Outcome() != migrate.OutcomeOK || len(r.Applied) != 1 {
		t.Errorf("pending: outcome %s, applied %v, err %v; want ok with one migration", r.Outcome(), r.Applied, r.Err)
	}
	if r := got["drifted"]; !errors.Is(r.Err, migrate.ErrDrift) {
		t.Errorf("drifted: err %v; want ErrDrift", r.Err)
	}
	var rev sql.NullString
	if err := db.QueryRowContext(t.Context(), "SELECT revision FROM public.tenants WHERE id = 'lagging'").Scan(&rev); err != nil {
		t.Fatal(err)
	}
	if rev.String != m.Revision() {
		t.Errorf("lagging's directory revision = %q; want %q", rev.String, m.Revision())
	}
}

func TestMigrateAllContinuesPastAFailingTenant(t *testing.T) {
	forEachLevel(t, testMigrateAllContinuesPastAFailingTenant)
}

func testMigrateAllContinuesPastAFailingTenant(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	addToDirectory(t, db, "a", "broken", "c")
	// A conflicting object makes the first tenant migration fail.
	if _, err := db.ExecContext(t.Context(), "CREATE SCHEMA tenant_broken; CREATE TABLE tenant_broken.users (x int)"); err != nil {
		t.Fatal(err)
	}
	rep, err := m.MigrateAll(t.Context(), migrate.RunOptions{Concurrency: 2})
	if err == nil || !strings.Contains(err.Error(), `"broken"`) {
		t.Fatalf("MigrateAll error = %v; want one naming tenant broken", err)
	}
	if rep.Failed() != 1 {
		t.Errorf("Failed() = %d; want 1", rep.Failed())
	}
	got := byID(rep)
	if got["broken"].Err == nil {
		t.Error("broken tenant reported no error")
	}
	for _, id := range []string{"a", "c"} {
		if got[id].Err != nil || len(got[id].Applied) == 0 {
			t.Errorf("tenant %s: applied %v, err %v; want migrated", id, got[id].Applied, got[id].Err)
		}
	}
	// The failed tenant's transaction left nothing behind.
	var n int
	db.QueryRowContext(t.Context(), "SELECT count(*) FROM pg_tables WHERE schemaname = 'tenant_broken'").Scan(&n)
	if n != 1 {
		t.Errorf("broken tenant has %d tables; want only the conflicting one", n)
	}
}

func TestConcurrentMigrateAllNeverFailsNorDoubleApplies(t *testing.T) {
	forEachLevel(t, testConcurrentMigrateAllNeverFailsNorDoubleApplies)
}

func testConcurrentMigrateAllNeverFailsNorDoubleApplies(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	cfg, db := newDBAt(t, level)
	var ids []string
	for i := range 20 {
		ids = append(ids, "t"+strconv.Itoa(i))
	}
	addToDirectory(t, db, ids...)
	reps := make([]*migrate.Report, 2)
	var wg sync.WaitGroup
	for i := range reps {
		wg.Go(func() {
			// Separate pools, as separate processes would have.
			own := tenanttest.Open(t, cfg)
			rep, err := migrate.New(own, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant(), Concurrency: 4}).MigrateAll(t.Context(), migrate.RunOptions{})
			if err != nil {
				t.Errorf("MigrateAll %d: %v", i, err)
			}
			reps[i] = rep
		})
	}
	wg.Wait()
	_, all := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()}).Versions()
	for _, id := range ids {
		n := 0
		for _, rep := range reps {
			n += len(byID(rep)[id].Applied)
		}
		if n != len(all) {
			t.Errorf("tenant %s: %d migrations applied by both runs together; want %d", id, n, len(all))
		}
		if rev := revisions(t, db, "tenant_"+id); !slices.Equal(rev, all) {
			t.Errorf("tenant %s revisions = %v; want %v", id, rev, all)
		}
	}
}

func TestConcurrentCreateTenantOfOneID(t *testing.T) {
	forEachLevel(t, testConcurrentCreateTenantOfOneID)
}

func testConcurrentCreateTenantOfOneID(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	cfg, db := newDBAt(t, level)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			own := tenanttest.Open(t, cfg)
			tn, err := migrate.New(own, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()}).CreateTenant(t.Context(), "acme", migrate.CreateOptions{})
			if err != nil {
				t.Errorf("CreateTenant: %v", err)
				return
			}
			if tn.ID != "acme" || tn.Schema != "tenant_acme" || tn.Status != "active" {
				t.Errorf("CreateTenant = %+v; want acme, tenant_acme, active", tn)
			}
		})
	}
	wg.Wait()
	var n int
	db.QueryRowContext(t.Context(), "SELECT count(*) FROM public.tenants WHERE id = 'acme' AND status = 'active'").Scan(&n)
	if n != 1 {
		t.Errorf("%d active directory rows for acme; want 1", n)
	}
	_, all := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()}).Versions()
	if rev := revisions(t, db, "tenant_acme"); !slices.Equal(rev, all) {
		t.Errorf("revisions = %v; want %v", rev, all)
	}
}

func TestCreateTenantFailureIsReportedAndRepairedByRerun(t *testing.T) {
	forEachLevel(t, testCreateTenantFailureIsReportedAndRepairedByRerun)
}

func testCreateTenantFailureIsReportedAndRepairedByRerun(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	if _, err := db.ExecContext(t.Context(), "CREATE SCHEMA tenant_acme; CREATE TABLE tenant_acme.posts (x int)"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateTenant(t.Context(), "acme", migrate.CreateOptions{}); err == nil || !strings.Contains(err.Error(), `"acme"`) {
		t.Fatalf("CreateTenant error = %v; want a failure naming acme", err)
	}
	var status string
	db.QueryRowContext(t.Context(), "SELECT status FROM public.tenants WHERE id = 'acme'").Scan(&status)
	if status != "provisioning" {
		t.Fatalf("status after failure = %q; want provisioning", status)
	}
	if _, err := db.ExecContext(t.Context(), "DROP TABLE tenant_acme.posts"); err != nil {
		t.Fatal(err)
	}
	tn, err := m.CreateTenant(t.Context(), "acme", migrate.CreateOptions{})
	if err != nil || tn.Status != "active" {
		t.Fatalf("CreateTenant rerun = %v, %v; want active", tn, err)
	}
}

func TestCreateTenantPlan(t *testing.T) { forEachLevel(t, testCreateTenantPlan) }

func testCreateTenantPlan(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	var pro string
	if err := db.QueryRowContext(t.Context(), "INSERT INTO public.plans (name) VALUES ('pro') RETURNING id").Scan(&pro); err != nil {
		t.Fatal(err)
	}
	// Then writes the service's own row in the activating transaction.
	link := func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO public.tenant_plans (tenant_id, plan_id) VALUES ('acme', $1) ON CONFLICT (tenant_id) DO UPDATE SET plan_id = excluded.plan_id", pro)
		return err
	}
	if tn, err := m.CreateTenant(t.Context(), "acme", migrate.CreateOptions{Then: link}); err != nil || tn.Status != "active" {
		t.Fatalf("CreateTenant with Then = %+v, %v; want active", tn, err)
	}
	var plan string
	if err := db.QueryRowContext(t.Context(), "SELECT plan_id FROM public.tenant_plans WHERE tenant_id = 'acme'").Scan(&plan); err != nil || plan != pro {
		t.Errorf("plan of acme = %q, %v; want %s", plan, err, pro)
	}
	// A failing Then rolls back the schema and the activation.
	boom := errors.New("boom")
	_, err := m.CreateTenant(t.Context(), "other", migrate.CreateOptions{Then: func(context.Context, *sql.Tx) error { return boom }})
	if !errors.Is(err, boom) {
		t.Errorf("CreateTenant with a failing Then: %v; want boom", err)
	}
	if schemaExists(t, db, "tenant_other") {
		t.Error("a failing Then still created the schema")
	}
	tn, err := m.GetTenant(t.Context(), "other")
	if err != nil || tn.Status != "provisioning" {
		t.Errorf("GetTenant(other) = %+v, %v; want provisioning", tn, err)
	}
}

func TestDriftIsReportedNotRerun(t *testing.T) { forEachLevel(t, testDriftIsReportedNotRerun) }

func testDriftIsReportedNotRerun(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	migs.NewTenant(t, pqCfg(t, db), "acme")
	migs.NewTenant(t, pqCfg(t, db), "fine")
	if _, err := db.ExecContext(t.Context(), "UPDATE tenant_acme.schema_migrations SET checksum = 'tampered'"); err != nil {
		t.Fatal(err)
	}
	rep, err := m.MigrateAll(t.Context(), migrate.RunOptions{})
	if !errors.Is(err, migrate.ErrDrift) {
		t.Fatalf("MigrateAll error = %v; want ErrDrift", err)
	}
	if r := byID(rep)["acme"]; !errors.Is(r.Err, migrate.ErrDrift) || len(r.Applied) != 0 {
		t.Errorf("acme: applied %v, err %v; want drift and nothing applied", r.Applied, r.Err)
	}
	if r := byID(rep)["fine"]; r.Err != nil {
		t.Errorf("fine: %v", r.Err)
	}
	st, err := m.Status(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Tenants {
		want := migrate.StateOK
		if s.ID == "acme" {
			want = migrate.StateDrift
		}
		if s.State != want {
			t.Errorf("Status %s = %s; want %s", s.ID, s.State, want)
		}
	}
}

// pqCfg recovers the test database's config from the pool (tests keep one).
func pqCfg(t *testing.T, db *sql.DB) pq.Config {
	t.Helper()
	var name string
	if err := db.QueryRowContext(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	cfg := tenanttest.ServerConfig(t)
	cfg.Database = name
	return cfg
}

func TestDryRunChangesNothing(t *testing.T) { forEachLevel(t, testDryRunChangesNothing) }

func testDryRunChangesNothing(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: tenantTrack(t, true)})
	addToDirectory(t, db, "fresh", "partial")
	if _, err := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()}).MigrateTenant(t.Context(), "partial"); err != nil {
		t.Fatal(err)
	}
	_, all := m.Versions()
	rep, err := m.MigrateAll(t.Context(), migrate.RunOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	got := byID(rep)
	if !slices.Equal(got["fresh"].Pending, all) || !slices.Equal(got["partial"].Pending, all[1:]) {
		t.Errorf("pending fresh %v, partial %v; want %v and %v", got["fresh"].Pending, got["partial"].Pending, all, all[1:])
	}
	if schemaExists(t, db, "tenant_fresh") {
		t.Error("dry run created tenant_fresh")
	}
	if rev := revisions(t, db, "tenant_partial"); !slices.Equal(rev, all[:1]) {
		t.Errorf("dry run changed partial's revisions to %v", rev)
	}
}

// listenDirectory listens on tenant.DirectoryChannel of cfg's database.
func listenDirectory(t *testing.T, cfg pq.Config) *pq.Listener {
	t.Helper()
	l := pq.NewListener(tenanttest.URL(cfg), time.Second, time.Second, nil)
	t.Cleanup(func() { l.Close() })
	if err := l.Listen(tenant.DirectoryChannel); err != nil {
		t.Fatal(err)
	}
	return l
}

// nextNotification returns the payload of the next directory notification.
func nextNotification(t *testing.T, l *pq.Listener) string {
	t.Helper()
	select {
	case n := <-l.NotificationChannel():
		if n == nil {
			t.Fatal("listener reconnected: notifications may be lost")
		}
		return n.Extra
	case <-t.Context().Done():
		t.Fatal("no notification")
	}
	return ""
}

// TestCreateTenantAnnouncesActivationOnce proves a repeated CreateTenant of
// an active tenant is silent, so registries keep its pool. Notifications
// arrive in commit order: a new tenant's row is announced when inserted and
// when activated; after the repeat, the next one must be the marker
// tenant's.
func TestCreateTenantAnnouncesActivationOnce(t *testing.T) {
	forEachLevel(t, testCreateTenantAnnouncesActivationOnce)
}

func testCreateTenantAnnouncesActivationOnce(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	cfg, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	l := listenDirectory(t, cfg)
	ctx := t.Context()

	if _, err := m.CreateTenant(ctx, "acme", migrate.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, what := range []string{"insert", "activation"} {
		if got := nextNotification(t, l); got != "acme" {
			t.Fatalf("notification of the %s = %q; want acme", what, got)
		}
	}
	if _, err := m.CreateTenant(ctx, "acme", migrate.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateTenant(ctx, "marker", migrate.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := nextNotification(t, l); got != "marker" {
		t.Errorf("notification after re-creating acme = %q; want marker (re-creating an active tenant must be silent)", got)
	}
}

func TestDropTenant(t *testing.T) { forEachLevel(t, testDropTenant) }

func testDropTenant(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	cfg, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	migs.NewTenant(t, cfg, "acme")
	migs.NewTenant(t, cfg, "keep")

	l := listenDirectory(t, cfg)

	if err := m.DropTenant(t.Context(), "acme"); err != nil {
		t.Fatalf("DropTenant: %v", err)
	}
	if schemaExists(t, db, "tenant_acme") {
		t.Error("schema tenant_acme still exists")
	}
	if !schemaExists(t, db, "tenant_keep") {
		t.Error("schema tenant_keep was dropped too")
	}
	ts, err := m.ListTenants(t.Context(), migrate.ListOptions{})
	if err != nil || len(ts) != 1 || ts[0].ID != "keep" {
		t.Errorf("ListTenants = %v, %v; want just keep", ts, err)
	}
	select {
	case n := <-l.NotificationChannel():
		if n == nil || n.Extra != "acme" {
			t.Errorf("notification = %+v; want payload acme", n)
		}
	case <-t.Context().Done():
	}
	if err := m.DropTenant(t.Context(), "acme"); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("second DropTenant error = %v; want ErrNotFound", err)
	}
}

func TestHostileIDsAreRejectedBeforeSQL(t *testing.T) {
	t.Parallel()
	// A pool to a port nothing listens on: any SQL would fail with a
	// connection error, not ErrInvalidID.
	c, err := pq.NewConnector("host=127.0.0.1 port=1 user=nobody sslmode=disable connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	ctx := t.Context()
	for _, id := range []string{"", "Acme", "a;DROP SCHEMA public", `a"b`, "a,public", "../x", strings.Repeat("a", 49), "pg_x "} {
		calls := map[string]error{
			"CreateTenant":  func() error { _, err := m.CreateTenant(ctx, id, migrate.CreateOptions{}); return err }(),
			"DropTenant":    m.DropTenant(ctx, id),
			"MigrateTenant": func() error { _, err := m.MigrateTenant(ctx, id); return err }(),
			"MigrateAll":    func() error { _, err := m.MigrateAll(ctx, migrate.RunOptions{IDs: []string{"ok", id}}); return err }(),
			"Status":        func() error { _, err := m.Status(ctx, []string{id}); return err }(),
		}
		for name, err := range calls {
			if !errors.Is(err, tenant.ErrInvalidID) {
				t.Errorf("%s(%q) error = %v; want ErrInvalidID", name, id, err)
			}
		}
	}
}

func TestStatusReadsInBulk(t *testing.T) { forEachLevel(t, testStatusReadsInBulk) }

func testStatusReadsInBulk(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	cfg, db := newDBAt(t, level)
	migs.NewTenant(t, cfg, "current")
	addToDirectory(t, db, "fresh")
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: tenantTrack(t, true)})
	pub, all := m.Versions()
	st, err := m.Status(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Public.State != migrate.StateOK || !slices.Equal(st.Public.Applied, pub) {
		t.Errorf("public = %+v; want ok with %v", st.Public, pub)
	}
	want := map[string]string{"current": fmt.Sprint(all[1:]), "fresh": fmt.Sprint(all)}
	for _, s := range st.Tenants {
		if s.State != migrate.StatePending || fmt.Sprint(s.Pending) != want[s.ID] {
			t.Errorf("status %s = %s pending %v; want pending %s", s.ID, s.State, s.Pending, want[s.ID])
		}
	}
	if sum := st.Summary(); sum[migrate.StatePending] != 2 {
		t.Errorf("Summary = %v; want 2 pending", sum)
	}
	if _, err := m.Status(t.Context(), []string{"nosuch"}); err != nil {
		t.Errorf("Status(nosuch) = %v", err)
	}
}

// The migrator does not depend on the pool's search_path: it works through
// a pool whose search_path names nothing (as the Qualified mode's does) and
// through one that names the tenant's schema before it exists, from several
// goroutines at once.
func TestAnyPoolSearchPath(t *testing.T) { forEachLevel(t, testAnyPoolSearchPath) }

func testAnyPoolSearchPath(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	for _, sp := range []string{"nothing_here", "tenant_acme"} {
		t.Run(sp, func(t *testing.T) {
			t.Parallel()
			cfg := tenanttest.NewDatabase(t, tenanttest.DefaultIsolation(level))
			cfg.Runtime = map[string]string{"search_path": sp}
			db := tenanttest.Open(t, cfg)
			m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
			if err := m.MigratePublic(t.Context()); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					if _, err := m.CreateTenant(t.Context(), "acme", migrate.CreateOptions{}); err != nil {
						t.Errorf("CreateTenant: %v", err)
					}
				})
			}
			wg.Wait()
			got := rowsText(t, db, `SELECT schemaname || '.' || tablename FROM pg_tables
WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`)
			want := "public.api_keys\npublic.plans\npublic.schema_migrations\npublic.tenant_plans\npublic.tenants\ntenant_acme.posts\ntenant_acme.schema_migrations\ntenant_acme.users"
			if got != want {
				t.Errorf("tables:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestStatusOfAnUnmigratedDatabase(t *testing.T) {
	forEachLevel(t, testStatusOfAnUnmigratedDatabase)
}

func testStatusOfAnUnmigratedDatabase(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	db := tenanttest.Open(t, tenanttest.NewDatabase(t, tenanttest.DefaultIsolation(level)))
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	pub, _ := m.Versions()
	st, err := m.Status(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Public.State != migrate.StatePending || !slices.Equal(st.Public.Pending, pub) || len(st.Tenants) != 0 {
		t.Errorf("Status = %+v; want public pending %v and no tenants", st, pub)
	}
}

// A tenant blocked on a lock holds up only its own worker: the window slides
// past it. (Under batches the others would wait too and the lock, released
// only once they are all done, would never be released.)
func TestMigrateAllSlidesPastASlowTenant(t *testing.T) {
	forEachLevel(t, testMigrateAllSlidesPastASlowTenant)
}

func testMigrateAllSlidesPastASlowTenant(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	v1 := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: tenantTrack(t, false)})
	// No lock timeout: this test is about the window, not the timeout.
	v2 := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: tenantTrack(t, true), LockTimeout: -1})
	ids := []string{"aaa"}
	for i := range 10 {
		ids = append(ids, "b"+strconv.Itoa(i))
	}
	addToDirectory(t, db, ids...)
	if _, err := v1.MigrateTenant(t.Context(), "aaa"); err != nil {
		t.Fatal(err)
	}
	blocker, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback()
	if _, err := blocker.ExecContext(t.Context(), "LOCK TABLE tenant_aaa.users IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var order []string
	rep, err := v2.MigrateAll(t.Context(), migrate.RunOptions{Concurrency: 2, Progress: func(p migrate.Progress) {
		if p.Done == len(ids)-1 {
			blocker.Rollback()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Tenants {
		order = append(order, r.ID)
	}
	if r := byID(rep)["aaa"]; len(r.Applied) != 1 {
		t.Errorf("aaa applied %v; want the second migration", r.Applied)
	}
	if !slices.Equal(order, ids) {
		t.Errorf("report order = %v; want %v", order, ids)
	}
}

func TestMigrateAllStopsWhenCanceled(t *testing.T) { forEachLevel(t, testMigrateAllStopsWhenCanceled) }

func testMigrateAllStopsWhenCanceled(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	var ids []string
	for i := range 20 {
		ids = append(ids, "t"+strconv.Itoa(i))
	}
	addToDirectory(t, db, ids...)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rep, err := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()}).MigrateAll(ctx, migrate.RunOptions{
		Concurrency: 1,
		Progress:    func(migrate.Progress) { cancel() },
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("MigrateAll error = %v; want context.Canceled", err)
	}
	canceled := 0
	for _, r := range rep.Tenants {
		if errors.Is(r.Err, context.Canceled) {
			canceled++
		}
	}
	if len(rep.Tenants) != len(ids) || canceled < len(ids)-2 {
		t.Errorf("%d results, %d canceled; want %d results, at least %d canceled", len(rep.Tenants), canceled, len(ids), len(ids)-2)
	}
}

// A schema built before versioned migrations (here by running the DDL by
// hand) is baselined: its files are recorded, not re-run.
func TestMarkAppliedBaselinesExistingSchemas(t *testing.T) {
	forEachLevel(t, testMarkAppliedBaselinesExistingSchemas)
}

func testMarkAppliedBaselinesExistingSchemas(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	addToDirectory(t, db, "old")
	files, _ := fs.Glob(migrations.Tenant(), "*.sql")
	for _, f := range files {
		b, _ := fs.ReadFile(migrations.Tenant(), f)
		if _, err := db.ExecContext(t.Context(), "CREATE SCHEMA IF NOT EXISTS tenant_old; SET search_path TO tenant_old; "+string(b)+"; RESET search_path"); err != nil {
			t.Fatal(err)
		}
	}
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	_, all := m.Versions()
	rep, err := m.MigrateAll(t.Context(), migrate.RunOptions{MarkApplied: true})
	if err != nil {
		t.Fatalf("MigrateAll(MarkApplied): %v", err)
	}
	if r := byID(rep)["old"]; !slices.Equal(r.Applied, all) {
		t.Errorf("marked %v; want %v", r.Applied, all)
	}
	st, err := m.Status(t.Context(), nil)
	if err != nil || st.Tenants[0].State != migrate.StateOK {
		t.Fatalf("Status after baseline = %+v, %v; want ok", st, err)
	}
	if _, err := m.MigrateAll(t.Context(), migrate.RunOptions{}); err != nil {
		t.Errorf("MigrateAll after baseline: %v", err)
	}
}

// A tenant dropped after MigrateAll read the directory, before its turn,
// is reported skipped and its schema is not created again; one that a drop
// has marked but not dropped yet is skipped too; the others are migrated.
func TestMigrateAllSkipsTenantsDroppedDuringTheRun(t *testing.T) {
	forEachLevel(t, testMigrateAllSkipsTenantsDroppedDuringTheRun)
}

func testMigrateAllSkipsTenantsDroppedDuringTheRun(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	cfg, db := newDBAt(t, level)
	ctx := t.Context()
	for _, id := range []string{"gone", "halfway", "kept"} {
		migs.NewTenant(t, cfg, id)
	}
	other := migrate.New(tenanttest.Open(t, cfg), migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: tenantTrack(t, true)})
	migrate.SetBeforeLock(m, func(id string) {
		switch id {
		case "gone":
			if err := other.DropTenant(ctx, "gone"); err != nil {
				t.Errorf("DropTenant(gone): %v", err)
			}
		case "halfway":
			// The first step of a drop: the row says dropping, the schema
			// is still there.
			if _, err := db.ExecContext(ctx, "UPDATE public.tenants SET status = 'dropping' WHERE id = 'halfway'"); err != nil {
				t.Errorf("mark halfway dropping: %v", err)
			}
		}
	})
	rep, err := m.MigrateAll(ctx, migrate.RunOptions{Concurrency: 1})
	if err != nil {
		t.Fatalf("MigrateAll: %v", err)
	}
	got := byID(rep)
	for id, want := range map[string]string{"gone": "dropped", "halfway": "being dropped"} {
		r := got[id]
		if r.Outcome() != migrate.OutcomeSkipped || r.Skipped != want || len(r.Applied) != 0 {
			t.Errorf("tenant %s: outcome %s (%q), applied %v, err %v; want skipped (%q), nothing applied", id, r.Outcome(), r.Skipped, r.Applied, r.Err, want)
		}
	}
	if r := got["kept"]; r.Outcome() != migrate.OutcomeOK || len(r.Applied) != 1 {
		t.Errorf("tenant kept: outcome %s, applied %v, err %v; want ok with the new migration", r.Outcome(), r.Applied, r.Err)
	}
	if rep.Skipped() != 2 || rep.Failed() != 0 {
		t.Errorf("Skipped() = %d, Failed() = %d; want 2, 0", rep.Skipped(), rep.Failed())
	}
	if schemaExists(t, db, "tenant_gone") {
		t.Error("MigrateAll created the schema of a dropped tenant again")
	}
	if rev := revisions(t, db, "tenant_halfway"); len(rev) != 1 {
		t.Errorf("tenant being dropped has revisions %v; want the first one only (untouched)", rev)
	}
}

// A drop that completes while CreateTenant waits for the schema's lock
// leaves neither schema nor row, and CreateTenant says what happened.
func TestCreateTenantDroppedMeanwhile(t *testing.T) {
	forEachLevel(t, testCreateTenantDroppedMeanwhile)
}

func testCreateTenantDroppedMeanwhile(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	cfg, db := newDBAt(t, level)
	ctx := t.Context()
	other := migrate.New(tenanttest.Open(t, cfg), migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	migrate.SetBeforeLock(m, func(id string) {
		if err := other.DropTenant(ctx, id); err != nil {
			t.Errorf("DropTenant(%s): %v", id, err)
		}
	})
	_, err := m.CreateTenant(ctx, "acme", migrate.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "dropped") {
		t.Errorf("CreateTenant = %v; want an error saying the tenant was dropped", err)
	}
	if schemaExists(t, db, "tenant_acme") {
		t.Error("CreateTenant left schema tenant_acme with no directory row")
	}
}

// A tenant whose table another transaction keeps locked fails with
// ErrLockTimeout once the lock timeout passes, instead of queueing its DDL
// behind that transaction; the others are migrated, and the next run, once
// the lock is gone, migrates it.
func TestMigrateAllLockTimeout(t *testing.T) { forEachLevel(t, testMigrateAllLockTimeout) }

func testMigrateAllLockTimeout(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	cfg, db := newDBAt(t, level)
	for _, id := range []string{"a", "busy", "c"} {
		migs.NewTenant(t, cfg, id)
	}
	blocker, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback()
	// What any reader of the table holds until its transaction ends; the
	// new migration's ALTER TABLE conflicts with it.
	if _, err := blocker.ExecContext(t.Context(), "LOCK TABLE tenant_busy.users IN ACCESS SHARE MODE"); err != nil {
		t.Fatal(err)
	}
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: tenantTrack(t, true), LockTimeout: 50 * time.Millisecond})
	// Without a lock timeout the run would wait for the blocker, which is
	// released only after the run: this deadline only turns that hang into
	// a failure.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rep, err := m.MigrateAll(ctx, migrate.RunOptions{Concurrency: 1})
	t.Logf("run with busy locked: %s; busy failed after %s: %v", rep.Duration, byID(rep)["busy"].Duration, byID(rep)["busy"].Err)
	if !errors.Is(err, migrate.ErrLockTimeout) {
		t.Errorf("MigrateAll error = %v; want ErrLockTimeout", err)
	}
	got := byID(rep)
	if r := got["busy"]; !errors.Is(r.Err, migrate.ErrLockTimeout) || !strings.Contains(r.Err.Error(), `"busy"`) || len(r.Applied) != 0 {
		t.Errorf("busy: applied %v, err %v; want ErrLockTimeout naming busy, nothing applied", r.Applied, r.Err)
	}
	for _, id := range []string{"a", "c"} {
		if r := got[id]; r.Err != nil || len(r.Applied) != 1 {
			t.Errorf("%s: applied %v, err %v; want the new migration", id, r.Applied, r.Err)
		}
	}
	if err := blocker.Rollback(); err != nil {
		t.Fatal(err)
	}
	rep, err = m.MigrateAll(ctx, migrate.RunOptions{})
	if err != nil {
		t.Fatalf("MigrateAll after the lock was released: %v", err)
	}
	if r := byID(rep)["busy"]; len(r.Applied) != 1 {
		t.Errorf("busy applied %v on the next run; want the new migration", r.Applied)
	}
}

// The directory statements of CreateTenant and DropTenant are bounded by
// the lock timeout too: a transaction holding the tenant's directory row
// makes them fail with ErrLockTimeout, not wait.
func TestCreateAndDropLockTimeout(t *testing.T) { forEachLevel(t, testCreateAndDropLockTimeout) }

func testCreateAndDropLockTimeout(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	cfg, db := newDBAt(t, level)
	migs.NewTenant(t, cfg, "acme")
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant(), LockTimeout: 50 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	blocker, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback()
	if _, err := blocker.ExecContext(ctx, "SELECT FROM public.tenants WHERE id = 'acme' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateTenant(ctx, "acme", migrate.CreateOptions{}); !errors.Is(err, migrate.ErrLockTimeout) {
		t.Errorf("CreateTenant with its row locked = %v; want ErrLockTimeout", err)
	}
	if err := m.DropTenant(ctx, "acme"); !errors.Is(err, migrate.ErrLockTimeout) {
		t.Errorf("DropTenant with its row locked = %v; want ErrLockTimeout", err)
	}
	blocker.Rollback()
	if !schemaExists(t, db, "tenant_acme") {
		t.Error("a failed drop dropped the schema")
	}
	if err := m.DropTenant(ctx, "acme"); err != nil {
		t.Errorf("DropTenant once the row is free: %v", err)
	}
}
