package tenant_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/tenant"
)

// mwTenant is a tenant to create for a test; schema says whether the
// tenant's schema and tables exist, besides its directory entry.
type mwTenant struct {
	id     string
	status string
	schema bool
}

// mwSetup returns a registry in mode on a fresh database holding tenants.
func mwSetup(t testing.TB, mode tenant.Mode, tenants ...mwTenant) *tenant.Registry[*ent.Client] {
	t.Helper()
	f := newFixture(t)
	for _, tn := range tenants {
		s, err := tenant.Namer(nil).Schema(tn.id)
		if err != nil {
			t.Fatal(err)
		}
		if tn.schema {
			s = f.createSchema(t, tn.id)
		}
		f.addDirectory(t, tn.id, s, tn.status)
	}
	return f.newRegistry(t, tenant.Options{Mode: mode})
}

// leases returns the number of leases held on tenant id's client, -1 when
// the registry has no client for id.
func mwLeases(reg *tenant.Registry[*ent.Client], id string) int {
	for _, p := range reg.Stats().Tenants {
		if p.ID == id {
			return p.Leases
		}
	}
	return -1
}

// serve sends a GET with the given tenant header ("" for none) through h.
func mwServe(t *testing.T, h http.Handler, id string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/users", nil)
	if id != "" {
		r.Header.Set("X-Tenant-ID", id)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// mwCountUsers is a handler that answers the tenant id and its number of users,
// proving that the request context holds both.
var mwCountUsers = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	id, ok := tenant.FromContext(r.Context())
	client := clientOf(r)
	if !ok || client == nil {
		http.Error(w, "no tenant in context", http.StatusTeapot)
		return
	}
	n, err := client.User.Query().Count(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusTeapot)
		return
	}
	fmt.Fprintf(w, "%s %d", id, n)
})

func TestMiddlewareStatuses(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		reg := mwSetup(t, mode,
			mwTenant{"acme", "active", true},
			mwTenant{"frozen", "suspended", true},
			mwTenant{"noschema", "active", false},
		)
		plain := tenant.Middleware(reg, tenant.MiddlewareOptions{})(mwCountUsers)
		verified := tenant.Middleware(reg, tenant.MiddlewareOptions{Verified: true})(mwCountUsers)
		tests := []struct {
			name     string
			h        http.Handler
			id       string
			status   int
			body     string
			acquired bool // whether the registry got as far as a client
		}{
			{"ok", plain, "acme", http.StatusOK, "acme 0", true},
			{"ok verified", verified, "acme", http.StatusOK, "acme 0", true},
			{"missing", plain, "", http.StatusBadRequest, `{"error":"Tenant ID is required"}`, false},
			{"upper case", plain, "ACME", http.StatusBadRequest, `{"error":"Invalid tenant ID"}`, false},
			{"comma", plain, "acme,frozen", http.StatusBadRequest, `{"error":"X-Tenant-ID must name exactly one tenant"}`, false},
			{"option injection", plain, "a -c search_path=public", http.StatusBadRequest, `{"error":"Invalid tenant ID"}`, false},
			{"too long", plain, strings.Repeat("a", 49), http.StatusBadRequest, `{"error":"Invalid tenant ID"}`, false},
			{"unknown", plain, "nobody", http.StatusNotFound, `{"error":"Tenant not found"}`, false},
			{"suspended", plain, "frozen", http.StatusForbidden, `{"error":"Tenant suspended"}`, false},
			{"no schema verified", verified, "noschema", http.StatusNotFound, `{"error":"Tenant not found"}`, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := mwServe(t, tt.h, tt.id)
				if w.Code != tt.status {
					t.Errorf("GET with tenant %q: status = %d; want %d (body %q)", tt.id, w.Code, tt.status, w.Body)
				}
				if got := strings.TrimSpace(w.Body.String()); got != tt.body {
					t.Errorf("GET with tenant %q: body = %s; want %s", tt.id, got, tt.body)
				}
				if tt.status != http.StatusOK {
					if ct := w.Header().Get("Content-Type"); ct != "application/json" {
						t.Errorf("GET with tenant %q: Content-Type = %q; want application/json", tt.id, ct)
					}
					if !json.Valid(w.Body.Bytes()) {
						t.Errorf("GET with tenant %q: body %q is not JSON", tt.id, w.Body)
					}
				}
				if !tt.acquired && tt.id != "" && resident(reg, tt.id) {
					t.Errorf("GET with tenant %q opened a pool; want none", tt.id)
				}
			})
		}

		// After Close, requests are answered 503 with Retry-After.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := reg.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		w := mwServe(t, plain, "acme")
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" ||
			strings.TrimSpace(w.Body.String()) != `{"error":"Service unavailable"}` {
			t.Errorf("GET after Close: %d, Retry-After %q, body %s; want 503, 1, Service unavailable",
				w.Code, w.Header().Get("Retry-After"), w.Body)
		}
	})
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		status int
		msg    string
	}{
		{tenant.ErrMissingID, 400, "Tenant ID is required"},
		{tenant.ErrMultipleIDs, 400, "X-Tenant-ID must name exactly one tenant"},
		{fmt.Errorf("acquire: %w", tenant.ErrInvalidID), 400, "Invalid tenant ID"},
		{fmt.Errorf("%w: %w", tenant.ErrForbidden, errors.New("no")), 403, "Invalid tenant"},
		// A refusal is a refusal, whatever Authorize's error wraps.
		{fmt.Errorf("%w: %w", tenant.ErrForbidden, tenant.ErrNotFound), 403, "Invalid tenant"},
		{fmt.Errorf("acquire: %w", tenant.ErrNotFound), 404, "Tenant not found"},
		{fmt.Errorf("acquire: %w: %w", tenant.ErrUnavailable, errors.New("dial tcp: connection refused")), 503, "Service unavailable"},
		{tenant.ErrClosed, 503, "Service unavailable"},
		{fmt.Errorf("ping: %w", context.DeadlineExceeded), 503, "Service unavailable"},
		{errors.New("pq: secret internals"), 500, "Internal server error"},
		{context.Canceled, tenant.StatusClientClosedRequest, "Client closed request"},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		tenant.WriteError(w, httptest.NewRequest(http.MethodGet, "/", nil), tt.err)
		var body struct{ Error string }
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Errorf("WriteError(%v) body %q: %v", tt.err, w.Body, err)
		}
		if w.Code != tt.status || body.Error != tt.msg {
			t.Errorf("WriteError(%v) = %d %q; want %d %q", tt.err, w.Code, body.Error, tt.status, tt.msg)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("WriteError(%v) Content-Type = %q; want application/json", tt.err, ct)
		}
		if got, want := w.Header().Get("Retry-After") != "", tt.status == 503; got != want {
			t.Errorf("WriteError(%v) sets Retry-After: %v; want %v", tt.err, got, want)
		}
	}
}

func TestMiddlewareClientUsableAndReleased(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		reg := mwSetup(t, mode, mwTenant{"acme", "active", true})
		var during int
		create := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			during = mwLeases(reg, "acme")
			u, err := clientOf(r).User.Create().
				SetEmail("ann@example.com").SetName("Ann").Save(r.Context())
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			fmt.Fprint(w, u.Email)
		})
		h := tenant.Middleware(reg, tenant.MiddlewareOptions{})(create)
		if w := mwServe(t, h, "acme"); w.Code != http.StatusOK || w.Body.String() != "ann@example.com" {
			t.Fatalf("create user: %d %q; want 200 ann@example.com", w.Code, w.Body)
		}
		if during != 1 {
			t.Errorf("leases during the handler = %d; want 1", during)
		}
		if n := mwLeases(reg, "acme"); n != 0 {
			t.Errorf("leases after the handler returned = %d; want 0", n)
		}
		// The user landed in the tenant's schema: the next request sees it.
		if w := mwServe(t, tenant.Middleware(reg, tenant.MiddlewareOptions{})(mwCountUsers), "acme"); w.Body.String() != "acme 1" {
			t.Errorf("count users = %q; want %q", w.Body, "acme 1")
		}
	})
}

func TestMiddlewareReleasesOnPanic(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		reg := mwSetup(t, mode, mwTenant{"acme", "active", true})
		var during int
		boom := errors.New("boom")
		h := tenant.Middleware(reg, tenant.MiddlewareOptions{})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			during = mwLeases(reg, "acme")
			panic(boom)
		}))
		func() {
			defer func() {
				if v := recover(); v != boom {
					t.Errorf("recovered %v; want the handler's panic to go on up", v)
				}
			}()
			mwServe(t, h, "acme")
		}()
		if during != 1 {
			t.Errorf("leases during the handler = %d; want 1", during)
		}
		if n := mwLeases(reg, "acme"); n != 0 {
			t.Errorf("leases after the handler panicked = %d; want 0", n)
		}
		// The tenant is still served after the panic.
		if w := mwServe(t, tenant.Middleware(reg, tenant.MiddlewareOptions{})(mwCountUsers), "acme"); w.Code != http.StatusOK {
			t.Errorf("request after the panic: %d %q; want 200", w.Code, w.Body)
		}
	})
}

func TestMiddlewareOptions(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		reg := mwSetup(t, mode,
			mwTenant{"acme", "active", true},
			mwTenant{"globex", "active", true},
		)
		var (
			authorized []string
			resolved   []string
			handled    []error
		)
		opts := tenant.MiddlewareOptions{
			// The tenant is the first label of the host name.
			Extract: func(r *http.Request) string {
				label, _, _ := strings.Cut(r.Host, ".")
				return label
			},
			Authorize: func(r *http.Request, id string) error {
				authorized = append(authorized, id)
				if r.Header.Get("Authorization") != "Bearer "+id {
					return errors.New("token is for another tenant")
				}
				return nil
			},
			OnResolved: func(r *http.Request, id string) {
				got, _ := tenant.FromContext(r.Context())
				if got != id || clientOf(r) == nil {
					t.Errorf("OnResolved(%q): context holds tenant %q and client %v; want %q and a client",
						id, got, clientOf(r), id)
				}
				resolved = append(resolved, id)
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				handled = append(handled, err)
				http.Error(w, "nope", http.StatusTeapot)
			},
		}
		h := tenant.Middleware(reg, opts)(mwCountUsers)
		do := func(host, token string) *httptest.ResponseRecorder {
			r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+host+"/users", nil)
			r.Header.Set("X-Tenant-ID", "acme") // ignored: Extract reads the host
			if token != "" {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w
		}

		if w := do("globex.example.com", "globex"); w.Code != http.StatusOK || w.Body.String() != "globex 0" {
			t.Errorf("authorized request: %d %q; want 200 %q", w.Code, w.Body, "globex 0")
		}
		if w := do("acme.example.com", "globex"); w.Code != http.StatusTeapot {
			t.Errorf("forbidden request: %d; want the ErrorHandler's 418", w.Code)
		}
		if resident(reg, "acme") {
			t.Error("a refused request opened the tenant's pool; want Authorize before acquisition")
		}
		do("example", "example")   // authorized, not in the directory
		do("Bad_Host.example", "") // invalid: Authorize not called
		do(".example.com", "")     // no id: Authorize not called

		if want := []string{"globex", "acme", "example"}; !slices.Equal(authorized, want) {
			t.Errorf("Authorize called with %q; want %q", authorized, want)
		}
		if want := []string{"globex"}; !slices.Equal(resolved, want) {
			t.Errorf("OnResolved called with %q; want %q", resolved, want)
		}
		wantErrs := []error{tenant.ErrForbidden, tenant.ErrNotFound, tenant.ErrInvalidID, tenant.ErrMissingID}
		if len(handled) != len(wantErrs) {
			t.Fatalf("ErrorHandler called %d times (%v); want %d", len(handled), handled, len(wantErrs))
		}
		for i, want := range wantErrs {
			if !errors.Is(handled[i], want) {
				t.Errorf("ErrorHandler call %d got %v; want an error wrapping %v", i+1, handled[i], want)
			}
		}
		if !strings.Contains(handled[0].Error(), "token is for another tenant") {
			t.Errorf("ErrorHandler got %v; want it to carry Authorize's error", handled[0])
		}
	})
}

// TestMiddlewareRefusesSeveralTenants: a request naming more than one
// tenant, in two X-Tenant-ID headers or in one comma-separated list, is
// refused with 400 before any id is used, even when every id is valid and
// active; the next handler never runs and no pool is opened.
func TestMiddlewareRefusesSeveralTenants(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		reg := mwSetup(t, mode,
			mwTenant{"acme", "active", true},
			mwTenant{"globex", "active", true},
		)
		var handled []error
		plain := tenant.Middleware(reg, tenant.MiddlewareOptions{})(mwCountUsers)
		custom := tenant.Middleware(reg, tenant.MiddlewareOptions{
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				handled = append(handled, err)
				tenant.WriteError(w, r, err)
			},
		})(mwCountUsers)
		// Extract is the caller's, and the list still is refused.
		extracted := tenant.Middleware(reg, tenant.MiddlewareOptions{
			Extract: func(r *http.Request) string { return r.URL.Query().Get("tenant") },
		})(mwCountUsers)
		tests := []struct {
			name   string
			h      http.Handler
			values []string // X-Tenant-ID headers, in order
			query  string
		}{
			{"two headers", plain, []string{"acme", "globex"}, ""},
			{"same twice", plain, []string{"acme", "acme"}, ""},
			{"empty then valid", plain, []string{"", "acme"}, ""},
			{"comma list", plain, []string{"acme,globex"}, ""},
			{"comma and space", plain, []string{"acme, globex"}, ""},
			{"trailing comma", plain, []string{"acme,"}, ""},
			{"two headers, ErrorHandler", custom, []string{"globex", "acme"}, ""},
			{"comma list, ErrorHandler", custom, []string{"globex,acme"}, ""},
			{"comma list from Extract", extracted, nil, "?tenant=acme,globex"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/users"+tt.query, nil)
				for _, v := range tt.values {
					r.Header.Add("X-Tenant-ID", v)
				}
				w := httptest.NewRecorder()
				tt.h.ServeHTTP(w, r)
				if got, want := strings.TrimSpace(w.Body.String()), `{"error":"X-Tenant-ID must name exactly one tenant"}`; w.Code != http.StatusBadRequest || got != want {
					t.Errorf("GET with X-Tenant-ID %q%s = %d %s; want 400 %s", tt.values, tt.query, w.Code, got, want)
				}
			})
		}
		if len(handled) != 2 || !errors.Is(handled[0], tenant.ErrMultipleIDs) || !errors.Is(handled[1], tenant.ErrMultipleIDs) {
			t.Errorf("ErrorHandler got %v; want ErrMultipleIDs twice", handled)
		}
		if n := reg.Len(); n != 0 {
			t.Errorf("PoolCount after refused requests = %d; want 0", n)
		}
		// One header with one id still works.
		if w := mwServe(t, plain, "acme"); w.Code != http.StatusOK {
			t.Errorf("GET with one X-Tenant-ID = %d %s; want 200", w.Code, w.Body)
		}
	})
}

func TestMiddlewareConcurrent(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		reg := mwSetup(t, mode,
			mwTenant{"acme", "active", true},
			mwTenant{"globex", "active", true},
		)
		srv := httptest.NewServer(tenant.Middleware(reg, tenant.MiddlewareOptions{})(mwCountUsers))
		defer srv.Close()
		ids := []string{"acme", "globex", "nobody"}
		want := map[string]int{"acme": 200, "globex": 200, "nobody": 404}
		errs := make(chan error, 60)
		for i := range 60 {
			id := ids[i%len(ids)]
			go func() {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
				req.Header.Set("X-Tenant-ID", id)
				resp, err := srv.Client().Do(req)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want[id] {
					err = fmt.Errorf("GET tenant %q: %d %q; want %d", id, resp.StatusCode, body, want[id])
				}
				errs <- err
			}()
		}
		for range 60 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		for _, id := range ids[:2] {
			if n := mwLeases(reg, id); n != 0 {
				t.Errorf("leases of %q after all requests = %d; want 0", id, n)
			}
		}
	})
}

func BenchmarkMiddleware(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode.String(), func(b *testing.B) {
			reg := mwSetup(b, mode, mwTenant{"acme", "active", true})
			noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
			h := tenant.Middleware(reg, tenant.MiddlewareOptions{})(noop)
			r := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/users", nil)
			r.Header.Set("X-Tenant-ID", "acme")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r) // open the tenant's client: the benchmark measures hits
			if w.Code != http.StatusOK {
				b.Fatalf("warm-up request: %d %q", w.Code, w.Body)
			}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}
