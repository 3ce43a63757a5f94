package handlers

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// migs are the reference service's migrations.
var migs = tenanttest.Migrations{Public: migrations.Public(), Tenant: migrations.Tenant()}

// modes are the isolation modes every HTTP test runs in.
var modes = []tenant.Mode{tenant.SearchPath, tenant.Qualified}

// testAdminToken is the admin token of test APIs built with withAdmin.
const testAdminToken = "s3cret-token"

// testEnv is an API on a fresh migrated database with two active tenants,
// alpha and beta.
type testEnv struct {
	api  *API
	h    http.Handler
	reg  *tenant.Registry[*ent.Client]
	db   *sql.DB   // the database, search_path public
	cfg  pq.Config // the database's connection settings
	dsn  string    // the database's URL
	logs *syncBuffer
}

// envOption configures the API of a testEnv (Options) or its registry
// (tenant.Options).
type envOption func(*Options, *tenant.Options)

// withAdmin configures the admin token and the Migrator.
func withAdmin(o *Options, _ *tenant.Options) { o.AdminToken = testAdminToken }

// forEachMode runs f as a parallel subtest per isolation mode, each on its
// own database.
func forEachMode(t *testing.T, f func(t *testing.T, e *testEnv), opts ...envOption) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			f(t, newTestEnv(t, mode, opts...))
		})
	}
}

func newTestEnv(tb testing.TB, mode tenant.Mode, opts ...envOption) *testEnv {
	tb.Helper()
	cfg := migs.NewDatabase(tb)
	migs.NewTenant(tb, cfg, "alpha")
	migs.NewTenant(tb, cfg, "beta")
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var o Options
	to := tenant.Options{Mode: mode, Logger: logger}
	for _, opt := range opts {
		opt(&o, &to)
	}
	reg, err := tenant.New(tb.Context(), tenanttest.URL(cfg), ent.ClientForTenant, to)
	if err != nil {
		tb.Fatalf("tenant.New: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := reg.Close(ctx); err != nil {
			tb.Errorf("Registry.Close: %v", err)
		}
	})
	if o.AdminToken != "" {
		o.Migrator = migrate.New(reg.DB(), migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant(), Logger: logger})
	}
	api := New(logger, reg, o)
	return &testEnv{api: api, h: api.Routes(), reg: reg, db: tenanttest.Open(tb, cfg), cfg: cfg, dsn: tenanttest.URL(cfg), logs: logs}
}

// req is one request of a test.
type req struct {
	method, path string
	tenant       string // X-Tenant-ID; "" sends none
	body         string
	token        string // Authorization: Bearer token; "" sends none
}

// do serves rq through the API's router.
func (e *testEnv) do(t testing.TB, rq req) *httptest.ResponseRecorder {
	t.Helper()
	return serve(e.h, newRequest(t, rq))
}

// expect serves rq and fails t unless the status is want; it returns the
// response.
func (e *testEnv) expect(t testing.TB, rq req, want int) *httptest.ResponseRecorder {
	t.Helper()
	w := e.do(t, rq)
	if w.Code != want {
		t.Fatalf("%s %s (tenant %q) status = %d; want %d; body %s", rq.method, rq.path, rq.tenant, w.Code, want, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); w.Code != http.StatusNoContent && ct != "application/json" {
		t.Errorf("%s %s Content-Type = %q; want application/json", rq.method, rq.path, ct)
	}
	return w
}

// body decodes w's JSON body into a T.
func body[T any](t testing.TB, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", w.Body, err)
	}
	return v
}

// createUser creates a user in tenant id and returns it.
func (e *testEnv) createUser(t testing.TB, id, email, name string) userResponse {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "name": name})
	return body[userResponse](t, e.expect(t, req{method: "POST", path: "/users", tenant: id, body: string(b)}, http.StatusCreated))
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the JSON log records with msg.
func (b *syncBuffer) records(t testing.TB, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range bytes.Lines(b.buf.Bytes()) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// newRequest builds rq without serving it.
func newRequest(t testing.TB, rq req) *http.Request {
	t.Helper()
	var b io.Reader
	if rq.body != "" {
		b = strings.NewReader(rq.body)
	}
	r := httptest.NewRequestWithContext(t.Context(), rq.method, rq.path, b)
	if rq.tenant != "" {
		r.Header.Set("X-Tenant-ID", rq.tenant)
	}
	if rq.token != "" {
		r.Header.Set("Authorization", "Bearer "+rq.token)
	}
	return r
}

// serve serves r through h.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// resident reports whether tenant id has a client in reg.
func resident(reg *tenant.Registry[*ent.Client], id string) bool {
	st := reg.Stats()
	return st.Resident(id)
}
