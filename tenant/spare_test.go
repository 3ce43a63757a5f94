package tenant_test

import (
	"context"
	"testing"
	"time"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/tenant"
)

// queryOne runs a raw query returning one value through client.
func queryOne[T any](t *testing.T, client *ent.Client, query string) T {
	t.Helper()
	rows, err := client.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var v T
	if !rows.Next() {
		t.Fatalf("%s: no row (%v)", query, rows.Err())
	}
	if err := rows.Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

func exec(t *testing.T, client *ent.Client, query string) {
	t.Helper()
	if _, err := client.ExecContext(t.Context(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// In SearchPath mode the connection of an evicted tenant is adopted by the
// next tenant instead of a new backend being started, and nothing of the
// first tenant's session reaches the second: not its temporary tables
// (which unqualified names would find first), settings, prepared
// statements, advisory locks or search_path. A RESET then leaves the
// connection reaching no schema, not the first tenant's.
func TestSpareConnectionsCarryNothingBetweenTenants(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "a", "b")
	reg := f.newRegistry(t, tenant.Options{MaxClients: 1, MaxOpenConns: 1})

	a, releaseA := acquire(t, reg, "a")
	pid := queryOne[int](t, a, "SELECT pg_backend_pid()")
	exec(t, a, "CREATE TEMP TABLE users (id int)")
	exec(t, a, "INSERT INTO users VALUES (42)")
	exec(t, a, "SET application_name = 'tenant-a-was-here'")
	exec(t, a, "PREPARE leftover AS SELECT 1")
	exec(t, a, "SELECT pg_advisory_lock(4242)")
	if n := queryOne[int](t, a, "SELECT count(*) FROM users"); n != 1 {
		t.Fatalf("tenant a sees %d rows in its temporary users; want 1", n)
	}
	releaseA()

	b, releaseB := acquire(t, reg, "b") // evicts a (MaxClients 1)
	defer releaseB()
	if got := queryOne[int](t, b, "SELECT pg_backend_pid()"); got != pid {
		t.Fatalf("tenant b got backend %d; want a's %d, adopted", got, pid)
	}
	if s := reg.Stats(); s.Spares != 0 {
		t.Errorf("Stats.Spares = %d after b adopted the only spare; want 0", s.Spares)
	}
	checks := []struct{ query, want string }{
		{"SELECT count(*)::text FROM users", "0"}, // b's own, empty table
		{"SELECT array_to_string(current_schemas(false), ',')", "tenant_b"},
		{"SELECT current_setting('application_name') <> 'tenant-a-was-here'", "true"},
		{"SELECT count(*)::text FROM pg_prepared_statements", "0"},
		{"SELECT count(*)::text FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()", "0"},
	}
	for _, c := range checks {
		if got := queryOne[string](t, b, c.query); got != c.want {
			t.Errorf("%s = %q; want %q", c.query, got, c.want)
		}
	}
	exec(t, b, "RESET search_path")
	if _, err := b.QueryContext(t.Context(), "SELECT count(*) FROM users"); err == nil {
		t.Error("after RESET search_path an unqualified query succeeded; want it to reach no schema")
	}
}

// Spares hold their budget tokens: however tenants come and go, the
// registry never holds more connections than MaxConns, and Close closes the
// spares too.
func TestSparesStayWithinTheBudget(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ids := f.addTenants(t, "t", 12)
	reg := f.newRegistry(t, tenant.Options{MaxClients: 3, MaxConns: 6})
	pids := map[int]bool{}
	for round := range 3 {
		for _, id := range ids {
			client, release := acquire(t, reg, id)
			if _, err := client.User.Query().Count(t.Context()); err != nil {
				t.Fatalf("round %d, tenant %s: %v", round, id, err)
			}
			pids[queryOne[int](t, client, "SELECT pg_backend_pid()")] = true
			release()
			if s := reg.Stats(); s.Conns > s.MaxConns || s.Spares > s.Conns {
				t.Fatalf("Stats: %d connections (%d spares); budget %d", s.Conns, s.Spares, s.MaxConns)
			}
		}
	}
	// Without spares every acquisition after an eviction starts a backend.
	if len(pids) > 5 {
		t.Errorf("36 acquisitions of 12 tenants through 3 pools used %d backends; want at most 5 (the budget less the listener)", len(pids))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := reg.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.waitNoBackends(t)
}

// A connection that idled for ConnMaxIdleTime is closed, not kept as a
// spare: an idle server gives its backends back.
func TestIdleConnectionsAreClosedNotKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "a", "b")
	reg := f.newRegistry(t, tenant.Options{ConnMaxIdleTime: time.Second})
	for _, id := range []string{"a", "b"} {
		client, release := acquire(t, reg, id)
		holdConns(t, client, 3)
		release()
	}
	eventually(t, "idle connections closed", func() bool {
		s := reg.Stats()
		return s.Conns == 1 && s.Spares == 0 // the directory listener's
	})
}

// A connection past Options.ConnMaxLifetime is closed when it is next idle,
// in both modes, instead of being kept or adopted as a spare by another
// tenant: a backend never outlives the lifetime by more than one use, so
// the catalog it caches stays bounded. A lifetime of a nanosecond has
// always passed; the default has not, and the backend is reused.
func TestConnMaxLifetimeRetiresBackends(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		for _, c := range []struct {
			name     string
			lifetime time.Duration
			reused   bool
		}{
			{"default", 0, true},
			{"expired", time.Nanosecond, false},
		} {
			t.Run(c.name, func(t *testing.T) {
				f := newFixture(t, "a", "b")
				reg := f.newRegistry(t, tenant.Options{Mode: mode, MaxClients: 1, MaxOpenConns: 1, MaxConns: 2, ConnMaxLifetime: c.lifetime})
				a, releaseA := acquire(t, reg, "a")
				pid := queryOne[int](t, a, "SELECT pg_backend_pid()")
				releaseA()
				b, releaseB := acquire(t, reg, "b") // evicts a (MaxClients 1)
				defer releaseB()
				got := queryOne[int](t, b, "SELECT pg_backend_pid()")
				if reused := got == pid; reused != c.reused {
					t.Errorf("tenant b on backend %d after a's %d: reused = %v; want %v", got, pid, reused, c.reused)
				}
			})
		}
	})
}

// A connection that ran queries of Options.ConnMaxTenants distinct tenants
// (named by the queries' contexts) is closed when next idle, in both modes,
// instead of being kept or adopted as a spare; queries of tenants it already
// served do not count again.
func TestConnMaxTenantsRetiresBackends(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t, "a", "b", "c")
		reg := f.newRegistry(t, tenant.Options{Mode: mode, MaxOpenConns: 1, MaxConns: 2, ConnMaxTenants: 2})
		pid := func(id string) int {
			t.Helper()
			client, release := acquire(t, reg, id)
			defer release()
			var n int
			rows, err := client.QueryContext(tenant.NewContext(t.Context(), id), "SELECT pg_backend_pid()")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			if !rows.Next() || rows.Scan(&n) != nil {
				t.Fatalf("pg_backend_pid: %v", rows.Err())
			}
			return n
		}
		first := pid("a")
		if again := pid("a"); again != first {
			t.Fatalf("tenant a again on backend %d; want %d: one tenant is below the limit", again, first)
		}
		// b is the second tenant: its query runs, then the backend retires.
		if got := pid("b"); mode == tenant.Qualified && got != first {
			t.Fatalf("tenant b on backend %d; want a's %d (the shared pool's only connection)", got, first)
		}
		if got := pid("c"); got == first {
			t.Errorf("tenant c on backend %d, which already served a and b; want a new one", got)
		}
	})
}
