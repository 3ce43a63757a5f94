package handlers_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"github.com/pgtenant/pgtenant/handlers"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// hostileAPI is the API on a migrated database with one tenant, acme.
type hostileAPI struct {
	h   http.Handler
	reg *tenant.Registry[*ent.Client]
	db  *sql.DB
}

func newHostileAPI(tb testing.TB) *hostileAPI {
	tb.Helper()
	cfg := tenanttest.NewDatabase(tb)
	db := tenanttest.Open(tb, cfg)
	mig := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	if err := mig.MigratePublic(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	if _, err := mig.CreateTenant(tb.Context(), "acme", migrate.CreateOptions{}); err != nil {
		tb.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg, err := tenant.New(tb.Context(), tenanttest.URL(cfg), ent.ClientForTenant, tenant.Options{Logger: logger})
	if err != nil {
		tb.Fatalf("tenant.New: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		reg.Close(ctx)
	})
	return &hostileAPI{
		h:   handlers.New(logger, reg, handlers.Options{AdminToken: adminToken, Migrator: mig}).Routes(),
		reg: reg,
		db:  db,
	}
}

// adminToken enables the tenant admin routes of the hostile API; every
// request carries it, so hostile ids reach the migrator's entry points too.
const adminToken = "hostile-test-token"

// footprint is what a rejected request must not change.
type footprint struct{ schemas, pools, directory int }

func (a *hostileAPI) footprint(tb testing.TB) footprint {
	tb.Helper()
	var f footprint
	err := a.db.QueryRowContext(context.Background(), `SELECT
		(SELECT count(*) FROM pg_namespace),
		(SELECT count(*) FROM public.tenants)`).Scan(&f.schemas, &f.directory)
	if err != nil {
		tb.Fatal(err)
	}
	f.pools = a.reg.Len()
	return f
}

// errorBody is the API's error response.
type errorBody struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields"`
}

func nested(depth int) string {
	return `{"email":"deep@acme.test","name":"Deep","x":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
}

// TestHostileInput sends hostile HTTP input over the wire and checks that
// each is answered with the documented 4xx and a JSON error message, never a
// 5xx, and that none of them creates a schema, a pool or a directory row.
func TestHostileInput(t *testing.T) {
	a := newHostileAPI(t)
	srv := httptest.NewServer(a.h)
	t.Cleanup(srv.Close)

	// Warm acme so its pool is part of the baseline.
	if resp := send(t, srv, http.MethodGet, "/users", "acme", ""); resp.status != http.StatusOK {
		t.Fatalf("GET /users as acme = %d; want 200", resp.status)
	}
	if resp := send(t, srv, http.MethodPost, "/users", "acme", `{"email":"taken@acme.test","name":"Taken"}`); resp.status != http.StatusCreated {
		t.Fatalf("POST /users as acme = %d %s; want 201", resp.status, resp.body)
	}
	before := a.footprint(t)

	const missingUser = "/users/3f2504e0-4f89-11d3-9a0c-0305e82c3301"
	tests := []struct {
		name   string
		method string
		path   string
		tenant string // "-" means no header
		body   string
		want   int
	}{
		{name: "missing tenant", method: "GET", path: "/users", tenant: "-", want: 400},
		{name: "empty tenant", method: "GET", path: "/users", tenant: "", want: 400},
		{name: "comma", method: "GET", path: "/users", tenant: "acme,public", want: 400},
		{name: "comma tenant", method: "GET", path: "/users", tenant: "a,tenant_acme", want: 400},
		{name: "double quote", method: "GET", path: "/users", tenant: `acme"`, want: 400},
		{name: "quote injection", method: "GET", path: "/users", tenant: `x"; CREATE TABLE public.pwned(i int); --`, want: 400},
		{name: "single quote", method: "GET", path: "/users", tenant: "acme'", want: 400},
		{name: "semicolon", method: "GET", path: "/users", tenant: "acme;drop", want: 400},
		{name: "inner space", method: "GET", path: "/users", tenant: "ac me", want: 400},
		{name: "dash c", method: "GET", path: "/users", tenant: "-c search_path=public", want: 400},
		{name: "option injection", method: "GET", path: "/users", tenant: "acme -c application_name=pwned", want: 400},
		{name: "dot dot", method: "GET", path: "/users", tenant: "..", want: 400},
		{name: "path traversal", method: "GET", path: "/users", tenant: "../acme", want: 400},
		{name: "upper case", method: "GET", path: "/users", tenant: "ACME", want: 400},
		{name: "mixed case", method: "GET", path: "/users", tenant: "Acme", want: 400},
		{name: "64 bytes", method: "GET", path: "/users", tenant: strings.Repeat("a", 64), want: 400},
		{name: "1000 bytes", method: "GET", path: "/users", tenant: strings.Repeat("a", 1000), want: 400},
		{name: "unicode", method: "GET", path: "/users", tenant: "açme", want: 400},
		{name: "fullwidth", method: "GET", path: "/users", tenant: "ａｃｍｅ", want: 400},
		{name: "ampersand", method: "GET", path: "/users", tenant: "acme&search_path=public", want: 400},
		{name: "percent nul", method: "GET", path: "/users", tenant: "acme%00", want: 400},
		{name: "unknown tenant", method: "GET", path: "/users", tenant: "nobody", want: 404},
		{name: "public as id", method: "GET", path: "/users", tenant: "public", want: 404},
		{name: "schema name as id", method: "GET", path: "/users", tenant: "tenant_acme", want: 404},
		{name: "unknown tenant write", method: "POST", path: "/users", tenant: "ghost", body: `{"email":"g@ghost.test","name":"G"}`, want: 404},

		{name: "malformed json", method: "POST", path: "/users", tenant: "acme", body: `{"email":`, want: 400},
		{name: "not json", method: "POST", path: "/users", tenant: "acme", body: `hello`, want: 400},
		{name: "empty body", method: "POST", path: "/users", tenant: "acme", body: ``, want: 400},
		{name: "array body", method: "POST", path: "/users", tenant: "acme", body: `[]`, want: 400},
		{name: "unknown field", method: "POST", path: "/users", tenant: "acme", body: `{"email":"u@acme.test","name":"U","admin":true}`, want: 400},
		{name: "wrong type email", method: "POST", path: "/users", tenant: "acme", body: `{"email":1,"name":"U"}`, want: 400},
		{name: "wrong type name", method: "POST", path: "/users", tenant: "acme", body: `{"email":"u@acme.test","name":{"a":1}}`, want: 400},
		{name: "deeply nested", method: "POST", path: "/users", tenant: "acme", body: nested(20000), want: 400},
		{name: "huge body", method: "POST", path: "/users", tenant: "acme", body: `{"email":"u@acme.test","name":"` + strings.Repeat("x", 8<<20) + `"}`, want: 413},
		{name: "invalid email", method: "POST", path: "/users", tenant: "acme", body: `{"email":"not-an-email","name":"U"}`, want: 422},
		{name: "empty name", method: "POST", path: "/users", tenant: "acme", body: `{"email":"u@acme.test","name":""}`, want: 422},
		{name: "long name", method: "POST", path: "/users", tenant: "acme", body: `{"email":"u@acme.test","name":"` + strings.Repeat("n", 256) + `"}`, want: 422},
		{name: "long email", method: "POST", path: "/users", tenant: "acme", body: `{"email":"` + strings.Repeat("e", 250) + `@acme.test","name":"U"}`, want: 422},
		{name: "nul in name", method: "POST", path: "/users", tenant: "acme", body: `{"email":"nul@acme.test","name":"a\u0000b"}`, want: 422},
		{name: "nul in email", method: "POST", path: "/users", tenant: "acme", body: `{"email":"n\u0000ul@acme.test","name":"U"}`, want: 422},
		{name: "duplicate email other case", method: "POST", path: "/users", tenant: "acme", body: `{"email":"TAKEN@acme.test","name":"Again"}`, want: 409},
		{name: "update wrong type", method: "PUT", path: missingUser, tenant: "acme", body: `{"active":"yes"}`, want: 400},

		{name: "admin create comma", method: "POST", path: "/admin/tenants", body: `{"id":"a,public"}`, want: 422},
		{name: "admin create quote injection", method: "POST", path: "/admin/tenants", body: `{"id":"x\"; CREATE TABLE public.pwned(i int); --"}`, want: 422},
		{name: "admin create upper case", method: "POST", path: "/admin/tenants", body: `{"id":"ACME"}`, want: 422},
		{name: "admin create dash c", method: "POST", path: "/admin/tenants", body: `{"id":"-c search_path=public"}`, want: 422},
		{name: "admin create empty", method: "POST", path: "/admin/tenants", body: `{"id":""}`, want: 422},
		{name: "admin create 64 bytes", method: "POST", path: "/admin/tenants", body: `{"id":"` + strings.Repeat("a", 64) + `"}`, want: 422},
		{name: "admin create unknown plan", method: "POST", path: "/admin/tenants", body: `{"id":"newco","plan":"' OR 1=1 --"}`, want: 422},
		{name: "admin create wrong type", method: "POST", path: "/admin/tenants", body: `{"id":7}`, want: 400},
		{name: "admin batch wrong type", method: "POST", path: "/admin/tenants/batch", body: `{"ids":[7]}`, want: 400},
		{name: "admin batch null ids", method: "POST", path: "/admin/tenants/batch", body: `{"ids":null}`, want: 422},
		{name: "admin batch unknown plan", method: "POST", path: "/admin/tenants/batch", body: `{"ids":["newco","x\"; CREATE TABLE public.pwned(i int); --"],"plan":"' OR 1=1 --"}`, want: 422},
		{name: "admin drop comma", method: "DELETE", path: "/admin/tenants/acme,public", want: 400},
		{name: "admin drop upper case", method: "DELETE", path: "/admin/tenants/ACME", want: 400},
		{name: "admin drop quote", method: "DELETE", path: "/admin/tenants/" + url.PathEscape(`acme"`), want: 400},
		{name: "admin drop unknown", method: "DELETE", path: "/admin/tenants/nobody", want: 404},

		{name: "bad uuid get", method: "GET", path: "/users/not-a-uuid", tenant: "acme", want: 400},
		{name: "bad uuid put", method: "PUT", path: "/users/1", tenant: "acme", body: `{"name":"X"}`, want: 400},
		{name: "bad uuid delete", method: "DELETE", path: "/users/%27%3B--", tenant: "acme", want: 400},
		{name: "sql in uuid", method: "GET", path: "/users/" + url.PathEscape("' OR '1'='1"), tenant: "acme", want: 400},
		{name: "missing user", method: "GET", path: missingUser, tenant: "acme", want: 404},
		{name: "negative limit", method: "GET", path: "/users?limit=-1", tenant: "acme", want: 400},
		{name: "text limit", method: "GET", path: "/users?limit=ten", tenant: "acme", want: 400},
		{name: "overflowing offset", method: "GET", path: "/users?offset=99999999999999999999999", tenant: "acme", want: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := send(t, srv, tt.method, tt.path, tt.tenant, tt.body)
			if resp.status != tt.want {
				t.Errorf("%s %s (tenant %.40q) status = %d; want %d; body %.200s", tt.method, tt.path, tt.tenant, resp.status, tt.want, resp.body)
			}
			var e errorBody
			if err := json.Unmarshal(resp.body, &e); err != nil || e.Error == "" {
				t.Errorf("%s %s body = %.200s; want {\"error\": message}", tt.method, tt.path, resp.body)
			}
			if resp.status == http.StatusUnprocessableEntity && len(e.Fields) == 0 {
				t.Errorf("%s %s: 422 without fields: %s", tt.method, tt.path, resp.body)
			}
		})
	}

	t.Run("oversized header", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/users", nil)
		req.Header.Set("X-Tenant-ID", "acme")
		req.Header.Set("X-Padding", strings.Repeat("p", 2<<20))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("GET with 2 MB header: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("GET with 2 MB header status = %d; want 431", resp.StatusCode)
		}
	})

	// Header values net/http cannot carry over the wire go to the handler
	// directly.
	for _, id := range []string{"acme\x00", "a\x00b", "acme\r\nX-Admin: 1", "acme\n", "\x7f"} {
		t.Run("in process "+strconv.Quote(id), func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/users", nil)
			req.Header["X-Tenant-Id"] = []string{id}
			rec := httptest.NewRecorder()
			a.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusBadRequest {
				t.Errorf("GET /users with X-Tenant-ID %q status = %d; want 400; body %s", id, rec.Code, rec.Body)
			}
		})
	}

	after := a.footprint(t)
	if after != before {
		t.Errorf("hostile requests changed schemas/pools/directory rows from %+v to %+v", before, after)
	}
	t.Logf("%d hostile requests over HTTP, %d in process; schemas=%d pools=%d directory rows=%d before and after",
		len(tests)+1, 5, after.schemas, after.pools, after.directory)
}

type sent struct {
	status int
	body   []byte
}

func send(t *testing.T, srv *httptest.Server, method, path, tenantID, body string) sent {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tenantID != "-" {
		req.Header["X-Tenant-Id"] = []string{tenantID}
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return sent{status: resp.StatusCode, body: b}
}
