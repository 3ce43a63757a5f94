package handlers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

func TestHealthPoolsMetrics(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		if got := body[healthResponse](t, e.expect(t, req{method: "GET", path: "/health"}, http.StatusOK)); got != (healthResponse{Status: "ok", Pools: 0}) {
			t.Errorf("GET /health = %+v; want ok with 0 pools", got)
		}
		e.expect(t, req{method: "GET", path: "/users", tenant: "alpha"}, http.StatusOK)
		e.expect(t, req{method: "GET", path: "/users/3f2504e0-4f89-11d3-9a0c-0305e82c3301", tenant: "beta"}, http.StatusNotFound)
		if got := body[healthResponse](t, e.expect(t, req{method: "GET", path: "/health"}, http.StatusOK)); got.Pools != 2 {
			t.Errorf("GET /health pools = %d; want 2", got.Pools)
		}
		e.expect(t, req{method: "GET", path: "/admin/pools"}, http.StatusUnauthorized)
		pools := body[poolsResponse](t, e.expect(t, req{method: "GET", path: "/admin/pools", token: testAdminToken}, http.StatusOK))
		if pools.Count != 2 || len(pools.Pools) != 2 || pools.Mode != e.reg.Mode().String() || pools.Misses < 2 || pools.MaxPools == 0 {
			t.Errorf("GET /admin/pools = %+v; want count 2, 2 pools, mode %s, ≥2 misses", pools, e.reg.Mode())
		}
		if got := body[healthResponse](t, e.expect(t, req{method: "GET", path: "/ready"}, http.StatusOK)); got.Status != "ready" {
			t.Errorf("GET /ready = %+v; want ready", got)
		}

		e.expect(t, req{method: "BREW", path: "/users", tenant: "alpha"}, http.StatusMethodNotAllowed)
		e.expect(t, req{method: "GET", path: "/no/such/route"}, http.StatusNotFound)
		w := e.do(t, req{method: "GET", path: "/metrics"})
		if w.Code != http.StatusOK {
			t.Fatalf("GET /metrics status = %d", w.Code)
		}
		text := w.Body.String()
		for _, want := range []string{
			`http_requests_total{method="GET",route="/users",status="200"} 1`,
			`http_requests_total{method="GET",route="/users/{id}",status="404"} 1`,
			`http_request_duration_seconds_count{method="GET",route="/health",status="200"} 2`,
			"pgtenant_pools 2\n",
			`pgtenant_pool_evictions_total{reason="lru"} 0`,
			"pgtenant_connections_max ",
			"pgtenant_connections_spare ",
			`pgtenant_pool_connections_open{pool="tenants"}`,
			"pgtenant_pool_misses_total ",
			`http_requests_total{method="OTHER",route="unmatched",status="405"} 1`,
			`http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("GET /metrics lacks %q in:\n%s", want, grepLines(text, "http_requests_total"))
			}
		}
	}, withAdmin)
}

func TestReadyWhenDatabaseDown(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, tenant.SearchPath)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := e.reg.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := body[errorBody](t, e.expect(t, req{method: "GET", path: "/ready"}, http.StatusServiceUnavailable))
	if got.Error != "Database unavailable" {
		t.Errorf("GET /ready on a closed pool: error = %q", got.Error)
	}
	// Liveness does not depend on the database.
	e.expect(t, req{method: "GET", path: "/health"}, http.StatusOK)
}

// TestRequestTimeout: a request whose deadline passes while it waits for
// the database answers 503, not 500, and does not hang.
func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, tenant.SearchPath)
	h := New(nil, e.reg, Options{RequestTimeout: time.Nanosecond}).Routes()
	for _, p := range []string{"/users", "/users-async"} {
		w := serve(h, newRequest(t, req{method: "GET", path: p, tenant: "alpha"}))
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("GET %s with an expired deadline status = %d; want 503; body %s", p, w.Code, w.Body)
		}
	}
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, tenant.SearchPath)
	u := e.createUser(t, "alpha", "log@example.com", "Log")
	e.expect(t, req{method: "GET", path: "/users/" + u.ID.String(), tenant: "alpha"}, http.StatusOK)
	e.expect(t, req{method: "GET", path: "/users"}, http.StatusBadRequest)
	recs := e.logs.records(t, "request")
	if len(recs) != 3 {
		t.Fatalf("%d request log lines; want 3 (one per request)", len(recs))
	}
	want := []map[string]any{
		{"tenant": "alpha", "method": "POST", "route": "/users", "status": 201.0},
		{"tenant": "alpha", "method": "GET", "route": "/users/{id}", "status": 200.0, "path": "/users/" + u.ID.String()},
		{"tenant": "", "method": "GET", "route": "/users", "status": 400.0},
	}
	for i, rec := range recs {
		for k, v := range want[i] {
			if rec[k] != v {
				t.Errorf("request log %d: %s = %v; want %v", i, k, rec[k], v)
			}
		}
		for _, k := range []string{"request_id", "bytes", "duration"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("request log %d lacks %s: %v", i, k, rec)
			}
		}
	}
	if recs[0]["request_id"] == recs[1]["request_id"] || recs[0]["request_id"] == "" {
		t.Errorf("request ids %v and %v; want distinct, non-empty", recs[0]["request_id"], recs[1]["request_id"])
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	secret := errors.New("pq: password authentication failed for user \"admin\" at 10.0.0.1")
	tests := []struct {
		err    error
		status int
		msg    string
	}{
		{fmt.Errorf("acquire: %w", tenant.ErrMissingID), 400, "Tenant ID is required"},
		{tenant.ErrMultipleIDs, 400, "X-Tenant-ID must name exactly one tenant"},
		{fmt.Errorf("acquire: %w", tenant.ErrInvalidID), 400, "Invalid tenant ID"},
		{fmt.Errorf("acquire: %w", tenant.ErrNotFound), 404, "Tenant not found"},
		{fmt.Errorf("authorize: %w", tenant.ErrForbidden), 403, "Invalid tenant"},
		{fmt.Errorf("acquire: %w: %w", tenant.ErrUnavailable, secret), 503, "Service unavailable"},
		{fmt.Errorf("list users: %w", context.DeadlineExceeded), 503, "Service unavailable"},
		{fmt.Errorf("acquire: %w", tenant.ErrClosed), 503, "Service unavailable"},
		{fmt.Errorf("authorize: %w: %w", tenant.ErrForbidden, tenant.ErrInvalidID), 403, "Invalid tenant"},
		{&http.MaxBytesError{Limit: 1}, 413, "Request body too large"},
		{invalidField("email", "is required"), 422, "Validation failed"},
		{errUserNotFound, 404, "User not found"},
		{errEmailTaken, 409, "Email already exists"},
		{fmt.Errorf("create tenant %q: %w", "gamma", migrate.ErrDropping), 409, "Tenant is being dropped; finish the drop (DELETE /admin/tenants/{id}) before creating it again"},
		{&statusError{status: 500, msg: "leaky detail", err: secret}, 500, "Internal server error"},
		{fmt.Errorf("list users: %w", secret), 500, "Internal server error"},
		{fmt.Errorf("list users: %w", context.Canceled), 499, "Client closed request"},
	}
	for _, tt := range tests {
		status, b := classify(tt.err)
		if status != tt.status || b.Error != tt.msg {
			t.Errorf("classify(%v) = %d %q; want %d %q", tt.err, status, b.Error, tt.status, tt.msg)
		}
		if strings.Contains(b.Error, "password") {
			t.Errorf("classify(%v) leaks the cause: %q", tt.err, b.Error)
		}
	}
}

// grepLines returns the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestPanicAnswersJSON500: a panicking handler behind the API's middleware
// is logged once and answered with the generic JSON 500.
func TestPanicAnswersJSON500(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	a := &API{log: slog.New(slog.NewJSONHandler(logs, nil)), metrics: newMetrics(nil)}
	h := middleware.RequestID(a.logRequests(middleware.Recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom: secret detail")
	}))))
	w := serve(h, newRequest(t, req{method: "GET", path: "/users"}))
	if w.Code != http.StatusInternalServerError || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("panic: status %d, Content-Type %q; want 500 application/json", w.Code, w.Header().Get("Content-Type"))
	}
	if got := body[errorBody](t, w); got.Error != "Internal server error" {
		t.Errorf("panic: body %s; want the generic error", w.Body)
	}
	if n := len(logs.records(t, "panic")); n != 1 {
		t.Errorf("%d panic log records; want 1", n)
	}
	if recs := logs.records(t, "request"); len(recs) != 1 || recs[0]["status"] != 500.0 {
		t.Errorf("request log = %v; want one line with status 500", recs)
	}
}

// TestBudgetExhaustedAnswers503: a request that cannot get a connection
// before its deadline, because the connection budget is used up, answers
// 503 instead of hanging.
func TestBudgetExhaustedAnswers503(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		// The budget is 3: the directory listener holds one; take the others.
		var held []*sql.Conn
		for range 2 {
			c, err := e.reg.DB().Conn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
		}
		h := New(nil, e.reg, Options{RequestTimeout: 200 * time.Millisecond}).Routes()
		for _, p := range []string{"/users", "/users-async", "/plans"} {
			w := serve(h, newRequest(t, req{method: "GET", path: p, tenant: "alpha"}))
			if w.Code != http.StatusServiceUnavailable {
				t.Errorf("GET %s with the budget exhausted: status %d; want 503; body %s", p, w.Code, w.Body)
			}
		}
		for _, c := range held {
			c.Close()
		}
		e.expect(t, req{method: "GET", path: "/users", tenant: "alpha"}, http.StatusOK)
	}, func(_ *Options, to *tenant.Options) { to.MaxConns = 3 })
}

// TestClientGoneIsNotAServerError: a request whose client went away is
// logged with 499, not as a failed (5xx) request.
func TestClientGoneIsNotAServerError(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for _, p := range []string{"/users", "/users-async"} {
			r := newRequest(t, req{method: "GET", path: p, tenant: "alpha"}).WithContext(ctx)
			if w := serve(e.h, r); w.Code >= 500 {
				t.Errorf("GET %s with the client gone: status %d; want no 5xx", p, w.Code)
			}
		}
		if n := len(e.logs.records(t, "request failed")); n != 0 {
			t.Errorf("%d \"request failed\" records for requests whose client went away; want 0", n)
		}
	})
}

// TestClientGoneDuringQuery: a query cancelled because the client went away
// fails with the server's 57014, not with the context's error; it is logged
// with 499 too, not as a failed request.
func TestClientGoneDuringQuery(t *testing.T) {
	e := newTestEnv(t, tenant.SearchPath)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := newRequest(t, req{method: "GET", path: "/users", tenant: "alpha"}).WithContext(ctx)
	w := httptest.NewRecorder()
	e.api.writeError(w, r, fmt.Errorf("list users: %w", &pq.Error{Code: "57014", Message: "canceling statement due to user request"}))
	if w.Code != tenant.StatusClientClosedRequest {
		t.Errorf("status %d; want %d", w.Code, tenant.StatusClientClosedRequest)
	}
	if n := len(e.logs.records(t, "request failed")); n != 0 {
		t.Errorf("%d \"request failed\" records; want 0", n)
	}
}
