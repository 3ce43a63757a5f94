package tenant_test

import (
	"sync"
	"testing"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/tenant"
)

// holdConns opens n transactions on client at once and commits them, so the
// tenant's pool has dialed n connections, now idle.
func holdConns(t *testing.T, client *ent.Client, n int) {
	t.Helper()
	txs := make([]*ent.Tx, n)
	for i := range txs {
		tx, err := client.Tx(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		txs[i] = tx
	}
	var wg sync.WaitGroup
	for _, tx := range txs {
		wg.Go(func() {
			if err := tx.Commit(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// idleConns returns the idle connections of each tenant's pool.
func idleConns(reg *tenant.Registry[*ent.Client]) map[string]int {
	idle := map[string]int{}
	for _, p := range reg.Stats().Tenants {
		idle[p.ID] = p.Idle
	}
	return idle
}

// A pool keeps every connection it dialed idle (MaxIdleConns defaults to
// MaxOpenConns); when the budget is spent, the registry closes an idle
// connection of the pool holding the most, so the others keep theirs.
func TestBudgetShedsTheFullestPoolFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "big", "small", "new")
	reg := f.newRegistry(t, tenant.Options{MaxConns: 8, MaxOpenConns: 5})
	// small is the least recently used pool: shedding by recency alone
	// would take its only connection.
	small, releaseSmall := acquire(t, reg, "small")
	defer releaseSmall()
	big, releaseBig := acquire(t, reg, "big")
	defer releaseBig()
	holdConns(t, small, 1)
	holdConns(t, big, 4)
	if got := idleConns(reg); got["big"] != 4 || got["small"] != 1 {
		t.Fatalf("idle connections %v; want big:4 small:1 (every dialed connection kept)", got)
	}
	newer, releaseNew := acquire(t, reg, "new")
	defer releaseNew()
	// The listener, the shared pool's connection, big's 4 and small's 1
	// leave at most 2 tokens: new's 3 connections need at least one of big's.
	holdConns(t, newer, 3)
	got := idleConns(reg)
	if got["small"] != 1 || got["new"] != 3 || got["big"] >= 4 {
		t.Errorf("idle connections %v; want small:1 new:3 and big below 4 (the fullest pool sheds)", got)
	}
	if s := reg.Stats(); s.Conns > s.MaxConns {
		t.Errorf("%d connections held; budget %d", s.Conns, s.MaxConns)
	}
}
