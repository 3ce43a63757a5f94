package tenant

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/lib/pq"
	"golang.org/x/sync/singleflight"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/internal/redact"
)

// DirectoryChannel is the PostgreSQL NOTIFY channel on which a change to the
// tenant directory is announced, with the tenant id as payload. Registries
// LISTEN on it and forget what they cached about that tenant, so a dropped or
// suspended tenant stops being served by every process.
const DirectoryChannel = "tenant_directory"

// A Registry hands out one *ent.Client per tenant. It is safe for concurrent
// use by multiple goroutines.
//
// A tenant is served only while the directory (public.tenants) lists it as
// active. The directory is read when a tenant's client is opened; changes to
// it reach a registry through notifications on DirectoryChannel (and, after
// the listener lost its connection, by checking every resident tenant
// again). At most Options.MaxPools tenant clients are kept; beyond that the
// least recently used one is evicted, and clients unused for Options.PoolTTL
// are evicted too. An evicted client is closed only after every release of
// every lease on it has been called, so eviction never breaks a running
// request. Close closes everything; afterwards Acquire returns ErrClosed.
//
// No registry lock is held while connecting, pinging, querying the directory,
// closing a pool or calling a hook.
type Registry struct {
	opts Options
	log  *slog.Logger
	// connector dials every pool's connections, with an empty search_path;
	// the pools set their own.
	connector *pq.Connector
	budget    *budget

	shared       *sql.DB        // search_path=public, or none in Qualified mode
	sharedDrv    *entsql.Driver // over shared
	sharedClient *ent.Client

	group    singleflight.Group
	listener *pq.Listener
	stop     chan struct{}
	wg       sync.WaitGroup // sweeper and listener goroutines

	hits, misses, lookups atomic.Uint64
	evictions             [len(evictReasons)]atomic.Uint64

	mu       sync.Mutex
	lru      *simplelru.LRU[string, *entry]
	reason   EvictReason          // reason of the removal in progress (lru unless set)
	pending  []eviction           // evicted by the LRU callback, to be finished outside mu
	live     map[*entry]struct{}  // entries not closed yet, evicted or not
	negative map[string]negAnswer // ids the directory does not list as active, until expiry
	epoch    uint64               // incremented by Evict: directory answers read before are stale
	closed   bool
	drained  chan struct{} // closed when live becomes empty after Close
}

// eviction is an entry removed from the LRU under mu, whose hooks (and close,
// if it had no lease) are run after mu is released.
type eviction struct {
	e      *entry
	reason EvictReason
	close  bool
}

var evictReasons = [...]EvictReason{EvictLRU, EvictTTL, EvictManual, EvictClose}

func reasonIndex(r EvictReason) int {
	for i, x := range evictReasons {
		if x == r {
			return i
		}
	}
	return 0
}

// maxNegative bounds the negative directory cache. It is separate from the
// LRU, so ids that are not tenants never push real tenants out.
const maxNegative = 4096

// lookupTimeout bounds one directory lookup, which runs on behalf of every
// caller waiting for the same id and so is detached from their contexts.
const lookupTimeout = 10 * time.Second

// New returns a Registry for the database named by dsn (a postgres:// URL or a
// key=value DSN, as accepted by lib/pq). It opens the shared pool, which it
// pings once, and starts listening on DirectoryChannel. A search_path in dsn is
// ignored: the registry sets it per pool.
//
// The directory listener holds one connection of Options.MaxConns for the
// registry's lifetime. New fails if the database cannot be reached before ctx
// is done. The caller must Close the registry.
func New(ctx context.Context, dsn string, opts Options) (*Registry, error) {
	opts = opts.withDefaults()
	base, err := pq.NewConfig(dsn)
	if err != nil {
		return nil, errorf("parse dsn: %w", redact.Error(dsn, err))
	}
	for k := range base.Runtime {
		// PostgreSQL's parameter names are case-insensitive.
		if strings.EqualFold(k, "search_path") {
			delete(base.Runtime, k)
		}
	}
	if base.Runtime == nil {
		base.Runtime = make(map[string]string, 1)
	}
	// An empty search_path names no schema at all: unqualified names resolve
	// only in pg_catalog, and unqualified DDL fails.
	base.Runtime["search_path"] = ""
	connector, err := pq.NewConnectorConfig(base)
	if err != nil {
		return nil, errorf("parse dsn: %w", redact.Error(dsn, err))
	}
	connector.Dialer(drainDialer{})
	reg := &Registry{
		opts:      opts,
		log:       opts.Logger,
		connector: connector,
		budget:    newBudget(opts.MaxConns, opts.Mode == SearchPath, opts.ConnMaxIdleTime),
		stop:      make(chan struct{}),
		reason:    EvictLRU,
		live:      make(map[*entry]struct{}),
		negative:  make(map[string]negAnswer),
	}
	if opts.Mode == SearchPath {
		// In Qualified mode the listener and the one shared pool fit the
		// budget exactly: there is never anything to shed.
		reg.budget.shed = reg.shedIdle
	}
	reg.lru, err = simplelru.NewLRU(opts.MaxPools, reg.onEvict)
	if err != nil {
		return nil, errorf("%w", err)
	}

	// The listener's connection is dialed by lib/pq itself; reserve its token.
	reg.budget.tryAcquire()
	var sc ent.SchemaConfig
	switch opts.Mode {
	case Qualified:
		reg.shared, err = reg.openPool("", opts.MaxConns-1, opts.MaxConns-1)
		sc = sharedSchemaConfig()
	case SearchPath:
		reg.shared, err = reg.openPool("public", opts.MaxOpenConns, opts.MaxIdleConns)
	default:
		err = errorf("unknown isolation mode %v", opts.Mode)
	}
	if err != nil {
		reg.budget.release()
		return nil, errorf("open shared pool: %w", err)
	}
	reg.sharedDrv = entsql.OpenDB(dialect.Postgres, reg.shared)
	reg.sharedClient = ent.NewClient(ent.Driver(reg.driver("", reg.sharedDrv)), ent.AlternateSchema(sc))
	if err := reg.shared.PingContext(ctx); err != nil {
		reg.shared.Close()
		reg.budget.release()
		return nil, fmt.Errorf("%w: ping: %w", ErrUnavailable, err)
	}
	if err := reg.listen(ctx, dsn); err != nil {
		reg.shared.Close()
		reg.budget.release()
		return nil, err
	}
	if opts.PoolTTL > 0 || reg.budget.spares != nil {
		reg.wg.Go(reg.sweep)
	}
	return reg, nil
}

// Acquire returns the client of tenant id and a release function that must be
// called when the caller is done with the client; release is idempotent. The
// client must not be used after release. Acquire validates id (ErrInvalidID),
// consults the directory before the first use (ErrNotFound), and opens the
// tenant's pool lazily without connecting. Concurrent first calls for one
// tenant open exactly one pool.
//
// Errors wrap ErrInvalidID, ErrNotFound, ErrUnavailable (the directory could
// not be read, also when ctx's deadline passed while reading it), ErrClosed,
// or ctx's error.
func (reg *Registry) Acquire(ctx context.Context, id string) (*ent.Client, func(), error) {
	// Only validated ids are ever stored, so a hit proves id valid; a miss
	// validates before anything else.
	reg.mu.Lock()
	if reg.closed {
		reg.mu.Unlock()
		return nil, nil, ErrClosed
	}
	if e, ok := reg.lru.Get(id); ok {
		release := reg.leaseLocked(e)
		reg.mu.Unlock()
		reg.hits.Add(1)
		return e.client, release, nil
	}
	reg.mu.Unlock()
	return reg.acquireSlow(ctx, id)
}

func (reg *Registry) acquireSlow(ctx context.Context, id string) (*ent.Client, func(), error) {
	schema, err := reg.opts.Namer.Schema(id)
	if err != nil {
		return nil, nil, err
	}
	reg.misses.Add(1)
	for {
		reg.mu.Lock()
		if reg.closed {
			reg.mu.Unlock()
			return nil, nil, ErrClosed
		}
		if e, ok := reg.lru.Get(id); ok {
			release := reg.leaseLocked(e)
			reg.mu.Unlock()
			return e.client, release, nil
		}
		if n, ok := reg.negative[id]; ok {
			if time.Now().Before(n.until) {
				reg.mu.Unlock()
				return nil, nil, fmt.Errorf("%w: tenant %q", n.err, id)
			}
			delete(reg.negative, id)
		}
		reg.mu.Unlock()

		ch := reg.group.DoChan(id, func() (any, error) {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
			defer cancel()
			return reg.open(ctx, id, schema)
		})
		var res singleflight.Result
		select {
		case res = <-ch:
		case <-ctx.Done():
			err := context.Cause(ctx)
			if errors.Is(err, context.DeadlineExceeded) {
				// The directory did not answer in time: the database is
				// down or its connections are all taken.
				return nil, nil, fmt.Errorf("%w: tenant %q: directory lookup: %w", ErrUnavailable, id, err)
			}
			return nil, nil, fmt.Errorf("acquire tenant %q: %w", id, err)
		}
		if res.Err != nil {
			return nil, nil, res.Err
		}
		e := res.Val.(*entry)
		reg.mu.Lock()
		if reg.closed {
			reg.mu.Unlock()
			return nil, nil, ErrClosed
		}
		if !e.closed {
			release := reg.leaseLocked(e)
			reg.mu.Unlock()
			return e.client, release, nil
		}
		// Evicted and closed between its opening and our lease: start over.
		reg.mu.Unlock()
	}
}

// open checks the directory and opens tenant id's client, once per
// singleflight group.
func (reg *Registry) open(ctx context.Context, id, schema string) (*entry, error) {
	reg.mu.Lock()
	e, ok := reg.lru.Peek(id)
	reg.mu.Unlock()
	if ok {
		return e, nil
	}
	// A directory change announced while we read the directory (Evict
	// bumps epoch) makes our answer stale: read it again.
	var epoch uint64
	for {
		reg.mu.Lock()
		epoch = reg.epoch
		reg.mu.Unlock()
		if err := reg.lookup(ctx, id, schema); err != nil {
			return nil, err
		}
		reg.mu.Lock()
		fresh := reg.epoch == epoch
		reg.mu.Unlock()
		if fresh {
			break
		}
	}
	e, err := reg.newEntry(id, schema)
	if err != nil {
		reg.hookError(ctx, id, err)
		return nil, err
	}
	if h := reg.opts.Hooks.OnPoolCreated; h != nil {
		h(id)
	}
	reg.log.InfoContext(ctx, "tenant pool opened", "tenant", id, "schema", schema, "mode", reg.opts.Mode.String())

	reg.mu.Lock()
	if reg.closed || reg.epoch != epoch {
		// Closed, or the directory changed since our lookup: this client
		// is not served; the callers start over.
		reason := EvictManual
		if reg.closed {
			reason = EvictClose
		}
		e.closed = true
		reg.mu.Unlock()
		reg.finish(ctx, []eviction{{e: e, reason: reason, close: true}})
		if reason == EvictClose {
			return nil, ErrClosed
		}
		return e, nil
	}
	e.lastUsed = time.Now()
	reg.live[e] = struct{}{}
	reg.lru.Add(id, e)
	ev := reg.takePendingLocked()
	reg.mu.Unlock()
	reg.finish(ctx, ev)
	return e, nil
}

// leaseLocked takes a lease on e and returns its release function.
func (reg *Registry) leaseLocked(e *entry) func() {
	e.leases++
	e.lastUsed = time.Now()
	if e.next == len(e.slots) {
		e.slots = make([]leaseSlot, leaseChunk)
		e.next = 0
	}
	s := &e.slots[e.next]
	e.next++
	return func() { reg.release(e, s) }
}

// release ends the lease s on e, once; the last release of an evicted entry
// closes it.
func (reg *Registry) release(e *entry, s *leaseSlot) {
	reg.mu.Lock()
	if s.done {
		reg.mu.Unlock()
		return
	}
	s.done = true
	e.lastUsed = time.Now()
	reg.unpinLocked(e)
}

// unpin ends a lease taken without a release function (see HealthCheck),
// which does not count as use.
func (reg *Registry) unpin(e *entry) {
	reg.mu.Lock()
	reg.unpinLocked(e)
}

// unpinLocked drops one lease of e and unlocks mu; the last lease of an
// evicted entry closes it.
func (reg *Registry) unpinLocked(e *entry) {
	e.leases--
	closeNow := e.evicted && e.leases == 0 && !e.closed
	if closeNow {
		e.closed = true
	}
	reg.mu.Unlock()
	if closeNow {
		reg.closeEntry(e)
	}
}

// onEvict is the LRU's eviction callback; it runs under mu.
func (reg *Registry) onEvict(_ string, e *entry) {
	e.evicted = true
	ev := eviction{e: e, reason: reg.reason}
	if e.leases == 0 && !e.closed {
		e.closed = true
		ev.close = true
	}
	reg.pending = append(reg.pending, ev)
}

// removeLocked removes id from the LRU for reason; the eviction is left in
// pending.
func (reg *Registry) removeLocked(id string, reason EvictReason) bool {
	reg.reason = reason
	ok := reg.lru.Remove(id)
	reg.reason = EvictLRU
	return ok
}

func (reg *Registry) takePendingLocked() []eviction {
	ev := reg.pending
	reg.pending = nil
	return ev
}

// finish counts, logs and reports evictions and closes the entries that had
// no lease. It must be called without mu held.
func (reg *Registry) finish(ctx context.Context, evs []eviction) {
	for _, ev := range evs {
		switch {
		case ev.close:
			reg.closeEntry(ev.e)
		case ev.e.db != nil:
			// Leased: the pool stays open until its last release, but keeps
			// no idle connection meanwhile. Idle connections of an evicted
			// pool are invisible to shedding, and their budget tokens would
			// be held for as long as the lease lasts.
			ev.e.db.SetMaxIdleConns(0)
		}
		reg.evictions[reasonIndex(ev.reason)].Add(1)
		reg.log.InfoContext(ctx, "tenant pool evicted", "tenant", ev.e.id, "schema", ev.e.schema, "reason", string(ev.reason))
		if h := reg.opts.Hooks.OnPoolEvicted; h != nil {
			h(ev.e.id, ev.reason)
		}
	}
}

// closeEntry closes e's client; the caller has set e.closed under mu.
func (reg *Registry) closeEntry(e *entry) {
	if err := e.client.Close(); err != nil {
		reg.hookError(context.Background(), e.id, fmt.Errorf("close pool of tenant %q: %w", e.id, err))
	}
	reg.mu.Lock()
	delete(reg.live, e)
	if len(reg.live) == 0 && reg.drained != nil {
		close(reg.drained)
		reg.drained = nil
	}
	reg.mu.Unlock()
}

func (reg *Registry) hookError(ctx context.Context, id string, err error) {
	reg.log.ErrorContext(ctx, "tenant pool error", "tenant", id, "err", err)
	if h := reg.opts.Hooks.OnError; h != nil {
		h(id, err)
	}
}

// AcquireVerified is Acquire followed by a ping of the tenant's schema under
// Options.Retry: transient errors are retried with backoff (ErrUnavailable
// once retries are exhausted), a missing schema is ErrNotFound. Each retry
// calls Hooks.OnRetry and logs a warning. On error no lease is held.
func (reg *Registry) AcquireVerified(ctx context.Context, id string) (*ent.Client, func(), error) {
	client, release, err := reg.Acquire(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	e, ok := reg.peek(id)
	if !ok || e.client != client {
		// Evicted while we hold the lease: verify the client we hold anyway.
		e = &entry{id: id, client: client}
		e.schema, _ = reg.opts.Namer.Schema(id)
	}
	err = reg.opts.Retry.Do(ctx, func(ctx context.Context) error {
		return reg.verify(ctx, e)
	}, func(attempt int, err error, delay time.Duration) {
		reg.log.WarnContext(ctx, "retry", "tenant", id, "attempt", attempt, "delay", delay, "err", err)
		if h := reg.opts.Hooks.OnRetry; h != nil {
			h(attempt, err, delay)
		}
	})
	if err == nil {
		return client, release, nil
	}
	release()
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnavailable):
	case IsTransient(err):
		err = fmt.Errorf("%w: tenant %q: %w", ErrUnavailable, id, err)
	default:
		err = fmt.Errorf("verify tenant %q: %w", id, err)
	}
	reg.hookError(ctx, id, err)
	return nil, nil, err
}

func (reg *Registry) peek(id string) (*entry, bool) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.lru.Peek(id)
}

// verify pings e's schema: it must exist, seen from the connections e's
// client uses.
func (reg *Registry) verify(ctx context.Context, e *entry) error {
	var ok bool
	var err error
	if e.db != nil {
		// With search_path set to a missing schema the connection works but
		// current_schema() is NULL.
		var s sql.NullString
		err = e.db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&s)
		ok = s.Valid && s.String == e.schema
	} else {
		err = reg.shared.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)", e.schema).Scan(&ok)
	}
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("%w: tenant %q: schema %s does not exist", ErrNotFound, e.id, e.schema)
	}
	return nil
}

// Shared returns the client for the public schema (plans and the tenant
// directory). It stays valid until Close. In Qualified mode it names public
// in every statement and cannot reach tenant tables.
func (reg *Registry) Shared() *ent.Client { return reg.sharedClient }

// DB returns the shared pool (search_path=public in SearchPath mode; the
// qualified pool, with an empty search_path, in Qualified mode). Migrations and
// administration use it. It stays valid until Close and must not be closed by
// the caller.
func (reg *Registry) DB() *sql.DB { return reg.shared }

// Mode returns the registry's isolation mode.
func (reg *Registry) Mode() Mode { return reg.opts.Mode }

// Schema returns the schema of tenant id under the registry's Namer. It does
// no I/O; errors wrap ErrInvalidID.
func (reg *Registry) Schema(id string) (string, error) { return reg.opts.Namer.Schema(id) }

// PoolCount returns the number of tenant clients currently held.
func (reg *Registry) PoolCount() int {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.lru.Len()
}

// HasPool reports whether tenant id has a client in the registry. It does not
// count as a use.
func (reg *Registry) HasPool(id string) bool {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.lru.Contains(id)
}

// ActiveTenants returns the ids of the tenants that have a client, most
// recently used first.
func (reg *Registry) ActiveTenants() []string {
	reg.mu.Lock()
	keys := reg.lru.Keys()
	reg.mu.Unlock()
	slices.Reverse(keys)
	return keys
}

// Evict removes tenant id's client and forgets its directory entry; the client
// is closed once its last lease is released. It reports whether a client was
// held. Hooks.OnPoolEvicted is called with EvictManual.
func (reg *Registry) Evict(id string) bool {
	reg.mu.Lock()
	reg.epoch++
	delete(reg.negative, id)
	ok := reg.removeLocked(id, EvictManual)
	ev := reg.takePendingLocked()
	reg.mu.Unlock()
	// A lookup in flight may have read the directory before the change.
	reg.group.Forget(id)
	reg.finish(context.Background(), ev)
	return ok
}

// WarmupResult is the outcome of warming one tenant.
type WarmupResult struct {
	ID          string
	AlreadyWarm bool          // the tenant had a client before Warmup
	Err         error         // nil when the client is open and its schema answered
	Duration    time.Duration // time spent on this tenant
}

// Health is the state reported by HealthCheck.
type Health string

// Health states.
const (
	Healthy   Health = "healthy"
	Degraded  Health = "degraded"
	Unhealthy Health = "unhealthy"
)

// PoolHealth is the health of one pool.
type PoolHealth struct {
	ID      string // "" for the shared pool
	Status  Health
	Latency time.Duration // of the ping
	Err     error         // of the ping; nil when Healthy or Degraded
	// Waiting is how many requests had to wait for a connection of this pool
	// while the check ran (the growth of sql.DBStats.WaitCount); a pool
	// with waiters is Degraded.
	Waiting int
}

// HealthReport is the result of HealthCheck.
type HealthReport struct {
	Status Health
	Shared PoolHealth
	Pools  []PoolHealth // tenant pools, most recently used first
}

// PoolStats are the statistics of one pool.
type PoolStats struct {
	ID     string // "" for the shared pool
	Schema string // "" for the shared pool
	// DBStats are the pool's database/sql statistics. In Qualified mode the
	// tenants share the shared pool and their DBStats are zero.
	sql.DBStats
	Leases   int
	LastUsed time.Time
}

// Stats is a snapshot of a Registry.
type Stats struct {
	Mode      Mode
	Pools     int
	MaxPools  int
	Hits      uint64 // Acquire calls served by a resident client
	Misses    uint64 // Acquire calls for a valid id without a resident client
	Lookups   uint64 // directory lookups done (concurrent misses share one)
	Evictions map[EvictReason]uint64
	Conns     int // backend connections held now, all pools and the listener
	// Spares are the connections, among Conns, that a pool closed and the
	// next pool to need one will adopt (SearchPath mode).
	Spares    int
	MaxConns  int
	ConnWaits uint64 // connection requests that had to wait for the budget
	Shared    PoolStats
	Tenants   []PoolStats // most recently used first
}

// Close evicts every client (reason close) and closes the shared pool, waiting
// up to ctx's deadline for outstanding leases to be released. It is
// idempotent; afterwards Acquire returns ErrClosed. When ctx ends first, the
// clients still leased are closed anyway and the error wraps ctx's error.
func (reg *Registry) Close(ctx context.Context) error {
	reg.mu.Lock()
	if reg.closed {
		reg.mu.Unlock()
		return nil
	}
	reg.closed = true
	for _, id := range reg.lru.Keys() {
		reg.removeLocked(id, EvictClose)
	}
	ev := reg.takePendingLocked()
	reg.mu.Unlock()
	close(reg.stop)
	reg.finish(ctx, ev)
	// From now on closed connections are closed, not kept as spares.
	reg.budget.closing.Store(true)

	reg.mu.Lock()
	var drained chan struct{}
	if len(reg.live) > 0 {
		drained = make(chan struct{})
		reg.drained = drained
	}
	reg.mu.Unlock()

	var err error
	if drained != nil {
		select {
		case <-drained:
		case <-ctx.Done():
			reg.mu.Lock()
			var force []*entry
			for e := range reg.live {
				if !e.closed {
					e.closed = true
					force = append(force, e)
				}
			}
			reg.mu.Unlock()
			err = errorf("close: %d tenant clients still leased: %w", len(force), context.Cause(ctx))
			for _, e := range force {
				reg.closeEntry(e)
			}
		}
	}
	reg.listener.Close()
	reg.wg.Wait()
	if cerr := reg.sharedClient.Close(); cerr != nil {
		reg.hookError(ctx, "", cerr)
		err = errors.Join(err, cerr)
	}
	reg.budget.closeSpares(time.Now())
	reg.budget.release() // the listener's
	return err
}

func itoa(i int) string { return strconv.Itoa(i) }

func errorf(format string, args ...any) error { return fmt.Errorf("tenant: "+format, args...) }
