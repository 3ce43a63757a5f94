package tenant

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/lib/pq"
	"golang.org/x/sync/singleflight"

	"github.com/pgtenant/pgtenant/internal/pglisten"
	"github.com/pgtenant/pgtenant/internal/redact"
)

// DirectoryChannel is the PostgreSQL NOTIFY channel on which a change to the
// tenant directory is announced, with the tenant id as payload. Registries
// LISTEN on it and forget what they cached about that tenant, so a dropped or
// suspended tenant stops being served by every process. The directory's
// trigger on public.tenants (created by package tenant/migrate) announces
// every insert, delete and change of status or schema_name; code that
// changes the directory has nothing to send.
const DirectoryChannel = "tenant_directory"

// NewClientFunc returns the Ent client of one tenant, or the shared client,
// over drv. schema is the schema the client must name in front of its
// tenant tables, "" when the connection's search_path selects the tenant's
// schema (SearchPath mode) and for the shared client; shared tables are
// always in public. It must not do I/O.
//
// The entpgtenant code-generation extension generates one into the user's
// ent package (ent.ClientForTenant); by hand, it is
//
//	func(drv dialect.Driver, schema string) *ent.Client {
//		return ent.NewClient(ent.Driver(drv), ent.AlternateSchema(ent.SchemaConfig{
//			Note: schema, Notebook: schema, // every tenant table
//			Account: "public",              // every shared table
//		}))
//	}
//
// which needs Ent's sql/schemaconfig feature.
type NewClientFunc[C any] func(drv dialect.Driver, schema string) C

// A Registry hands out one client of type C (the user's generated
// *ent.Client) per tenant. It is safe for concurrent use by multiple
// goroutines.
//
// A tenant is served only while the directory (public.tenants) lists it as
// active. The directory is read when a tenant's client is opened; changes to
// it reach a registry through notifications on DirectoryChannel (and, after
// the listener lost its connection, by checking every resident tenant
// again). At most Options.MaxClients tenant clients are kept; beyond that the
// least recently used one is evicted, and clients unused for
// Options.ClientTTL are evicted too. An evicted client is closed only after
// every release of every lease on it has been called, so eviction never
// breaks a running request. Close closes everything; afterwards Acquire
// returns ErrClosed.
//
// No registry lock is held while connecting, pinging, querying the directory,
// closing a pool or calling a hook.
type Registry[C any] struct {
	opts      Options
	log       *slog.Logger
	newClient NewClientFunc[C]
	iso       isolation
	budget    *budget
	sharedC   C

	group    singleflight.Group
	listener *pglisten.Listener
	stop     chan struct{}
	wg       sync.WaitGroup // sweeper goroutine

	hits, misses, lookups atomic.Uint64
	evictions             [len(evictReasons)]atomic.Uint64

	mu       sync.Mutex
	lru      *simplelru.LRU[string, *entry[C]]
	live     map[*entry[C]]struct{}         // entries not closed yet, evicted or not
	negative map[string]negAnswer           // ids the directory does not list as active, until expiry
	known    *simplelru.LRU[string, string] // id → schema of tenants the directory lists as served; nil when disabled
	epoch    uint64                         // incremented by Evict: directory answers read before are stale
	closed   bool
	drained  chan struct{} // closed when live becomes empty after Close
}

// entry is one tenant's client in a Registry. The fields below conns are
// guarded by Registry.mu.
type entry[C any] struct {
	id     string
	schema string
	client C
	conns  tenantConns

	leases   int
	lastUsed time.Time
	evicted  bool // removed from the LRU
	closed   bool // closed, or about to be by the goroutine that set this

	// Lease slots are handed out from chunks so that a lease costs one small
	// allocation (its release closure) instead of two.
	slots []leaseSlot
	next  int
}

// leaseSlot records whether one lease was released; guarded by Registry.mu.
type leaseSlot struct{ done bool }

const leaseChunk = 64

// eviction is an entry removed from the LRU under mu, whose hooks (and close,
// if it had no lease) are run after mu is released.
type eviction[C any] struct {
	e      *entry[C]
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
// key=value DSN, as accepted by lib/pq) whose clients newClient builds. It
// opens the shared pool, which it pings once, and starts listening on
// DirectoryChannel. A search_path in dsn is ignored: the registry sets it per
// pool. The database must hold the directory (package tenant/migrate creates
// it).
//
// The directory listener holds one connection of Options.MaxConns for the
// registry's lifetime. New fails if the database cannot be reached before ctx
// is done. The caller must Close the registry.
func New[C any](ctx context.Context, dsn string, newClient NewClientFunc[C], opts Options) (*Registry[C], error) {
	if newClient == nil {
		return nil, errorf("New with nil NewClientFunc")
	}
	opts = opts.withDefaults()
	connector, err := newConnector(dsn)
	if err != nil {
		return nil, err
	}
	reg := &Registry[C]{
		opts:      opts,
		log:       opts.Logger,
		newClient: newClient,
		stop:      make(chan struct{}),
		live:      make(map[*entry[C]]struct{}),
		negative:  make(map[string]negAnswer),
	}
	// Evictions are explicit (see addLocked), not the LRU's callback.
	reg.lru, err = simplelru.NewLRU[string, *entry[C]](opts.MaxClients, nil)
	if err != nil {
		return nil, errorf("%w", err)
	}
	if opts.KnownTenants > 0 {
		if reg.known, err = simplelru.NewLRU[string, string](opts.KnownTenants, nil); err != nil {
			return nil, errorf("%w", err)
		}
	}
	reg.iso, reg.budget, err = newIsolation(opts, connector, reg.residents)
	if err != nil {
		return nil, errorf("%w", err)
	}
	reg.sharedC = newClient(reg.logged("", sharedDriver{driverOf(reg.iso.shared())}), "")
	// The listener's connection is dialed by lib/pq itself; reserve its token.
	reg.budget.tryAcquire()
	fail := func(err error) (*Registry[C], error) {
		reg.iso.close()
		reg.budget.release()
		return nil, err
	}
	if err := reg.iso.shared().PingContext(ctx); err != nil {
		return fail(fmt.Errorf("%w: ping: %w", ErrUnavailable, err))
	}
	if err := reg.listen(ctx, dsn); err != nil {
		return fail(err)
	}
	if opts.ClientTTL > 0 || reg.budget.recycles() {
		reg.wg.Go(reg.sweep)
	}
	return reg, nil
}

// newConnector returns the connector of every pool: dsn's settings, with an
// empty search_path, which the pools set themselves.
func newConnector(dsn string) (*pq.Connector, error) {
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
	return connector, nil
}

// Acquire returns the client of tenant id and a release function that must be
// called when the caller is done with the client; release is idempotent. The
// client must not be used after release. Acquire validates id (ErrInvalidID),
// consults the directory before the first use (ErrNotFound), and opens the
// tenant's connections lazily without connecting. Concurrent first calls for
// one tenant open exactly one client.
//
// Errors wrap ErrInvalidID, ErrNotFound, ErrSuspended, ErrSchemaBehind,
// ErrUnavailable (the directory could not be read, also when ctx's deadline
// passed while reading it), ErrClosed, or ctx's error.
func (reg *Registry[C]) Acquire(ctx context.Context, id string) (C, func(), error) {
	e, release, err := reg.acquire(ctx, id)
	if err != nil {
		var zero C
		return zero, nil, err
	}
	return e.client, release, nil
}

// acquire is Acquire returning the leased entry.
func (reg *Registry[C]) acquire(ctx context.Context, id string) (*entry[C], func(), error) {
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
		return e, release, nil
	}
	reg.mu.Unlock()
	return reg.acquireSlow(ctx, id)
}

func (reg *Registry[C]) acquireSlow(ctx context.Context, id string) (*entry[C], func(), error) {
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
			return e, release, nil
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
		e := res.Val.(*entry[C])
		reg.mu.Lock()
		if reg.closed {
			reg.mu.Unlock()
			return nil, nil, ErrClosed
		}
		if !e.closed {
			release := reg.leaseLocked(e)
			reg.mu.Unlock()
			return e, release, nil
		}
		// Evicted and closed between its opening and our lease: start over.
		reg.mu.Unlock()
	}
}

// open checks the directory and opens tenant id's client, once per
// singleflight group. It never replaces a resident client of id: when one
// appeared meanwhile (Evict lets a second open of id start while the first
// reads the directory), it returns that one and closes its own.
func (reg *Registry[C]) open(ctx context.Context, id, schema string) (*entry[C], error) {
	if e, ok := reg.peek(id); ok {
		return e, nil
	}
	// A directory change announced while we read the directory (Evict
	// bumps epoch) makes our answer stale: read it again.
	var epoch uint64
	for {
		reg.mu.Lock()
		epoch = reg.epoch
		known := reg.knownLocked(id, schema)
		reg.mu.Unlock()
		if known {
			break
		}
		if err := reg.lookup(ctx, id, schema); err != nil {
			return nil, err
		}
		reg.mu.Lock()
		fresh := reg.epoch == epoch
		if fresh && reg.known != nil {
			reg.known.Add(id, schema)
		}
		reg.mu.Unlock()
		if fresh {
			break
		}
	}
	// Evict forgets the flight of id, so another open of id may have
	// finished while this one read the directory.
	if e, ok := reg.peek(id); ok {
		return e, nil
	}
	conns := reg.iso.open(schema)
	e := &entry[C]{
		id:     id,
		schema: schema,
		conns:  conns,
		client: reg.newClient(reg.logged(id, conns.driver()), conns.qualifier()),
	}
	if h := reg.opts.Hooks.OnClientOpened; h != nil {
		h(id)
	}
	reg.log.InfoContext(ctx, "tenant client opened", "tenant", id, "schema", schema, "mode", reg.opts.Mode.String())

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
		reg.finish(ctx, []eviction[C]{{e: e, reason: reason, close: true}})
		if reason == EvictClose {
			return nil, ErrClosed
		}
		return e, nil
	}
	if cur, ok := reg.lru.Peek(id); ok {
		// Another open of id won the race since the check above. Adding
		// ours would replace it, leaving its client open forever: serve
		// the resident one and close ours, which nobody has seen.
		e.closed = true
		reg.mu.Unlock()
		reg.finish(ctx, []eviction[C]{{e: e, reason: EvictManual, close: true}})
		return cur, nil
	}
	e.lastUsed = time.Now()
	reg.live[e] = struct{}{}
	var evs []eviction[C]
	if reg.lru.Len() >= reg.opts.MaxClients {
		if _, old, ok := reg.lru.RemoveOldest(); ok {
			evs = append(evs, reg.evictedLocked(old, EvictLRU))
		}
	}
	reg.lru.Add(id, e)
	reg.mu.Unlock()
	reg.finish(ctx, evs)
	return e, nil
}

// leaseLocked takes a lease on e and returns its release function.
func (reg *Registry[C]) leaseLocked(e *entry[C]) func() {
	e.leases++
	e.lastUsed = time.Now()
	if e.next == len(e.slots) {
		e.slots = make([]leaseSlot, leaseChunk)
		e.next = 0
	}
	s := &e.slots[e.next]
	e.next++
	return func() { reg.unlease(e, s) }
}

// unlease ends the lease s on e, once. The last lease of an evicted entry
// closes it.
func (reg *Registry[C]) unlease(e *entry[C], s *leaseSlot) {
	reg.mu.Lock()
	if s.done {
		reg.mu.Unlock()
		return
	}
	s.done = true
	e.lastUsed = time.Now()
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

// evictedLocked marks e, just removed from the LRU, evicted for reason and
// returns the eviction to finish once mu is released.
func (reg *Registry[C]) evictedLocked(e *entry[C], reason EvictReason) eviction[C] {
	e.evicted = true
	ev := eviction[C]{e: e, reason: reason}
	if e.leases == 0 && !e.closed {
		e.closed = true
		ev.close = true
	}
	return ev
}

// removeLocked removes id from the LRU for reason, returning the eviction to
// finish once mu is released.
func (reg *Registry[C]) removeLocked(id string, reason EvictReason) (eviction[C], bool) {
	e, ok := reg.lru.Peek(id)
	if !ok {
		return eviction[C]{}, false
	}
	reg.lru.Remove(id)
	return reg.evictedLocked(e, reason), true
}

// finish counts, logs and reports evictions and closes the entries that had
// no lease. It must be called without mu held.
func (reg *Registry[C]) finish(ctx context.Context, evs []eviction[C]) {
	for _, ev := range evs {
		if ev.close {
			reg.closeEntry(ev.e)
		} else {
			ev.e.conns.retire()
		}
		reg.evictions[reasonIndex(ev.reason)].Add(1)
		reg.log.InfoContext(ctx, "tenant client evicted", "tenant", ev.e.id, "schema", ev.e.schema, "reason", string(ev.reason))
		if h := reg.opts.Hooks.OnClientEvicted; h != nil {
			h(ev.e.id, ev.reason)
		}
	}
}

// closeEntry closes e's connections; the caller has set e.closed under mu.
func (reg *Registry[C]) closeEntry(e *entry[C]) {
	if err := e.conns.close(); err != nil {
		reg.hookError(context.Background(), e.id, fmt.Errorf("close client of tenant %q: %w", e.id, err))
	}
	reg.mu.Lock()
	delete(reg.live, e)
	if len(reg.live) == 0 && reg.drained != nil {
		close(reg.drained)
		reg.drained = nil
	}
	reg.mu.Unlock()
}

func (reg *Registry[C]) hookError(ctx context.Context, id string, err error) {
	reg.log.ErrorContext(ctx, "tenant client error", "tenant", id, "err", err)
	if h := reg.opts.Hooks.OnError; h != nil {
		h(id, err)
	}
}

func (reg *Registry[C]) peek(id string) (*entry[C], bool) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.lru.Peek(id)
}

// residents returns the resident tenants' connections, least recently used
// first.
func (reg *Registry[C]) residents() []tenantConns {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	out := make([]tenantConns, 0, reg.lru.Len())
	for _, e := range reg.lru.Values() {
		if !e.closed {
			out = append(out, e.conns)
		}
	}
	return out
}

// logged wraps drv with query logging when Options.LogQueries is set.
func (reg *Registry[C]) logged(id string, drv dialect.Driver) dialect.Driver {
	if !reg.opts.LogQueries {
		return drv
	}
	log := reg.log
	return dialect.DebugWithContext(drv, func(ctx context.Context, args ...any) {
		log.DebugContext(ctx, "query", "tenant", id, "query", fmt.Sprint(args...))
	})
}

// Shared returns the client for the public schema's shared tables. It stays
// valid until Close. Its tenant tables are unqualified, so in Qualified mode
// they cannot be reached, and in SearchPath mode they resolve in public.
func (reg *Registry[C]) Shared() C { return reg.sharedC }

// DB returns the shared pool (search_path=public in SearchPath mode; the
// pool every tenant shares, with an empty search_path, in Qualified mode).
// Migrations and administration use it. It stays valid until Close and must
// not be closed by the caller.
func (reg *Registry[C]) DB() *sql.DB { return reg.iso.shared() }

// Mode returns the registry's isolation mode.
func (reg *Registry[C]) Mode() Mode { return reg.opts.Mode }

// Schema returns the schema of tenant id under the registry's Namer. It does
// no I/O; errors wrap ErrInvalidID.
func (reg *Registry[C]) Schema(id string) (string, error) { return reg.opts.Namer.Schema(id) }

// Len returns the number of resident tenant clients: Stats().Clients without
// the cost of the snapshot, for health endpoints.
func (reg *Registry[C]) Len() int {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.lru.Len()
}

// Evict removes tenant id's client and forgets its directory entry; the client
// is closed once its last lease is released. It reports whether a client was
// held. Hooks.OnClientEvicted is called with EvictManual.
func (reg *Registry[C]) Evict(id string) bool {
	reg.mu.Lock()
	reg.epoch++
	delete(reg.negative, id)
	if reg.known != nil {
		reg.known.Remove(id)
	}
	ev, ok := reg.removeLocked(id, EvictManual)
	reg.mu.Unlock()
	// A lookup in flight may have read the directory before the change.
	reg.group.Forget(id)
	if ok {
		reg.finish(context.Background(), []eviction[C]{ev})
	}
	return ok
}

// Close evicts every client (reason close) and closes the shared pool, waiting
// up to ctx's deadline for outstanding leases to be released. It is
// idempotent; afterwards Acquire returns ErrClosed. When ctx ends first, the
// clients still leased are closed anyway and the error wraps ctx's error.
func (reg *Registry[C]) Close(ctx context.Context) error {
	reg.mu.Lock()
	if reg.closed {
		reg.mu.Unlock()
		return nil
	}
	reg.closed = true
	var evs []eviction[C]
	for _, id := range reg.lru.Keys() {
		if ev, ok := reg.removeLocked(id, EvictClose); ok {
			evs = append(evs, ev)
		}
	}
	reg.mu.Unlock()
	close(reg.stop)
	reg.finish(ctx, evs)
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
			var force []*entry[C]
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
	if cerr := reg.iso.close(); cerr != nil {
		reg.hookError(ctx, "", cerr)
		err = errors.Join(err, cerr)
	}
	reg.budget.closeSpares(time.Now())
	reg.budget.release() // the listener's
	return err
}

func itoa(i int) string { return strconv.Itoa(i) }

func errorf(format string, args ...any) error { return fmt.Errorf("tenant: "+format, args...) }
