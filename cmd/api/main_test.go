package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// migs are the reference service's migrations.
var migs = tenanttest.Migrations{Public: migrations.Public(), Tenant: migrations.Tenant()}

// e2eServer is `api serve` running in-process.
type e2eServer struct {
	base string
	done chan error
	logs *lineLog
}

// lineLog collects the JSON log lines of run's stderr and reports the
// address of the "listening" line. eof is closed once every line written
// before pw was closed has been collected.
type lineLog struct {
	mu    sync.Mutex
	lines []map[string]any
	addr  chan string
	pw    *io.PipeWriter
	eof   chan struct{}
}

func newLineLog() *lineLog {
	pr, pw := io.Pipe()
	l := &lineLog{addr: make(chan string, 1), pw: pw, eof: make(chan struct{})}
	go func() {
		defer close(l.eof)
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			l.mu.Lock()
			l.lines = append(l.lines, m)
			l.mu.Unlock()
			if m["msg"] == "listening" {
				l.addr <- m["addr"].(string)
			}
		}
	}()
	return l
}

// count returns the number of log records with msg whose attributes
// include every one of attrs.
func (l *lineLog) count(msg string, attrs map[string]any) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
next:
	for _, m := range l.lines {
		if m["msg"] != msg {
			continue
		}
		for k, v := range attrs {
			if m[k] != v {
				continue next
			}
		}
		n++
	}
	return n
}

// requests returns the number of request log lines (those with a status)
// and those of them with a 5xx status.
func (l *lineLog) requests() (n int, failed []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.lines {
		status, ok := m["status"].(float64)
		if !ok || status == 0 {
			continue
		}
		n++
		if status >= 500 {
			b, _ := json.Marshal(m)
			failed = append(failed, string(b))
		}
	}
	return n, failed
}

// startE2E runs `api serve -addr 127.0.0.1:0` with env as its environment.
// Its done channel receives run's result once every log line of the run is
// in logs.
func startE2E(t *testing.T, ctx context.Context, env map[string]string) *e2eServer {
	t.Helper()
	logs := newLineLog()
	s := &e2eServer{done: make(chan error, 1), logs: logs}
	go func() {
		err := run(ctx, []string{"serve", "-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, io.Discard, logs.pw)
		logs.pw.Close()
		<-logs.eof
		s.done <- err
	}()
	select {
	case addr := <-logs.addr:
		s.base = "http://" + addr
	case err := <-s.done:
		t.Fatalf("run returned before listening: %v", err)
	case <-t.Context().Done():
		t.Fatal("test ended before the server listened")
	}
	return s
}

// call sends one request like the original README's curl examples and
// decodes the JSON answer into out (unless nil).
func (s *e2eServer) call(t *testing.T, method, path, tenantID, body string, want int, out any) http.Header {
	t.Helper()
	return s.callAuth(t, method, path, tenantID, "", body, want, out)
}

// callAuth is call with "Authorization: Bearer <token>" unless token is "".
func (s *e2eServer) callAuth(t *testing.T, method, path, tenantID, token, body string, want int, out any) http.Header {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tenantID != "" {
		req.Header.Set("X-Tenant-ID", tenantID)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s status = %d; want %d; body %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return resp.Header
}

type e2eUser struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	Active bool   `json:"active"`
}

// TestServeEndToEnd runs the binary's run function against a test
// database, walks the original README's curl flows, then cancels run's
// context (what SIGTERM does) while requests are in flight: every one of
// them succeeds and run returns nil.
func TestServeEndToEnd(t *testing.T) {
	for _, mode := range []string{"search_path", "qualified"} {
		t.Run(mode, func(t *testing.T) { testServeEndToEnd(t, mode) })
	}
}

func testServeEndToEnd(t *testing.T, mode string) {
	cfg := migs.NewDatabase(t)
	migs.NewTenant(t, cfg, "acme")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := startE2E(t, ctx, map[string]string{
		"DATABASE_URL":     tenanttest.URL(cfg),
		"ADMIN_TOKEN":      "t0ken-t0ken-t0ken-t0ken-t0ken-t0",
		"SHUTDOWN_TIMEOUT": "30s",
		"TENANT_MAX_POOLS": "5",
		"TENANT_ISOLATION": mode,
	})

	var health struct {
		Status string `json:"status"`
		Pools  int    `json:"pools"`
	}
	s.call(t, "GET", "/health", "", "", 200, &health)
	if health.Status != "ok" || health.Pools != 0 {
		t.Errorf("GET /health = %+v; want ok, 0 pools", health)
	}
	var u e2eUser
	h := s.call(t, "POST", "/users", "acme", `{"email": "john@example.com", "name": "John Doe"}`, 201, &u)
	if h.Get("Location") != "/users/"+u.ID || u.Email != "john@example.com" || !u.Active {
		t.Errorf("POST /users = %+v, Location %q", u, h.Get("Location"))
	}
	var list []e2eUser
	s.call(t, "GET", "/users", "acme", "", 200, &list)
	if len(list) != 1 || list[0] != u {
		t.Errorf("GET /users = %+v; want [%+v]", list, u)
	}
	var got e2eUser
	s.call(t, "GET", "/users/"+u.ID, "acme", "", 200, &got)
	if got != u {
		t.Errorf("GET /users/{id} = %+v; want %+v", got, u)
	}
	s.call(t, "PUT", "/users/"+u.ID, "acme", `{"name": "John Updated"}`, 200, &got)
	if got.Name != "John Updated" || got.Email != u.Email {
		t.Errorf("PUT /users/{id} = %+v", got)
	}
	s.call(t, "GET", "/users-async", "acme", "", 200, &list)
	if len(list) != 1 || list[0].Name != "John Updated" {
		t.Errorf("GET /users-async = %+v", list)
	}
	s.call(t, "DELETE", "/users/"+u.ID, "acme", "", 204, nil)
	s.call(t, "GET", "/users/"+u.ID, "acme", "", 404, nil)
	s.call(t, "GET", "/users", "", "", 400, nil)
	s.call(t, "GET", "/users", "nobody", "", 404, nil)
	var pools struct {
		Count int    `json:"count"`
		Mode  string `json:"mode"`
	}
	s.call(t, "GET", "/admin/pools", "", "", 401, nil)
	s.callAuth(t, "GET", "/admin/pools", "", "t0ken-t0ken-t0ken-t0ken-t0ken-t0", "", 200, &pools)
	if pools.Count != 1 || pools.Mode != mode {
		t.Errorf("GET /admin/pools = %+v; want count 1, mode %s", pools, mode)
	}
	s.call(t, "GET", "/ready", "", "", 200, nil)
	s.call(t, "GET", "/metrics", "", "", 200, nil)
	if n := s.logs.count("request", map[string]any{"tenant": "acme", "route": "/users/{id}", "method": "DELETE", "status": 204.0}); n != 1 {
		t.Errorf("%d request log lines for DELETE /users/{id}; want 1", n)
	}

	// Hold requests in flight: a transaction locks acme's users table, so
	// every GET /users waits for it inside the server.
	db := tenanttest.Open(t, cfg)
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(t.Context(), "LOCK TABLE tenant_acme.users IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	const inFlight = 4
	results := make(chan error, inFlight)
	for range inFlight {
		go func() {
			tr := &http.Transport{DisableKeepAlives: true}
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest("GET", s.base+"/users", nil)
			req.Header.Set("X-Tenant-ID", "acme")
			resp, err := tr.RoundTrip(req)
			if err != nil {
				results <- err
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				err = fmt.Errorf("status %d: %s", resp.StatusCode, b)
			}
			results <- err
		}()
	}
	waitFor(t, "requests blocked on the lock", func() bool {
		var n int
		err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		return err == nil && n == inFlight
	})
	cancel()
	addr := strings.TrimPrefix(s.base, "http://")
	waitFor(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	select {
	case err := <-s.done:
		t.Fatalf("run returned %v while requests were in flight", err)
	default:
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	for range inFlight {
		if err := <-results; err != nil {
			t.Errorf("in-flight request during shutdown: %v", err)
		}
	}
	if err := <-s.done; err != nil {
		t.Errorf("run = %v; want nil after a graceful shutdown", err)
	}
	if n := s.logs.count("stopped", nil); n != 1 {
		t.Errorf("%d \"stopped\" log lines; want 1", n)
	}
}

// waitFor polls cond until it holds, failing t if the test's deadline
// comes first.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !poll(t.Context(), cond) {
		t.Fatalf("gave up waiting for %s", what)
	}
}

// poll calls cond every 5ms until it holds (true) or ctx is done (false).
func poll(ctx context.Context, cond func() bool) bool {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return false
		}
	}
	return true
}
