package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/internal/devdb"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// TestCitus runs the scale-out scenarios on one private Citus cluster (a
// coordinator and two workers on loopback, see devdb.StartCitus), one
// subtest after the other, each in a database of its own. Without Citus it
// skips, saying why, unless CI is true and CITUS_DIST is set.
func TestCitus(t *testing.T) {
	c, err := devdb.StartCitus(t.Context(), devdb.CitusOptions{
		Dir:    t.TempDir(),
		Dist:   os.Getenv("CITUS_DIST"),
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if errors.Is(err, devdb.ErrNoCitus) && !devdb.CitusRequired(os.Getenv) {
		t.Skipf("no Citus cluster: %v", err)
	}
	if err != nil {
		t.Fatalf("StartCitus: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Remove(ctx); err != nil {
			t.Errorf("remove citus cluster: %v", err)
		}
	})
	t.Logf("citus cluster: coordinator %s, workers %s, %s; started in %v",
		c.Coordinator.Addr(), c.Workers[0].Addr(), c.Workers[1].Addr(), c.Startup.Round(time.Millisecond))

	t.Run("TenantLifecycle", func(t *testing.T) { testCitusTenantLifecycle(t, c) })
	t.Run("MoveUnderLoad", func(t *testing.T) { testCitusMoveUnderLoad(t, c, false) })
	t.Run("MoveUnderLoadAsyncCommit", func(t *testing.T) { testCitusMoveUnderLoad(t, c, true) })
	t.Run("Rebalance50Tenants", func(t *testing.T) { testCitusRebalance(t, c) })
	t.Run("DistributeInPlace", func(t *testing.T) { testCitusDistributeInPlace(t, c) })
	// Last: it stops a worker.
	t.Run("WorkerDown", func(t *testing.T) { testCitusWorkerDown(t, c) })
}

// citusDB creates a Citus database on c for t and returns its URL and a
// pool on it.
func citusDB(t *testing.T, c *devdb.Citus) (string, *sql.DB) {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "citus_" + hex.EncodeToString(b)
	if err := c.CreateDatabase(t.Context(), name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	db, err := sql.Open("postgres", c.URL(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return c.URL(name), db
}

// citusCLI runs the binary's run against url and fails t on error.
func citusCLI(t *testing.T, url string, args ...string) string {
	t.Helper()
	out, errOut, err := adminCLI{t: t, url: url}.run(args...)
	if err != nil {
		t.Fatalf("api %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// placements reads tenant → node from 'api tenant list --json'.
func placements(t *testing.T, url string) map[string]string {
	t.Helper()
	var list []tenantView
	if err := json.Unmarshal([]byte(citusCLI(t, url, "tenant", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string)
	for _, v := range list {
		out[v.ID] = v.Node
	}
	return out
}

func scalar[T any](t *testing.T, db *sql.DB, query string, args ...any) T {
	t.Helper()
	var v T
	if err := db.QueryRowContext(t.Context(), query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

// testCitusTenantLifecycle: migrate --all makes the shared tables reference
// tables, tenant create makes a distributed schema on a worker, the API's
// errors map the same as on PostgreSQL, and drop removes the schema.
func testCitusTenantLifecycle(t *testing.T, c *devdb.Citus) {
	url, db := citusDB(t, c)
	citusCLI(t, url, "migrate", "--all")
	if n := scalar[int](t, db, "SELECT count(*) FROM citus_tables WHERE citus_table_type = 'reference' AND table_name::text IN ('plans', 'tenants', 'schema_migrations')"); n != 3 {
		t.Fatalf("%d of plans, tenants, schema_migrations are reference tables; want 3", n)
	}
	citusCLI(t, url, "tenant", "create", "acme")
	if n := scalar[int](t, db, "SELECT count(*) FROM citus_schemas WHERE schema_name::text = 'tenant_acme'"); n != 1 {
		t.Fatalf("tenant_acme is not a distributed schema")
	}
	// A second run finds everything applied; status reads the distributed
	// revision tables in bulk.
	citusCLI(t, url, "migrate", "--all")
	if out := citusCLI(t, url, "status"); !strings.Contains(out, "acme") || !strings.Contains(out, "ok") {
		t.Errorf("status on Citus:\n%s", out)
	}
	node := placements(t, url)["acme"]
	if node != c.Workers[0].Addr() && node != c.Workers[1].Addr() {
		t.Fatalf("tenant list: acme on %q; want a worker", node)
	}
	var status struct{ Nodes []migrate.Node }
	if err := json.Unmarshal([]byte(citusCLI(t, url, "cluster", "status", "--json")), &status); err != nil {
		t.Fatal(err)
	}
	tenants := 0
	for _, n := range status.Nodes {
		tenants += n.Tenants
		if !n.Reachable || n.Bytes <= 0 {
			t.Errorf("cluster status: %+v; want reachable, with bytes", n)
		}
	}
	if len(status.Nodes) != 3 || tenants != 1 {
		t.Errorf("cluster status: %d nodes, %d tenants; want 3 and 1", len(status.Nodes), tenants)
	}

	// The API's error mapping on a distributed schema, in both modes.
	for _, mode := range []string{"search_path", "qualified"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s := startE2E(t, ctx, map[string]string{"DATABASE_URL": url, "TENANT_ISOLATION": mode})
			email := mode + "@example.com"
			var u e2eUser
			s.call(t, "POST", "/users", "acme", `{"email": "`+email+`", "name": "A"}`, 201, &u)
			s.call(t, "POST", "/users", "acme", `{"email": "`+strings.ToUpper(email)+`", "name": "B"}`, 409, nil)
			s.call(t, "POST", "/posts", "acme", `{"title": "t", "authorId": "00000000-0000-4000-8000-000000000000"}`, 422, nil)
			s.call(t, "POST", "/posts", "acme", `{"title": "t", "authorId": "`+u.ID+`"}`, 201, nil)
			s.call(t, "DELETE", "/users/"+u.ID, "acme", "", 409, nil)
			cancel()
			if err := <-s.done; err != nil {
				t.Fatalf("serve: %v", err)
			}
		})
	}

	citusCLI(t, url, "tenant", "drop", "acme", "--force")
	if n := scalar[int](t, db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_acme'"); n != 0 {
		t.Fatalf("tenant_acme still exists after drop")
	}
}

// loadResult is what a load generator saw.
type loadResult struct {
	mu     sync.Mutex
	acked  map[string][]string  // tenant → e-mails answered 201
	ackAt  map[string]time.Time // e-mail → when its 201 was read
	fails  []time.Time          // when a 5xx was answered
	codes  map[int]int
	others int           // requests that failed without an answer
	done   chan struct{} // closed when every writer has returned
}

// runLoad posts users to each tenant in tenants, with writers goroutines
// per tenant, until stop is closed.
func runLoad(s *e2eServer, tenants []string, writers int, stop <-chan struct{}) *loadResult {
	r := &loadResult{acked: make(map[string][]string), ackAt: make(map[string]time.Time), codes: make(map[int]int), done: make(chan struct{})}
	var wg sync.WaitGroup
	var seq atomic.Int64
	for _, tn := range tenants {
		for range writers {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					email := fmt.Sprintf("%s-%d@example.com", tn, seq.Add(1))
					req, _ := http.NewRequest("POST", s.base+"/users", strings.NewReader(`{"email": "`+email+`", "name": "L"}`))
					req.Header.Set("X-Tenant-ID", tn)
					req.Header.Set("Content-Type", "application/json")
					resp, err := http.DefaultClient.Do(req)
					r.mu.Lock()
					switch {
					case err != nil:
						r.others++
					default:
						r.codes[resp.StatusCode]++
						if resp.StatusCode == 201 {
							r.acked[tn] = append(r.acked[tn], email)
							r.ackAt[email] = time.Now()
						} else if resp.StatusCode >= 500 {
							r.fails = append(r.fails, time.Now())
						}
					}
					r.mu.Unlock()
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			})
		}
	}
	go func() {
		<-stop
		wg.Wait()
		close(r.done)
	}()
	return r
}

// checkWrites asserts that every acknowledged e-mail of each tenant is in its
// users table exactly once, and that no tenant holds another's rows.
// checkWrites fails t unless every acknowledged write of r is in its
// tenant's table exactly once and no tenant holds another's rows. It returns
// the acknowledged writes not found, by tenant.
func checkWrites(t *testing.T, db *sql.DB, r *loadResult, tenants []string) map[string][]string {
	t.Helper()
	lost := make(map[string][]string)
	for _, tn := range tenants {
		rows, err := db.QueryContext(t.Context(), "SELECT email, count(*) FROM tenant_"+tn+".users GROUP BY email")
		if err != nil {
			t.Fatal(err)
		}
		have := make(map[string]int)
		for rows.Next() {
			var e string
			var n int
			if err := rows.Scan(&e, &n); err != nil {
				t.Fatal(err)
			}
			have[e] = n
		}
		rows.Close()
		for _, e := range r.acked[tn] {
			if have[e] != 1 {
				t.Errorf("tenant %s: acknowledged %s is there %d times; want 1", tn, e, have[e])
			}
			if have[e] == 0 {
				lost[tn] = append(lost[tn], e)
			}
		}
		foreign := 0
		for e := range have {
			if !strings.HasPrefix(e, tn+"-") {
				foreign++
			}
		}
		if foreign > 0 {
			t.Errorf("tenant %s holds %d rows of other tenants", tn, foreign)
		}
	}
	return lost
}

// testCitusMoveUnderLoad moves a tenant to the other worker while writers
// post users to it and to another tenant. With asyncCommit, the workers
// commit the test database's transactions asynchronously
// (synchronous_commit off), where Citus's online move can leave writes
// acknowledged just before its switch-over behind on the old placement: the
// move must block the tenant's writes for the whole copy instead.
func testCitusMoveUnderLoad(t *testing.T, c *devdb.Citus, asyncCommit bool) {
	url, db := citusDB(t, c)
	wantMode := migrate.TransferOnline
	if asyncCommit {
		wantMode = migrate.TransferBlockWrites
		// Citus passes the setting on to every node.
		name := scalar[string](t, db, "SELECT current_database()")
		if _, err := db.ExecContext(t.Context(), "ALTER DATABASE "+pq.QuoteIdentifier(name)+" SET synchronous_commit = off"); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.Workers {
			wdb, err := sql.Open("postgres", w.URL(name))
			if err != nil {
				t.Fatal(err)
			}
			got := scalar[string](t, wdb, "SHOW synchronous_commit")
			wdb.Close()
			if got != "off" {
				t.Fatalf("worker %s: synchronous_commit = %q after ALTER DATABASE on the coordinator; want off", w.Addr(), got)
			}
		}
	}
	citusCLI(t, url, "migrate", "--all")
	tenants := []string{"mover", "stayer"}
	for _, tn := range tenants {
		citusCLI(t, url, "tenant", "create", tn)
	}
	from := placements(t, url)["mover"]
	to := c.Workers[0].Addr()
	if from == to {
		to = c.Workers[1].Addr()
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := startE2E(t, ctx, map[string]string{"DATABASE_URL": url, "TENANT_ISOLATION": "search_path"})

	stop := make(chan struct{})
	load := runLoad(s, tenants, 2, stop)
	// Let the load reach the tenant before the move starts: wait for its
	// first acknowledged write.
	waitFor(t, "the first acknowledged writes", func() bool {
		load.mu.Lock()
		defer load.mu.Unlock()
		return len(load.acked["mover"]) > 0 && len(load.acked["stayer"]) > 0
	})
	began := time.Now()
	out := citusCLI(t, url, "tenant", "move", "mover", "--to", to, "--json")
	ended := time.Now()
	// Keep writing after the switch-over until the moved tenant answered
	// again.
	load.mu.Lock()
	n := len(load.acked["mover"])
	load.mu.Unlock()
	waitFor(t, "writes to the moved tenant", func() bool {
		load.mu.Lock()
		defer load.mu.Unlock()
		return len(load.acked["mover"]) > n+10
	})
	close(stop)
	<-load.done
	cancel()
	<-s.done

	var moved struct{ Mode string }
	if err := json.Unmarshal([]byte(out), &moved); err != nil {
		t.Fatalf("tenant move --json: %v\n%s", err, out)
	}
	if moved.Mode != wantMode {
		t.Errorf("tenant move: mode %q; want %q", moved.Mode, wantMode)
	}
	if got := placements(t, url)["mover"]; got != to {
		t.Fatalf("after %q, mover is on %s; want %s", strings.TrimSpace(out), got, to)
	}
	for tn, emails := range checkWrites(t, db, load, tenants) {
		for _, e := range emails {
			at := load.ackAt[e]
			t.Logf("tenant %s: %s acknowledged %v after the move began, %v after it ended", tn, e, at.Sub(began), at.Sub(ended))
		}
		logLostWrites(t, c, url, tn, emails)
	}
	var window time.Duration
	for _, f := range load.fails {
		if f.Before(began) || f.After(ended) {
			t.Errorf("5xx at %s, outside the move (%s to %s)", f.Format(time.StampMicro), began.Format(time.StampMicro), ended.Format(time.StampMicro))
		}
	}
	if len(load.fails) > 0 {
		window = load.fails[len(load.fails)-1].Sub(load.fails[0])
	}
	if load.others > 0 {
		t.Errorf("%d requests failed without an answer", load.others)
	}
	t.Logf("move of tenant mover %s → %s under load (%s): move took %v; switch-over window (first to last 5xx) %v with %d 5xx; answers %v; acknowledged writes: mover %d, stayer %d",
		from, to, moved.Mode, ended.Sub(began).Round(time.Millisecond), window.Round(time.Millisecond), len(load.fails), load.codes, len(load.acked["mover"]), len(load.acked["stayer"]))
}

// testCitusRebalance puts 50 tenants on one worker, then rebalances.
func testCitusRebalance(t *testing.T, c *devdb.Citus) {
	url, db := citusDB(t, c)
	citusCLI(t, url, "migrate", "--all")
	host, port := splitHostPort(t, c.Workers[1].Addr())
	if _, err := db.ExecContext(t.Context(), "SELECT citus_set_node_property($1, $2, 'shouldhaveshards', false)", host, port); err != nil {
		t.Fatal(err)
	}
	const n = 50
	m := newMigrator(db, migrate.Options{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 4)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			id := fmt.Sprintf("r%02d", i)
			if _, err := m.CreateTenant(t.Context(), id, migrate.CreateOptions{}); err != nil {
				errs <- err
				return
			}
			if _, err := db.ExecContext(t.Context(), "INSERT INTO tenant_"+id+".users (email, name) VALUES ($1, 'R')", id+"@example.com"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	count := func() map[string]int {
		per := make(map[string]int)
		for _, node := range placements(t, url) {
			per[node]++
		}
		return per
	}
	if per := count(); per[c.Workers[0].Addr()] != n {
		t.Fatalf("before rebalance: %v; want all %d tenants on %s", per, n, c.Workers[0].Addr())
	}
	if _, err := db.ExecContext(t.Context(), "SELECT citus_set_node_property($1, $2, 'shouldhaveshards', true)", host, port); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	var res migrate.RebalanceResult
	if err := json.Unmarshal([]byte(citusCLI(t, url, "cluster", "rebalance", "--json")), &res); err != nil {
		t.Fatal(err)
	}
	if res.Mode != migrate.TransferOnline {
		t.Errorf("rebalance: mode %q; want %q", res.Mode, migrate.TransferOnline)
	}
	per := count()
	if per[c.Workers[0].Addr()] == 0 || per[c.Workers[1].Addr()] == 0 || per[c.Workers[0].Addr()]+per[c.Workers[1].Addr()] != n {
		t.Fatalf("after rebalance: %v; want %d tenants spread over both workers", per, n)
	}
	for i := range n {
		id := fmt.Sprintf("r%02d", i)
		if got := scalar[string](t, db, "SELECT string_agg(email, ',') FROM tenant_"+id+".users"); got != id+"@example.com" {
			t.Errorf("tenant %s users = %q after rebalance", id, got)
		}
	}
	t.Logf("rebalance of %d tenants: job %d, %d moves, %v; now %v", n, res.JobID, res.Moves, time.Since(began).Round(time.Millisecond), per)
}

func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	var port int
	if _, err := fmt.Sscan(addr[i+1:], &port); err != nil {
		t.Fatal(err)
	}
	return addr[:i], port
}

// testCitusDistributeInPlace: a database migrated and populated on a plain
// PostgreSQL server (the coordinator without the extension) becomes a Citus
// database, and 'api migrate --all' distributes what exists in place.
func testCitusDistributeInPlace(t *testing.T, c *devdb.Citus) {
	b := make([]byte, 6)
	rand.Read(b)
	name := "plain_" + hex.EncodeToString(b)
	if err := c.Coordinator.CreateDatabase(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	url := c.URL(name)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	citusCLI(t, url, "migrate", "--all")
	for _, tn := range []string{"old1", "old2"} {
		citusCLI(t, url, "tenant", "create", tn)
		if _, err := db.ExecContext(t.Context(), `WITH u AS (INSERT INTO tenant_`+tn+`.users (email, name) VALUES ($1, 'O') RETURNING id)
INSERT INTO tenant_`+tn+`.posts (title, author_id) SELECT 'p', id FROM u`, tn+"@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	if p := placements(t, url); p["old1"] != "" {
		t.Fatalf("tenant list on plain PostgreSQL shows a node: %v", p)
	}

	// The operator's path: Citus on every node, workers registered, then
	// the usual migrate.
	if err := c.CreateDatabase(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	out := citusCLI(t, url, "migrate", "--all")
	p := placements(t, url)
	for _, tn := range []string{"old1", "old2"} {
		if p[tn] != c.Workers[0].Addr() && p[tn] != c.Workers[1].Addr() {
			t.Errorf("after migrate --all (%s): %s on %q; want a worker", strings.TrimSpace(out), tn, p[tn])
		}
		if got := scalar[int](t, db, "SELECT count(*) FROM tenant_"+tn+".users u JOIN tenant_"+tn+".posts p ON p.author_id = u.id"); got != 1 {
			t.Errorf("tenant %s: %d users with posts after distributing; want 1", tn, got)
		}
	}
	if n := scalar[int](t, db, "SELECT count(*) FROM citus_tables WHERE citus_table_type = 'reference' AND table_name::text IN ('plans', 'tenants')"); n != 2 {
		t.Errorf("%d of plans, tenants are reference tables; want 2", n)
	}
	citusCLI(t, url, "tenant", "create", "new1")
	if p := placements(t, url); p["new1"] == "" {
		t.Errorf("new tenant not distributed: %v", p)
	}
}

// testCitusWorkerDown stops a worker under load: its tenants answer 503 at
// once, the other worker's keep being served, and after the worker is back
// its tenants are served again by the same process.
func testCitusWorkerDown(t *testing.T, c *devdb.Citus) {
	url, _ := citusDB(t, c)
	citusCLI(t, url, "migrate", "--all")
	// Tenants until each worker has one.
	var down, up string
	for i := 0; down == "" || up == ""; i++ {
		if i == 8 {
			t.Fatalf("8 tenants and still not one on each worker: %v", placements(t, url))
		}
		id := fmt.Sprintf("w%d", i)
		citusCLI(t, url, "tenant", "create", id)
		switch placements(t, url)[id] {
		case c.Workers[1].Addr():
			down = id
		case c.Workers[0].Addr():
			up = id
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := startE2E(t, ctx, map[string]string{"DATABASE_URL": url, "TENANT_ISOLATION": "search_path"})
	get := func(tn string) (int, time.Duration) {
		began := time.Now()
		req, _ := http.NewRequest("GET", s.base+"/users", nil)
		req.Header.Set("X-Tenant-ID", tn)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET /users (%s): %v", tn, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(began)
	}
	for _, tn := range []string{down, up} {
		if code, _ := get(tn); code != 200 {
			t.Fatalf("GET /users (%s) = %d before the stop; want 200", tn, code)
		}
	}
	stop := make(chan struct{})
	load := runLoad(s, []string{up}, 1, stop)

	if err := c.Workers[1].Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	code, took := get(down)
	if code != http.StatusServiceUnavailable {
		t.Errorf("GET /users (%s, worker stopped) = %d; want 503", down, code)
	}
	var status struct{ Nodes []migrate.Node }
	if err := json.Unmarshal([]byte(citusCLI(t, url, "cluster", "status", "--json")), &status); err != nil {
		t.Fatal(err)
	}
	for _, n := range status.Nodes {
		if want := n.Addr != c.Workers[1].Addr(); n.Reachable != want {
			t.Errorf("cluster status with %s stopped: %+v; want reachable %v", c.Workers[1].Addr(), n, want)
		}
	}
	load.mu.Lock()
	before := len(load.acked[up])
	load.mu.Unlock()
	waitFor(t, "writes to the other worker's tenant", func() bool {
		load.mu.Lock()
		defer load.mu.Unlock()
		return len(load.acked[up]) >= before+20
	})
	if code, _ := get(up); code != 200 {
		t.Errorf("GET /users (%s, other worker) = %d with a worker stopped; want 200", up, code)
	}

	if err := c.Workers[1].Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var recovered time.Duration
	began := time.Now()
	waitFor(t, "the stopped worker's tenant served again", func() bool {
		code, _ := get(down)
		recovered = time.Since(began)
		return code == 200
	})
	close(stop)
	<-load.done
	cancel()
	if err := <-s.done; err != nil {
		t.Errorf("serve: %v", err)
	}
	if len(load.codes) != 1 || load.others > 0 {
		t.Errorf("tenant %s (other worker) answers %v, %d without an answer; want only 201", up, load.codes, load.others)
	}
	t.Logf("worker %s stopped: tenant %s answered 503 in %v; tenant %s served %d writes meanwhile (answers %v); after restart, served again within %v, same process",
		c.Workers[1].Addr(), down, took.Round(time.Millisecond), up, len(load.acked[up]), load.codes, recovered.Round(time.Millisecond))
}

// logLostWrites logs where the acknowledged writes emails of tenant tn that
// the coordinator does not show are: seen by a new coordinator session, and
// in the shards of tenant tn's users table on each worker (a placement left
// behind by a move is dropped only later).
func logLostWrites(t *testing.T, c *devdb.Citus, url, tn string, emails []string) {
	t.Helper()
	count := func(db *sql.DB, table string) (n, all int, err error) {
		err = db.QueryRowContext(t.Context(), "SELECT count(*) FILTER (WHERE email = ANY($1)), count(*) FROM "+table,
			pq.Array(emails)).Scan(&n, &all)
		return n, all, err
	}
	schema := pq.QuoteIdentifier("tenant_" + tn)
	if db, err := sql.Open("postgres", url); err == nil {
		n, _, err := count(db, schema+".users")
		t.Logf("tenant %s: %d acknowledged writes missing; a new coordinator session sees %d of them (err %v)", tn, len(emails), n, err)
		db.Close()
	}
	for _, w := range c.Workers {
		db, err := sql.Open("postgres", strings.Replace(url, c.Coordinator.Addr(), w.Addr(), 1))
		if err != nil {
			continue
		}
		// One session, which sees the shards: Citus hides them from
		// pg_class otherwise.
		db.SetMaxOpenConns(1)
		if _, err := db.ExecContext(t.Context(), "SET citus.override_table_visibility TO off"); err != nil {
			t.Logf("worker %s: %v", w.Addr(), err)
		}
		var shards []string
		rows, err := db.QueryContext(t.Context(), "SELECT relname FROM pg_catalog.pg_class WHERE relnamespace = $1::regnamespace AND relname LIKE 'users\\_%' AND relkind = 'r'", "tenant_"+tn)
		if err == nil {
			for rows.Next() {
				var r string
				if rows.Scan(&r) == nil {
					shards = append(shards, r)
				}
			}
			rows.Close()
		}
		for _, r := range shards {
			n, all, err := count(db, schema+"."+pq.QuoteIdentifier(r))
			t.Logf("worker %s: shard %s holds %d of the missing writes (%d rows; err %v)", w.Addr(), r, n, all, err)
		}
		db.Close()
	}
}
