package tenant

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/ent"
	enttenant "github.com/pgtenant/pgtenant/ent/tenant"
)

// negAnswer is a remembered negative directory answer: the sentinel
// (ErrNotFound or ErrSuspended) returned for the id until the expiry.
type negAnswer struct {
	until time.Time
	err   error
}

// lookup asks the directory whether id is an active tenant whose schema is
// schema. A negative answer (ErrNotFound, or ErrSuspended for a suspended
// tenant) is remembered for Options.NotFoundTTL.
func (reg *Registry) lookup(ctx context.Context, id, schema string) error {
	reg.lookups.Add(1)
	t, err := reg.sharedClient.Tenant.Query().
		Where(enttenant.ID(id), enttenant.StatusIn(enttenant.StatusActive, enttenant.StatusSuspended)).
		Select(enttenant.FieldSchemaName, enttenant.FieldStatus, enttenant.FieldRevision).
		Only(ctx)
	switch {
	case ent.IsNotFound(err):
		reg.rememberNotFound(id)
		return fmt.Errorf("%w: tenant %q", ErrNotFound, id)
	case err != nil:
		if !errors.Is(err, ErrUnavailable) && IsTransient(err) {
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return fmt.Errorf("tenant directory lookup of %q: %w", id, err)
	case t.SchemaName != schema:
		// Serving the schema our Namer names would serve the wrong data, and
		// serving the directory's would bypass the Namer's validation.
		reg.log.WarnContext(ctx, "tenant schema mismatch", "tenant", id, "schema", schema, "directory_schema", t.SchemaName)
		reg.rememberNotFound(id)
		return fmt.Errorf("%w: tenant %q: directory names schema %q, expected %q", ErrNotFound, id, t.SchemaName, schema)
	case t.Status == enttenant.StatusSuspended:
		reg.remember(id, ErrSuspended)
		return fmt.Errorf("%w: tenant %q", ErrSuspended, id)
	case reg.opts.Revision != "" && (t.Revision == nil || *t.Revision < reg.opts.Revision):
		// Versions are timestamp-prefixed file names: they sort in the
		// order they apply.
		have := "none"
		if t.Revision != nil {
			have = *t.Revision
		}
		return fmt.Errorf("%w: tenant %q is at migration %s, this release needs %s", ErrSchemaBehind, id, have, reg.opts.Revision)
	}
	return nil
}

func (reg *Registry) rememberNotFound(id string) { reg.remember(id, ErrNotFound) }

// remember records the negative answer sentinel for id.
func (reg *Registry) remember(id string, sentinel error) {
	if reg.opts.NotFoundTTL < 0 {
		return
	}
	now := time.Now()
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if len(reg.negative) >= maxNegative {
		for k, n := range reg.negative {
			if now.After(n.until) {
				delete(reg.negative, k)
			}
		}
		// Still full of fresh entries: drop arbitrary ones. A dropped
		// entry only costs one more lookup.
		for k := range reg.negative {
			if len(reg.negative) < maxNegative {
				break
			}
			delete(reg.negative, k)
		}
	}
	reg.negative[id] = negAnswer{until: now.Add(reg.opts.NotFoundTTL), err: sentinel}
}

// listen starts the directory listener and waits until it listens on
// DirectoryChannel or ctx is done.
func (reg *Registry) listen(ctx context.Context, dsn string) error {
	l := pq.NewListener(dsn, 100*time.Millisecond, 10*time.Second, func(ev pq.ListenerEventType, err error) {
		if err != nil {
			reg.log.Warn("tenant directory listener", "event", ev.String(), "err", err)
		}
	})
	errc := make(chan error, 1)
	go func() { errc <- l.Listen(DirectoryChannel) }()
	select {
	case err := <-errc:
		if err != nil {
			l.Close()
			return fmt.Errorf("%w: listen on %s: %w", ErrUnavailable, DirectoryChannel, err)
		}
	case <-ctx.Done():
		l.Close()
		<-errc
		return fmt.Errorf("%w: listen on %s: %w", ErrUnavailable, DirectoryChannel, context.Cause(ctx))
	}
	reg.listener = l
	reg.wg.Go(func() { reg.watch(l.Notify) })
	return nil
}

// watch forgets what the registry knows about every tenant named in a
// directory notification. A nil notification means the listener reconnected
// and may have missed some: then every resident tenant is checked again.
func (reg *Registry) watch(notify <-chan *pq.Notification) {
	for {
		select {
		case <-reg.stop:
			// Keep lib/pq's listener from blocking on a full channel until
			// Close has closed it.
			go func() {
				for range notify {
				}
			}()
			return
		case n, ok := <-notify:
			switch {
			case !ok:
				return
			case n == nil:
				reg.resync()
			case ValidateID(n.Extra) == nil:
				reg.Evict(n.Extra)
			}
		}
	}
}

// resync drops the negative cache and evicts every resident tenant the
// directory no longer lists as active.
func (reg *Registry) resync() {
	reg.mu.Lock()
	clear(reg.negative)
	ids := reg.lru.Keys()
	reg.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	active, err := reg.sharedClient.Tenant.Query().
		Where(enttenant.IDIn(ids...), enttenant.StatusEQ(enttenant.StatusActive)).
		IDs(ctx)
	if err != nil {
		// Nothing is known: forget everything rather than serve a tenant
		// that may have been dropped meanwhile.
		reg.log.Warn("tenant directory resync", "err", err)
		active = nil
	}
	keep := make(map[string]bool, len(active))
	for _, id := range active {
		keep[id] = true
	}
	for _, id := range ids {
		if !keep[id] {
			reg.Evict(id)
		}
	}
}

// sweep evicts, every Options.SweepInterval, the clients without a lease that
// were last used longer than Options.PoolTTL ago and expired negative
// directory answers; and closes, every half Options.ConnMaxIdleTime, the
// spare connections idle longer than ConnMaxIdleTime, so that a spare lives
// about as long as an idle connection in a pool.
func (reg *Registry) sweep() {
	t := time.NewTicker(reg.opts.SweepInterval)
	defer t.Stop()
	var spares <-chan time.Time
	if reg.budget.spares != nil {
		st := time.NewTicker(max(reg.opts.ConnMaxIdleTime/2, time.Second))
		defer st.Stop()
		spares = st.C
	}
	for {
		select {
		case <-reg.stop:
			return
		case now := <-t.C:
			reg.sweepOnce(now)
		case now := <-spares:
			reg.budget.closeSpares(now.Add(-reg.opts.ConnMaxIdleTime))
		}
	}
}

func (reg *Registry) sweepOnce(now time.Time) {
	reg.mu.Lock()
	for _, id := range reg.lru.Keys() {
		e, _ := reg.lru.Peek(id)
		if reg.opts.PoolTTL > 0 && e.leases == 0 && now.Sub(e.lastUsed) > reg.opts.PoolTTL {
			reg.removeLocked(id, EvictTTL)
		}
	}
	for id, n := range reg.negative {
		if now.After(n.until) {
			delete(reg.negative, id)
		}
	}
	ev := reg.takePendingLocked()
	reg.mu.Unlock()
	reg.finish(context.Background(), ev)
}

// shedIdle closes idle connections of the SearchPath pools, one at a time,
// until a budget token or a spare is free: each time one of the pool with the most idle connections, the least
// recently used among equals. Trimming the fullest pool first keeps one
// idle connection in as many pools as possible, so shedding rarely takes
// the connection the next request of a tenant would have used.
func (reg *Registry) shedIdle() {
	reg.mu.Lock()
	pools := make([]*sql.DB, 0, reg.lru.Len()+1)
	pools = append(pools, reg.shared)
	for _, e := range reg.lru.Values() { // least recently used first
		if e.db != nil && !e.closed {
			pools = append(pools, e.db)
		}
	}
	reg.mu.Unlock()
	idle := make([]int, len(pools))
	total := 0
	for i, db := range pools {
		idle[i] = db.Stats().Idle
		total += idle[i]
	}
	for range total {
		v := 0
		for i := range pools {
			if idle[i] > idle[v] {
				v = i
			}
		}
		if idle[v] == 0 {
			return
		}
		// SetMaxIdleConns closes the surplus idle connections at once.
		pools[v].SetMaxIdleConns(idle[v] - 1)
		pools[v].SetMaxIdleConns(reg.opts.MaxIdleConns)
		idle[v]--
		if reg.budget.roomy() {
			return
		}
	}
}
