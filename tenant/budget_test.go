package tenant_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgtenant/pgtenant/tenant"
)

// TestBudgetNeverExceeded hammers three times more tenants than the budget has
// connections for, sampling pg_stat_activity: the registry never holds more
// backends than MaxConns, and every query still succeeds.
func TestBudgetNeverExceeded(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t)
		const maxConns = 5 // the listener's and four for the pools
		const tenants = 3 * (maxConns - 1)
		ids := f.addTenants(t, "b", tenants)
		reg := f.newRegistry(t, tenant.Options{Mode: mode, MaxConns: maxConns, MaxClients: tenants})

		done := make(chan struct{})
		var peak, peakStat atomic.Int64
		var sampler sync.WaitGroup
		sampler.Go(func() {
			for {
				if n := int64(f.backends(t)); n > peak.Load() {
					peak.Store(n)
				}
				if n := int64(reg.Stats().Conns); n > peakStat.Load() {
					peakStat.Store(n)
				}
				select {
				case <-done:
					return
				default:
				}
			}
		})

		var wg sync.WaitGroup
		var failures atomic.Int64
		for g := range 3 * tenants {
			wg.Go(func() {
				for i := range 15 {
					id := ids[(g+i)%tenants]
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					client, release, err := reg.Acquire(ctx, id)
					if err == nil {
						_, err = client.User.Query().Count(ctx)
						release()
					}
					cancel()
					if err != nil {
						failures.Add(1)
						t.Errorf("tenant %s: %v", id, err)
					}
				}
			})
		}
		wg.Wait()
		close(done)
		sampler.Wait()
		if failures.Load() != 0 {
			t.Errorf("%d queries failed", failures.Load())
		}
		if p := peak.Load(); p > maxConns || p == 0 {
			t.Errorf("peak backends in pg_stat_activity = %d; want 1..%d", p, maxConns)
		}
		if p := peakStat.Load(); p > maxConns {
			t.Errorf("peak Stats().Conns = %d; want <= %d", p, maxConns)
		}
		t.Logf("peak backends %d, peak Stats().Conns %d, budget waits %d", peak.Load(), peakStat.Load(), reg.Stats().ConnWaits)
	})
}

// TestBudgetExhausted checks that a request that cannot get a connection
// before its deadline fails instead of hanging, and succeeds once one is free.
func TestBudgetExhausted(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t, "acme", "globex", "initech")
		// One connection for the listener, one for everything else.
		reg := f.newRegistry(t, tenant.Options{Mode: mode, MaxConns: 2})
		ctx := t.Context()
		acme, releaseA := acquire(t, reg, "acme")
		defer releaseA()
		globex, releaseG := acquire(t, reg, "globex")
		defer releaseG()
		tx, err := acme.Tx(ctx) // holds the only connection
		if err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, err = globex.User.Query().Count(short)
		cancel()
		// In SearchPath mode globex's pool waits for the budget; in Qualified
		// mode the one pool is exactly the budget and database/sql waits.
		want := map[tenant.Mode]error{tenant.SearchPath: tenant.ErrUnavailable, tenant.Qualified: context.DeadlineExceeded}[mode]
		if !errors.Is(err, want) {
			t.Errorf("query with the budget exhausted: %v; want %v", err, want)
		}
		// A cold tenant's directory lookup cannot get a connection either.
		short, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
		_, _, err = reg.Acquire(short, "initech")
		cancel()
		if !errors.Is(err, tenant.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("cold Acquire with the budget exhausted: %v; want ErrUnavailable and DeadlineExceeded", err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if _, err := globex.User.Query().Count(ctx); err != nil {
			t.Errorf("query after the budget freed up: %v", err)
		}
		if mode == tenant.SearchPath && reg.Stats().ConnWaits == 0 {
			t.Errorf("Stats().ConnWaits = 0 after a wait for the budget")
		}
	})
}

// TestBudgetNotHeldByEvictedPool checks that the idle connections of a pool
// that was evicted while leased do not keep the budget: another tenant's
// query gets a connection at once instead of waiting for the lease to end.
func TestBudgetNotHeldByEvictedPool(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "acme", "globex")
	// The listener, one shared connection and two of acme's.
	reg := f.newRegistry(t, tenant.Options{Mode: tenant.SearchPath, MaxConns: 4})
	ctx := t.Context()
	acme, releaseA := acquire(t, reg, "acme")
	defer releaseA()
	globex, releaseG := acquire(t, reg, "globex")
	defer releaseG()

	// Two transactions at once leave acme's pool with two idle connections.
	tx1, err := acme.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx2, err := acme.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(tx1.Commit(), tx2.Commit()); err != nil {
		t.Fatal(err)
	}
	// The shared pool's one connection is busy, so shedding finds nothing
	// idle among the resident pools.
	stx, err := reg.Shared().Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stx.Rollback()

	reg.Evict("acme") // leased: evicted, not closed

	bounded, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := globex.User.Query().Count(bounded); err != nil {
		t.Fatalf("query of another tenant while an evicted pool is leased: %v", err)
	}
}
