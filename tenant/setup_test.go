package tenant_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// modes is what every registry test runs over.
var modes = []tenant.Mode{tenant.SearchPath, tenant.Qualified}

// forEachMode runs f as a parallel subtest per isolation mode.
func forEachMode(t *testing.T, f func(t *testing.T, mode tenant.Mode)) {
	t.Helper()
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			f(t, mode)
		})
	}
}

// fixture is a fresh database with the public tables, where tenants can be
// added.
type fixture struct {
	cfg    pq.Config
	dsn    string
	name   string
	admin  *sql.DB     // search_path=public
	client *ent.Client // over admin
}

// Ent's migration engine keeps package-level state; one migration at a time.
var migrateMu sync.Mutex

// newFixture creates a fixture with the given tenants added (see addTenant).
func newFixture(t testing.TB, tenants ...string) *fixture {
	t.Helper()
	cfg := tenanttest.NewDatabase(t)
	f := &fixture{cfg: cfg, dsn: tenanttest.URL(cfg), name: cfg.Database}
	f.admin = openWithSearchPath(t, cfg, "public")
	f.client = ent.NewClient(ent.Driver(entsql.OpenDB(dialect.Postgres, f.admin)))
	// The directory, then the shared tables of the Ent schema.
	if err := migrate.New(f.admin, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()}).MigratePublic(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.migrate(t, f.admin, ent.SharedTables())
	for _, id := range tenants {
		f.addTenant(t, id)
	}
	return f
}

func openWithSearchPath(t testing.TB, cfg pq.Config, searchPath string) *sql.DB {
	t.Helper()
	cfg = cfg.Clone()
	if cfg.Runtime == nil {
		cfg.Runtime = map[string]string{}
	}
	cfg.Runtime["search_path"] = searchPath
	cfg.ApplicationName = fixtureApp
	return tenanttest.Open(t, cfg)
}

func (f *fixture) migrate(t testing.TB, db *sql.DB, tables []*schema.Table) {
	t.Helper()
	migrateMu.Lock()
	defer migrateMu.Unlock()
	m, err := schema.NewMigrate(entsql.OpenDB(dialect.Postgres, db))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Create(context.Background(), tables...); err != nil {
		t.Fatalf("create tables: %v", err)
	}
}

// addTenant creates the schema and tables of tenant id and lists it as
// active in the directory.
func (f *fixture) addTenant(t testing.TB, id string) {
	t.Helper()
	s := f.createSchema(t, id)
	f.addDirectory(t, id, s, "active")
}

// addTenants adds n tenants named prefix followed by a two-digit number from
// 00, and returns their ids in that order.
func (f *fixture) addTenants(t testing.TB, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%02d", prefix, i)
		f.addTenant(t, ids[i])
	}
	return ids
}

// createSchema creates tenant id's schema and tables, without directory row.
func (f *fixture) createSchema(t testing.TB, id string) string {
	t.Helper()
	s, err := tenant.Namer(nil).Schema(id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin.Exec("CREATE SCHEMA " + pq.QuoteIdentifier(s)); err != nil {
		t.Fatal(err)
	}
	db := openWithSearchPath(t, f.cfg, pq.QuoteIdentifier(s))
	f.migrate(t, db, ent.TenantTables())
	db.Close()
	return s
}

func (f *fixture) addDirectory(t testing.TB, id, schema, status string) {
	t.Helper()
	_, err := f.admin.Exec("INSERT INTO public.tenants (id, schema_name, status) VALUES ($1, $2, $3)", id, schema, status)
	if err != nil {
		t.Fatalf("add tenant %q to the directory: %v", id, err)
	}
}

// fixtureApp is the application_name of the fixture's own connections, which
// backends does not count.
const fixtureApp = "tenant-test-fixture"

// backends counts the server processes the registry holds in the fixture's
// database, as seen from the maintenance database.
func (f *fixture) backends(t testing.TB) int {
	t.Helper()
	mon := f.monitor(t)
	var n int
	if err := mon.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name <> $2", f.name, fixtureApp).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var monitors sync.Map // database name → *sql.DB on the maintenance database

func (f *fixture) monitor(t testing.TB) *sql.DB {
	if db, ok := monitors.Load(f.name); ok {
		return db.(*sql.DB)
	}
	db := tenanttest.Open(t, tenanttest.ServerConfig(t))
	db.SetMaxOpenConns(1)
	monitors.Store(f.name, db)
	t.Cleanup(func() { monitors.Delete(f.name) })
	return db
}

// newRegistry opens a registry on the fixture, closed when t ends.
func (f *fixture) newRegistry(t testing.TB, opts tenant.Options) *tenant.Registry[*ent.Client] {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reg, err := tenant.New(ctx, f.dsn, ent.ClientForTenant, opts)
	if err != nil {
		t.Fatalf("tenant.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := reg.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return reg
}

// acquire leases tenant id's client from reg, failing t if it cannot.
func acquire(t testing.TB, reg *tenant.Registry[*ent.Client], id string) (*ent.Client, func()) {
	t.Helper()
	client, release, err := reg.Acquire(t.Context(), id)
	if err != nil {
		t.Fatalf("Acquire(%q): %v", id, err)
	}
	return client, release
}

// checkNoLeases fails t if reg reports a lease on any tenant; when says
// at what point of the test none may be left.
func checkNoLeases(t testing.TB, reg *tenant.Registry[*ent.Client], when string) {
	t.Helper()
	for _, ts := range reg.Stats().Tenants {
		if ts.Leases != 0 {
			t.Errorf("tenant %s holds %d leases %s; want 0", ts.ID, ts.Leases, when)
		}
	}
}

// checkClosedAfterRelease fails t if client, evicted and then released by
// its last lease holder, still answers a query. Only SearchPath mode closes
// such a client; in Qualified mode all tenants share one pool, so it checks
// nothing.
func checkClosedAfterRelease(t testing.TB, mode tenant.Mode, client *ent.Client) {
	t.Helper()
	if mode != tenant.SearchPath {
		return
	}
	if _, err := client.User.Query().Count(t.Context()); err == nil {
		t.Errorf("query after the last release of an evicted client succeeded; want closed")
	}
}

// waitNoBackends waits until the fixture's database has no backend of the
// registry left, failing t after 10s: closed connections end their backends
// asynchronously.
func (f *fixture) waitNoBackends(t testing.TB) {
	t.Helper()
	eventually(t, "no backend left after Close", func() bool { return f.backends(t) == 0 })
}

// hookLog records hook calls.
type hookLog struct {
	mu      sync.Mutex
	created map[string]int
	evicted map[string]map[tenant.EvictReason]int
	errs    []error
	events  chan string // "evicted <id> <reason>", if not nil
}

func newHookLog() *hookLog {
	return &hookLog{created: map[string]int{}, evicted: map[string]map[tenant.EvictReason]int{}, events: make(chan string, 1024)}
}

func (h *hookLog) hooks() tenant.Hooks {
	return tenant.Hooks{
		OnClientOpened: func(id string) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.created[id]++
		},
		OnClientEvicted: func(id string, reason tenant.EvictReason) {
			h.mu.Lock()
			if h.evicted[id] == nil {
				h.evicted[id] = map[tenant.EvictReason]int{}
			}
			h.evicted[id][reason]++
			h.mu.Unlock()
			select {
			case h.events <- "evicted " + id + " " + string(reason):
			default:
			}
		},
		OnError: func(id string, err error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.errs = append(h.errs, err)
		},
	}
}

func (h *hookLog) createdCount(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.created[id]
}

func (h *hookLog) evictedCount(id string, reason tenant.EvictReason) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.evicted[id][reason]
}

// waitEvent waits for event on h.events, failing t after 10s.
func (h *hookLog) waitEvent(t testing.TB, event string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-h.events:
			if ev == event {
				return
			}
		case <-timeout:
			t.Fatalf("no %q within 10s", event)
		}
	}
}

// eventually polls cond until it holds, failing t after 10s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: not within 10s", what)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes, for log capture.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// resident reports whether tenant id has a client in reg.
func resident(reg *tenant.Registry[*ent.Client], id string) bool {
	st := reg.Stats()
	return st.Resident(id)
}

// residentIDs returns the ids of reg's resident tenants, most recently used
// first.
func residentIDs(reg *tenant.Registry[*ent.Client]) []string {
	var ids []string
	for _, ts := range reg.Stats().Tenants {
		ids = append(ids, ts.ID)
	}
	return ids
}

// clientOf returns the tenant's client Middleware stored in r's context, nil
// when there is none.
func clientOf(r *http.Request) *ent.Client {
	c, _ := tenant.ClientFromContext[*ent.Client](r.Context())
	return c
}
