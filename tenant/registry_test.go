package tenant_test

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/ent/user"
	"github.com/pgtenant/pgtenant/tenant"
)

func TestAcquire(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t, "acme", "globex")
		hooks := newHookLog()
		reg := f.newRegistry(t, tenant.Options{Mode: mode, Hooks: hooks.hooks()})
		ctx := t.Context()

		if got := reg.Mode(); got != mode {
			t.Errorf("Mode() = %v; want %v", got, mode)
		}
		acme, release := acquire(t, reg, "acme")
		if _, err := acme.User.Create().SetEmail("a@acme.test").SetName("A").Save(ctx); err != nil {
			t.Fatalf("create user in acme: %v", err)
		}
		globex, releaseG := acquire(t, reg, "globex")
		// Isolation: globex does not see acme's user.
		if n, err := globex.User.Query().Count(ctx); err != nil || n != 0 {
			t.Errorf("globex users = %d, %v; want 0, nil", n, err)
		}
		if n, err := acme.User.Query().Count(ctx); err != nil || n != 1 {
			t.Errorf("acme users = %d, %v; want 1, nil", n, err)
		}
		release()
		release() // idempotent
		releaseG()

		again, release2 := acquire(t, reg, "acme")
		if again != acme {
			t.Errorf("second Acquire(acme) returned another client")
		}
		release2()

		if n := hooks.createdCount("acme"); n != 1 {
			t.Errorf("OnClientOpened(acme) called %d times; want 1", n)
		}
		st := reg.Stats()
		if st.Hits != 1 || st.Misses != 2 || st.Lookups != 2 || st.Clients != 2 {
			t.Errorf("Stats() hits=%d misses=%d lookups=%d pools=%d; want 1 2 2 2", st.Hits, st.Misses, st.Lookups, st.Clients)
		}
		if got := residentIDs(reg); strings.Join(got, ",") != "acme,globex" {
			t.Errorf("ActiveTenants() = %v; want [acme globex]", got)
		}
		if !resident(reg, "globex") || resident(reg, "initech") || reg.Len() != 2 {
			t.Errorf("HasPool/PoolCount disagree with two resident tenants")
		}
		checkNoLeases(t, reg, "after all releases")
		// Shared reaches the shared tables in both modes.
		if _, err := reg.Shared().Plan.Create().SetName("basic").Save(ctx); err != nil {
			t.Errorf("Shared().Plan.Create: %v", err)
		}
		if n, err := reg.Shared().Plan.Query().Count(ctx); err != nil || n != 1 {
			t.Errorf("Shared().Plan count = %d, %v; want 1, nil", n, err)
		}
	})
}

func TestAcquireNotFound(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t, "acme")
		f.addDirectory(t, "suspended", "tenant_suspended", "suspended")
		f.addDirectory(t, "odd", "tenant_elsewhere", "active")
		reg := f.newRegistry(t, tenant.Options{Mode: mode, NotFoundTTL: time.Hour})
		ctx := t.Context()

		for _, tt := range []struct {
			id   string
			want error
		}{{"nobody", tenant.ErrNotFound}, {"suspended", tenant.ErrSuspended}, {"odd", tenant.ErrNotFound}} {
			for range 3 {
				if _, _, err := reg.Acquire(ctx, tt.id); !errors.Is(err, tt.want) {
					t.Errorf("Acquire(%q) error = %v; want %v", tt.id, err, tt.want)
				}
			}
		}
		// The answers are cached: one lookup per id.
		if got := reg.Stats().Lookups; got != 3 {
			t.Errorf("directory lookups = %d; want 3", got)
		}
		if reg.Len() != 0 {
			t.Errorf("PoolCount() = %d; want 0", reg.Len())
		}
		// Evict forgets the negative answer.
		reg.Evict("nobody")
		reg.Acquire(ctx, "nobody")
		if got := reg.Stats().Lookups; got != 4 {
			t.Errorf("directory lookups after Evict = %d; want 4", got)
		}
	})
}

func TestHostileIDs(t *testing.T) {
	t.Parallel()
	hostile := []string{
		"", "a,tenant_b", "a'b", `a"b`, "a b", "a -c application_name=pwned",
		"-c", "Acme", "ACME", strings.Repeat("a", 64), "ténant", "a;DROP SCHEMA public",
		"a\x00b", "a&search_path=public", "../etc", "a.b", "_a",
	}
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t)
		hooks := newHookLog()
		reg := f.newRegistry(t, tenant.Options{Mode: mode, Hooks: hooks.hooks()})
		for _, id := range hostile {
			if _, _, err := reg.Acquire(t.Context(), id); !errors.Is(err, tenant.ErrInvalidID) {
				t.Errorf("Acquire(%q) error = %v; want ErrInvalidID", id, err)
			}
			if _, _, err := reg.AcquireVerified(t.Context(), id); !errors.Is(err, tenant.ErrInvalidID) {
				t.Errorf("AcquireVerified(%q) error = %v; want ErrInvalidID", id, err)
			}
		}
		st := reg.Stats()
		if st.Lookups != 0 || st.Misses != 0 || st.Clients != 0 {
			t.Errorf("after hostile ids: lookups=%d misses=%d pools=%d; want 0 0 0", st.Lookups, st.Misses, st.Clients)
		}
		if len(hooks.created) != 0 {
			t.Errorf("pools created for hostile ids: %v", hooks.created)
		}
	})
}

func TestConcurrentColdAcquire(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t, "acme")
		hooks := newHookLog()
		reg := f.newRegistry(t, tenant.Options{Mode: mode, Hooks: hooks.hooks()})

		start := make(chan struct{})
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range 100 {
			wg.Go(func() {
				<-start
				_, release, err := reg.Acquire(t.Context(), "acme")
				if err != nil {
					failed.Add(1)
					t.Errorf("Acquire: %v", err)
					return
				}
				release()
			})
		}
		close(start)
		wg.Wait()
		if n := hooks.createdCount("acme"); n != 1 {
			t.Errorf("pools opened for 100 concurrent cold Acquires = %d; want 1", n)
		}
		if n := reg.Stats().Lookups; n != 1 {
			t.Errorf("directory lookups for 100 concurrent cold Acquires = %d; want 1", n)
		}
	})
}

// TestStress hammers more tenants than MaxClients from many goroutines, with
// releases interleaved, and checks that no query fails, every opened client is
// evicted exactly once, and no backend outlives Close.
func TestStress(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t)
		const tenants = 10
		ids := f.addTenants(t, "t", tenants)
		hooks := newHookLog()
		ctx := context.Background()
		reg := f.newRegistry(t, tenant.Options{Mode: mode, MaxClients: 3, MaxConns: 12, Hooks: hooks.hooks()})

		var wg sync.WaitGroup
		var queries, failures atomic.Int64
		for g := range 16 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), 1))
				var held []func()
				for range 40 {
					id := ids[rng.IntN(tenants)]
					ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
					client, release, err := reg.Acquire(ctx, id)
					if err != nil {
						failures.Add(1)
						t.Errorf("Acquire(%s): %v", id, err)
						cancel()
						continue
					}
					if _, err := client.User.Query().Where(user.Active(true)).Count(ctx); err != nil {
						failures.Add(1)
						t.Errorf("query %s: %v", id, err)
					}
					queries.Add(1)
					cancel()
					// Keep some leases across later acquisitions, so that
					// evictions hit leased clients.
					held = append(held, release)
					if rng.IntN(3) == 0 {
						for _, r := range held {
							r()
						}
						held = held[:0]
					}
				}
				for _, r := range held {
					r()
				}
			})
		}
		wg.Wait()
		if err := reg.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if failures.Load() != 0 {
			t.Fatalf("%d of %d operations failed", failures.Load(), queries.Load())
		}
		hooks.mu.Lock()
		for _, id := range ids {
			created := hooks.created[id]
			evicted := 0
			for reason, n := range hooks.evicted[id] {
				switch reason {
				case tenant.EvictLRU, tenant.EvictClose:
				default:
					t.Errorf("tenant %s evicted %d times with reason %q; want lru or close", id, n, reason)
				}
				evicted += n
			}
			if created != evicted {
				t.Errorf("tenant %s: %d clients opened, %d evicted; want equal", id, created, evicted)
			}
		}
		if len(hooks.errs) != 0 {
			t.Errorf("OnError called: %v", hooks.errs)
		}
		hooks.mu.Unlock()
		st := reg.Stats()
		if st.Evictions[tenant.EvictLRU] == 0 {
			t.Errorf("no LRU eviction with %d tenants and MaxClients 3", tenants)
		}
		if st.Conns != 0 {
			t.Errorf("Stats().Conns after Close = %d; want 0", st.Conns)
		}
		f.waitNoBackends(t)
	})
}

func TestTTLEviction(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t, "idle", "busy")
		hooks := newHookLog()
		reg := f.newRegistry(t, tenant.Options{
			Mode: mode, ClientTTL: 300 * time.Millisecond, SweepInterval: 5 * time.Millisecond, Hooks: hooks.hooks(),
		})
		// busy is leased first, so it is idle longer than idle: only its
		// lease keeps it.
		busy, releaseBusy := acquire(t, reg, "busy")
		_, release := acquire(t, reg, "idle")
		release()
		hooks.waitEvent(t, "evicted idle ttl")
		if resident(reg, "idle") {
			t.Errorf("HasPool(idle) after TTL eviction")
		}
		if !resident(reg, "busy") {
			t.Errorf("leased tenant busy was evicted by the TTL")
		}
		if _, err := busy.User.Query().Count(t.Context()); err != nil {
			t.Errorf("query on leased client: %v", err)
		}
		releaseBusy()
		hooks.waitEvent(t, "evicted busy ttl")
		if n := reg.Stats().Evictions[tenant.EvictTTL]; n != 2 {
			t.Errorf("Stats().Evictions[ttl] = %d; want 2", n)
		}
	})
}

func TestEvictAndClose(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t, "acme", "globex")
		hooks := newHookLog()
		ctx := t.Context()
		reg, err := tenant.New(ctx, f.dsn, ent.ClientForTenant, tenant.Options{Mode: mode, Hooks: hooks.hooks()})
		if err != nil {
			t.Fatal(err)
		}

		client, release := acquire(t, reg, "acme")
		if !reg.Evict("acme") {
			t.Errorf("Evict(acme) = false; want true")
		}
		if reg.Evict("acme") {
			t.Errorf("second Evict(acme) = true; want false")
		}
		if got := hooks.evictedCount("acme", tenant.EvictManual); got != 1 {
			t.Errorf("OnClientEvicted(acme, manual) calls = %d; want 1", got)
		}
		// The lease outlives the eviction.
		if _, err := client.User.Query().Count(ctx); err != nil {
			t.Errorf("query on an evicted but leased client: %v", err)
		}
		release()
		checkClosedAfterRelease(t, mode, client)

		_, releaseG := acquire(t, reg, "globex")
		closed := make(chan error)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			closed <- reg.Close(ctx)
		}()
		// Close waits for the lease on globex.
		hooks.waitEvent(t, "evicted globex close")
		select {
		case err := <-closed:
			t.Fatalf("Close returned %v while a lease was held", err)
		default:
		}
		if _, _, err := reg.Acquire(ctx, "acme"); !errors.Is(err, tenant.ErrClosed) {
			t.Errorf("Acquire after Close = %v; want ErrClosed", err)
		}
		releaseG()
		if err := <-closed; err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := reg.Close(ctx); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if got := hooks.evictedCount("globex", tenant.EvictClose); got != 1 {
			t.Errorf("OnClientEvicted(globex, close) calls = %d; want 1", got)
		}
		if reg.Len() != 0 {
			t.Errorf("PoolCount() after Close = %d", reg.Len())
		}
		f.waitNoBackends(t)
	})
}

func TestCloseDeadline(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "acme")
	reg, err := tenant.New(t.Context(), f.dsn, ent.ClientForTenant, tenant.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, release := acquire(t, reg, "acme")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := reg.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Close with a lease held and a done context = %v; want context.Canceled", err)
	}
	release() // must not close twice or panic
}

func TestAcquireVerified(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t, "acme")
		// Listed as active, but its schema was never created.
		f.addDirectory(t, "ghost", "tenant_ghost", "active")
		var retries atomic.Int64
		reg := f.newRegistry(t, tenant.Options{Mode: mode, Hooks: tenant.Hooks{
			OnRetry: func(int, error, time.Duration) { retries.Add(1) },
		}})

		client, release, err := reg.AcquireVerified(t.Context(), "acme")
		if err != nil {
			t.Fatalf("AcquireVerified(acme): %v", err)
		}
		if _, err := client.User.Query().Count(t.Context()); err != nil {
			t.Errorf("query: %v", err)
		}
		release()

		if _, _, err := reg.AcquireVerified(t.Context(), "ghost"); !errors.Is(err, tenant.ErrNotFound) {
			t.Errorf("AcquireVerified(ghost) = %v; want ErrNotFound", err)
		}
		if n := retries.Load(); n != 0 {
			t.Errorf("a missing schema was retried %d times; want 0", n)
		}
		if _, _, err := reg.AcquireVerified(t.Context(), "nobody"); !errors.Is(err, tenant.ErrNotFound) {
			t.Errorf("AcquireVerified(nobody) = %v; want ErrNotFound", err)
		}
		checkNoLeases(t, reg, "after failed verification")
	})
}

func TestDirectoryNotifications(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t, "acme")
		hooks := newHookLog()
		reg := f.newRegistry(t, tenant.Options{Mode: mode, Hooks: hooks.hooks(), NotFoundTTL: time.Hour})
		ctx := t.Context()
		_, release := acquire(t, reg, "acme")
		release()
		notify := func(id string) {
			t.Helper()
			if _, err := f.admin.ExecContext(ctx, "SELECT pg_notify($1, $2)", tenant.DirectoryChannel, id); err != nil {
				t.Fatal(err)
			}
		}
		notify("acme")
		hooks.waitEvent(t, "evicted acme manual")

		// A cached "not found" is dropped by a notification too.
		if _, _, err := reg.Acquire(ctx, "newco"); !errors.Is(err, tenant.ErrNotFound) {
			t.Fatalf("Acquire(newco) before it exists = %v; want ErrNotFound", err)
		}
		f.addTenant(t, "newco")
		notify("newco")
		eventually(t, "newco served after its notification", func() bool {
			_, release, err := reg.Acquire(ctx, "newco")
			if err == nil {
				release()
			}
			return err == nil
		})
		// A hostile payload is ignored and the listener keeps working.
		notify("a,b")
		_, release = acquire(t, reg, "acme")
		release()
		notify("acme")
		hooks.waitEvent(t, "evicted acme manual")
	})
}

func TestLogQueries(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t, "acme")
		var buf syncBuffer
		reg := f.newRegistry(t, tenant.Options{
			Mode: mode, LogQueries: true,
			Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
		client, release := acquire(t, reg, "acme")
		defer release()
		if _, err := client.User.Query().Where(user.Email("x@acme.test")).All(t.Context()); err != nil {
			t.Fatal(err)
		}
		var found bool
		for line := range strings.Lines(buf.String()) {
			if strings.Contains(line, "msg=query") && strings.Contains(line, "tenant=acme") && strings.Contains(line, `users`) {
				found = true
			}
		}
		if !found {
			t.Errorf("no debug query line with tenant=acme in the log:\n%s", buf.String())
		}
		if !strings.Contains(buf.String(), `msg="tenant client opened" tenant=acme schema=tenant_acme`) {
			t.Errorf("no client event in the log:\n%s", buf.String())
		}
	})
}

// TestDirectoryResyncAfterReconnect checks that a tenant suspended while the
// listener was disconnected (its notification lost) is evicted once the
// listener is back.
func TestDirectoryResyncAfterReconnect(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t, "acme", "globex")
		hooks := newHookLog()
		reg := f.newRegistry(t, tenant.Options{Mode: mode, Hooks: hooks.hooks()})
		ctx := t.Context()
		for _, id := range []string{"acme", "globex"} {
			_, release := acquire(t, reg, id)
			release()
		}
		// Suspend acme without a notification, and cut the listener off.
		// With session_replication_role replica, the directory's
		// trigger does not fire.
		tx, err := f.admin.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "SET LOCAL session_replication_role = replica; UPDATE public.tenants SET status = 'suspended' WHERE id = 'acme'"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		var n int
		err = f.monitor(t).QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = $1 AND query LIKE 'LISTEN%'`, f.name).Scan(&n)
		if err != nil || n != 1 {
			t.Fatalf("terminate the listener's backend: %d, %v", n, err)
		}
		hooks.waitEvent(t, "evicted acme manual")
		if !resident(reg, "globex") {
			t.Errorf("active tenant globex was evicted by the resync")
		}
		if _, _, err := reg.Acquire(ctx, "acme"); !errors.Is(err, tenant.ErrSuspended) {
			t.Errorf("Acquire(acme) after suspension = %v; want ErrSuspended", err)
		}
	})
}

// TestKnownTenantsSkipTheDirectory checks that a tenant whose client was
// evicted is opened again without a directory query, and that the answer
// remembered for it is forgotten as a resident client is evicted: by Evict
// (what a directory notification calls) and when the listener reconnects.
func TestKnownTenantsSkipTheDirectory(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t, "acme", "globex", "initech")
		hooks := newHookLog()
		reg := f.newRegistry(t, tenant.Options{Mode: mode, MaxClients: 1, Hooks: hooks.hooks()})
		ctx := t.Context()
		use := func(id string) {
			t.Helper()
			_, release := acquire(t, reg, id)
			release()
		}
		wantLookups := func(n uint64) {
			t.Helper()
			if got := reg.Stats().Lookups; got != n {
				t.Errorf("directory lookups = %d; want %d", got, n)
			}
		}
		// Without notifying, as a change the listener missed.
		suspendSilently := func(ids ...string) {
			t.Helper()
			q := "SET LOCAL session_replication_role = replica; UPDATE public.tenants SET status = 'suspended' WHERE id IN ('" + strings.Join(ids, "', '") + "')"
			if _, err := f.admin.ExecContext(ctx, "BEGIN; "+q+"; COMMIT"); err != nil {
				t.Fatal(err)
			}
		}
		use("acme")
		use("globex") // evicts acme
		use("acme")   // evicts globex; no lookup
		wantLookups(2)
		if st := reg.Stats(); st.Misses != 3 || st.Clients != 1 {
			t.Errorf("misses = %d, clients = %d; want 3, 1", st.Misses, st.Clients)
		}

		suspendSilently("globex")
		use("globex") // remembered: as stale as a resident client would be
		wantLookups(2)
		reg.Evict("globex")
		if _, _, err := reg.Acquire(ctx, "globex"); !errors.Is(err, tenant.ErrSuspended) {
			t.Errorf("Acquire(globex) after Evict = %v; want ErrSuspended", err)
		}
		wantLookups(3)

		use("initech") // resident; acme is remembered
		suspendSilently("acme", "initech")
		var n int
		err := f.monitor(t).QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = $1 AND query LIKE 'LISTEN%'`, f.name).Scan(&n)
		if err != nil || n != 1 {
			t.Fatalf("terminate the listener's backend: %d, %v", n, err)
		}
		hooks.waitEvent(t, "evicted initech manual") // the resync's
		if _, _, err := reg.Acquire(ctx, "acme"); !errors.Is(err, tenant.ErrSuspended) {
			t.Errorf("Acquire(acme) after the listener reconnected = %v; want ErrSuspended", err)
		}
	})
}

// TestLRUEvictionKeepsLeasedClient checks that the least recently used client
// is evicted when the registry is full, and that a lease on it keeps it usable
// until released.
func TestLRUEvictionKeepsLeasedClient(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t, "acme", "globex")
		hooks := newHookLog()
		reg := f.newRegistry(t, tenant.Options{Mode: mode, MaxClients: 1, Hooks: hooks.hooks()})
		ctx := t.Context()
		acme, releaseA := acquire(t, reg, "acme")
		_, releaseG := acquire(t, reg, "globex")
		defer releaseG()
		if got := hooks.evictedCount("acme", tenant.EvictLRU); got != 1 {
			t.Fatalf("OnClientEvicted(acme, lru) calls = %d; want 1", got)
		}
		if resident(reg, "acme") || !resident(reg, "globex") {
			t.Errorf("resident tenants = %v; want [globex]", residentIDs(reg))
		}
		if _, err := acme.User.Create().SetEmail("a@acme.test").SetName("A").Save(ctx); err != nil {
			t.Errorf("write through an evicted but leased client: %v", err)
		}
		releaseA()
		checkClosedAfterRelease(t, mode, acme)
		// Back in: a new client, which sees the write.
		acme2, release := acquire(t, reg, "acme")
		defer release()
		if acme2 == acme {
			t.Errorf("Acquire after eviction returned the evicted client")
		}
		if n, err := acme2.User.Query().Count(ctx); err != nil || n != 1 {
			t.Errorf("acme users = %d, %v; want 1, nil", n, err)
		}
		if st := reg.Stats(); st.Evictions[tenant.EvictLRU] != 2 {
			t.Errorf("Stats().Evictions[lru] = %d; want 2", st.Evictions[tenant.EvictLRU])
		}
	})
}

// TestEvictDuringOpenKeepsOneClient forces two opens of one tenant: Evict
// forgets the first while it waits for the directory, so a second Acquire
// starts another. The loser must be closed and both callers must get the
// resident client; otherwise the replaced client is never closed and Close
// waits out its deadline with no lease held.
func TestEvictDuringOpenKeepsOneClient(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t, "acme")
		hooks := newHookLog()
		h := hooks.hooks()
		// The first open to be created waits in its hook until the other
		// has made its client resident.
		gate := make(chan struct{})
		var created atomic.Int64
		onCreated := h.OnClientOpened
		h.OnClientOpened = func(id string) {
			onCreated(id)
			if created.Add(1) == 1 {
				select {
				case <-gate:
				case <-t.Context().Done():
				}
			}
		}
		ctx := t.Context()
		reg, err := tenant.New(ctx, f.dsn, ent.ClientForTenant, tenant.Options{Mode: mode, Hooks: h})
		if err != nil {
			t.Fatal(err)
		}
		closed := false
		defer func() {
			if !closed {
				reg.Close(context.Background())
			}
		}()

		// Directory lookups wait for this transaction.
		locker, err := f.admin.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer locker.Rollback()
		if _, err := locker.ExecContext(ctx, "LOCK TABLE public.tenants IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		// waitLookups returns once n lookups wait for the lock.
		waitLookups := func(n int) {
			t.Helper()
			for {
				var waiting int
				err := f.monitor(t).QueryRowContext(ctx, `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
					WHERE d.datname = $1 AND l.locktype = 'relation' AND NOT l.granted`, f.name).Scan(&waiting)
				if err != nil {
					t.Fatal(err)
				}
				if waiting >= n {
					return
				}
			}
		}
		type result struct {
			client *ent.Client
			err    error
		}
		results := make(chan result, 2)
		var releases sync.WaitGroup
		acquire := func() {
			releases.Go(func() {
				client, release, err := reg.Acquire(ctx, "acme")
				results <- result{client, err}
				if err == nil {
					<-gate // hold the lease until both callers have answered
					release()
				}
			})
		}
		acquire()
		waitLookups(1)
		reg.Evict("acme")
		acquire()
		waitLookups(2)
		if err := locker.Rollback(); err != nil {
			t.Fatal(err)
		}
		first := <-results
		close(gate)
		second := <-results
		if first.err != nil || second.err != nil {
			t.Fatalf("Acquire errors: %v, %v", first.err, second.err)
		}
		if first.client != second.client {
			t.Errorf("the two Acquires got different clients; want the resident one for both")
		}
		releases.Wait()
		if n := hooks.createdCount("acme"); n != 2 {
			t.Fatalf("clients opened = %d; want 2 (the test did not force two opens)", n)
		}
		if n := hooks.evictedCount("acme", tenant.EvictManual); n != 1 {
			t.Errorf("clients closed as losers = %d; want 1", n)
		}
		if !resident(reg, "acme") {
			t.Errorf("the winner is not resident")
		}

		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		closed = true
		began := time.Now()
		if err := reg.Close(closeCtx); err != nil {
			t.Errorf("Close with no lease held: %v", err)
		}
		t.Logf("Close returned after %s", time.Since(began))
		if n := hooks.evictedCount("acme", tenant.EvictManual) + hooks.evictedCount("acme", tenant.EvictClose); n != 2 {
			t.Errorf("clients closed = %d; want both that were opened", n)
		}
		f.waitNoBackends(t)
	})
}
