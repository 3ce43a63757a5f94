package tenant

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// DefaultHealthTimeout bounds each ping of HealthCheck when it is given no
// timeout.
const DefaultHealthTimeout = 5 * time.Second

// Warmup opens and verifies the clients of ids with at most concurrency
// tenants at once (default 10), returning one result per id in ids' order.
// Each tenant goes through AcquireVerified, so its directory row and schema are
// checked; a failure of one tenant does not stop the others.
func (reg *Registry) Warmup(ctx context.Context, ids []string, concurrency int) []WarmupResult {
	if concurrency <= 0 {
		concurrency = 10
	}
	results := make([]WarmupResult, len(ids))
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			start := time.Now()
			r := WarmupResult{ID: id, AlreadyWarm: reg.HasPool(id)}
			_, release, err := reg.AcquireVerified(ctx, id)
			if err == nil {
				release()
			}
			r.Err = err
			r.Duration = time.Since(start)
			results[i] = r
		})
	}
	wg.Wait()
	return results
}

// healthConcurrency bounds the pings HealthCheck runs at once, so that a check
// of many tenants does not take every connection of the budget.
const healthConcurrency = 8

// HealthCheck pings the shared pool and every open tenant pool, each bounded by
// timeout (default 5s), at most 8 at a time, without opening new pools. A tenant ping also checks
// that the tenant's schema exists. A pool is Unhealthy when its ping fails,
// Degraded when the ping took more than half the timeout or requests waited
// for its connections meanwhile. The report is Unhealthy when the shared pool
// is, Degraded when any tenant pool is not Healthy or the shared pool is
// Degraded. After Close the shared pool is reported Unhealthy.
func (reg *Registry) HealthCheck(ctx context.Context, timeout time.Duration) HealthReport {
	if timeout <= 0 {
		timeout = DefaultHealthTimeout
	}
	// Pin every resident client so none is closed under the ping. A pin is a
	// lease that does not count as use: health checks must not keep idle
	// tenants from expiring.
	reg.mu.Lock()
	var pools []*entry
	if !reg.closed {
		for _, id := range reg.lru.Keys() {
			e, _ := reg.lru.Peek(id)
			e.leases++
			pools = append(pools, e)
		}
	}
	reg.mu.Unlock()

	rep := HealthReport{Status: Healthy, Pools: make([]PoolHealth, len(pools))}
	var wg sync.WaitGroup
	wg.Go(func() {
		rep.Shared = check(ctx, "", reg.shared, timeout, func(ctx context.Context) error {
			return reg.shared.PingContext(ctx)
		})
	})
	sem := make(chan struct{}, healthConcurrency)
	for i, e := range pools {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			defer reg.unpin(e)
			db := e.db
			if db == nil {
				db = reg.shared
			}
			// Most recently used first.
			rep.Pools[len(pools)-1-i] = check(ctx, e.id, db, timeout, func(ctx context.Context) error {
				return reg.verify(ctx, e)
			})
		})
	}
	wg.Wait()
	if reg.isClosed() {
		rep.Shared.Status = Unhealthy
		rep.Shared.Err = ErrClosed
	}
	for _, p := range rep.Pools {
		if p.Status != Healthy {
			rep.Status = Degraded
		}
	}
	switch rep.Shared.Status {
	case Unhealthy:
		rep.Status = Unhealthy
	case Degraded:
		rep.Status = Degraded
	}
	return rep
}

func check(ctx context.Context, id string, db *sql.DB, timeout time.Duration, ping func(context.Context) error) PoolHealth {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	waits := db.Stats().WaitCount
	start := time.Now()
	err := ping(ctx)
	h := PoolHealth{ID: id, Status: Healthy, Latency: time.Since(start), Err: err}
	h.Waiting = int(db.Stats().WaitCount - waits)
	switch {
	case err != nil:
		h.Status = Unhealthy
	case h.Latency > timeout/2 || h.Waiting > 0:
		h.Status = Degraded
	}
	return h
}

func (reg *Registry) isClosed() bool {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.closed
}

// Stats returns a snapshot of the registry's counters and pools. It does no
// I/O and may be called after Close.
func (reg *Registry) Stats() Stats {
	s := Stats{
		Mode:      reg.opts.Mode,
		MaxPools:  reg.opts.MaxPools,
		Hits:      reg.hits.Load(),
		Misses:    reg.misses.Load(),
		Lookups:   reg.lookups.Load(),
		Evictions: make(map[EvictReason]uint64, len(evictReasons)),
		Conns:     reg.budget.inUse(),
		Spares:    len(reg.budget.spares),
		MaxConns:  reg.opts.MaxConns,
		ConnWaits: reg.budget.waits.Load(),
		Shared:    PoolStats{DBStats: reg.shared.Stats()},
	}
	for i, r := range evictReasons {
		s.Evictions[r] = reg.evictions[i].Load()
	}
	reg.mu.Lock()
	entries := reg.lru.Values()
	s.Tenants = make([]PoolStats, len(entries))
	for i, e := range entries {
		// Values are oldest first; report most recently used first.
		s.Tenants[len(entries)-1-i] = PoolStats{ID: e.id, Schema: e.schema, Leases: e.leases, LastUsed: e.lastUsed}
	}
	reg.mu.Unlock()
	s.Pools = len(entries)
	for i := range s.Tenants {
		if e := entries[len(entries)-1-i]; e.db != nil {
			s.Tenants[i].DBStats = e.db.Stats()
		}
	}
	return s
}
