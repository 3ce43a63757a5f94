package reliability

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
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

	"github.com/pgtenant/pgtenant/handlers"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// migs are the reference service's migrations.
var migs = tenanttest.Migrations{Public: migrations.Public(), Tenant: migrations.Tenant()}

// database is one migrated test database and the tools to provision,
// seed and drop its tenants.
type database struct {
	cfg pq.Config
	db  *sql.DB // search_path=public, the migrator's pool
	mig *migrate.Migrator
}

// newDatabase returns a fresh database with the public schema migrated.
func newDatabase(t testing.TB) *database {
	t.Helper()
	d := openDatabase(t, tenanttest.NewDatabase(t))
	d.migratePublic(t.Context(), t)
	return d
}

// migratePublic applies the public migrations.
func (d *database) migratePublic(ctx context.Context, t testing.TB) {
	t.Helper()
	if err := d.mig.MigratePublic(ctx); err != nil {
		t.Fatalf("migrate public: %v", err)
	}
}

func openDatabase(t testing.TB, cfg pq.Config) *database {
	t.Helper()
	db := tenanttest.Open(t, cfg)
	return &database{cfg: cfg, db: db, mig: migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})}
}

// provision creates and activates tenants ids through the migrator and gives
// each one n marker users (emails seed-<i>@<id>.test) in a single INSERT.
func (d *database) provision(ctx context.Context, t testing.TB, n int, ids ...string) {
	t.Helper()
	work := make(chan string)
	errs := make(chan error, len(ids))
	var wg sync.WaitGroup
	for range min(8, len(ids)) {
		wg.Go(func() {
			for id := range work {
				errs <- d.create(ctx, id, n)
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func (d *database) create(ctx context.Context, id string, n int) error {
	if _, err := d.mig.CreateTenant(ctx, id, migrate.CreateOptions{}); err != nil {
		return fmt.Errorf("create tenant %s: %w", id, err)
	}
	if n == 0 {
		return nil
	}
	schema, err := tenant.Namer(nil).Schema(id)
	if err != nil {
		return err
	}
	q := fmt.Sprintf(`INSERT INTO %s.users (id, email, name, active, created_at)
		SELECT gen_random_uuid(), 'seed-' || i || '@' || $1 || '.test', 'Seed ' || i, true, now()
		FROM generate_series(1, $2) AS i`, pq.QuoteIdentifier(schema))
	if _, err := d.db.ExecContext(ctx, q, id, n); err != nil {
		return fmt.Errorf("seed tenant %s: %w", id, err)
	}
	return nil
}

func (d *database) drop(ctx context.Context, id string) error {
	if err := d.mig.DropTenant(ctx, id); err != nil {
		return fmt.Errorf("drop tenant %s: %w", id, err)
	}
	return nil
}

// logScan is a concurrency-safe io.Writer for slog that counts log lines at
// level ERROR and lines mentioning a closed database.
type logScan struct {
	mu     sync.Mutex
	errors int
	closed int
	first  []string
}

func (l *logScan) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for line := range bytes.Lines(p) {
		s := string(line)
		bad := false
		if strings.Contains(s, "level=ERROR") {
			l.errors++
			bad = true
		}
		if strings.Contains(s, "database is closed") {
			l.closed++
			bad = true
		}
		if bad && len(l.first) < 5 {
			l.first = append(l.first, strings.TrimSpace(s))
		}
	}
	return len(p), nil
}

func (l *logScan) counts() (errors, closed int, first []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.errors, l.closed, append([]string(nil), l.first...)
}

// server is the API served over HTTP on a real registry.
type server struct {
	reg *tenant.Registry[*ent.Client]
	srv *httptest.Server
	log *logScan
}

// newServer starts the API on dsn with opts and stops it when t ends.
func newServer(t testing.TB, dsn string, opts tenant.Options) *server {
	t.Helper()
	return newServerWith(t, dsn, opts, handlers.Options{})
}

// newServerWith is newServer with API options.
func newServerWith(t testing.TB, dsn string, opts tenant.Options, hopts handlers.Options) *server {
	t.Helper()
	ls := &logScan{}
	logger := slog.New(slog.NewTextHandler(ls, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts.Logger = logger
	reg, err := tenant.New(t.Context(), dsn, ent.ClientForTenant, opts)
	if err != nil {
		t.Fatalf("tenant.New: %v", err)
	}
	api := handlers.New(logger, reg, hopts)
	srv := httptest.NewServer(api.Routes())
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := reg.Close(ctx); err != nil {
			t.Errorf("Registry.Close: %v", err)
		}
	})
	return &server{reg: reg, srv: srv, log: ls}
}

// user is the API's user JSON.
type user struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	Active bool   `json:"active"`
}

// response is what a request returned.
type response struct {
	status int
	body   []byte
}

// do sends one request with tenant id and an optional JSON body.
func do(ctx context.Context, c *http.Client, method, url, id string, body any) (response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return response{}, err
	}
	if id != "" {
		req.Header.Set("X-Tenant-ID", id)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: b}, err
}

// markerOf reports the tenant a marker email belongs to.
func markerOf(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return ""
	}
	return strings.TrimSuffix(email[at+1:], ".test")
}
