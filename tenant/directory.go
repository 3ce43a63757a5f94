package tenant

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pgtenant/pgtenant/internal/pglisten"
	"github.com/pgtenant/pgtenant/tenant/internal/directory"
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
func (reg *Registry[C]) lookup(ctx context.Context, id, schema string) error {
	reg.lookups.Add(1)
	t, err := directory.Served(ctx, reg.iso.shared(), id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		reg.remember(id, ErrNotFound)
		return fmt.Errorf("%w: tenant %q", ErrNotFound, id)
	case err != nil:
		if !errors.Is(err, ErrUnavailable) && IsTransient(err) {
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return fmt.Errorf("tenant directory lookup of %q: %w", id, err)
	case t.Schema != schema:
		// Serving the schema our Namer names would serve the wrong data, and
		// serving the directory's would bypass the Namer's validation.
		reg.log.WarnContext(ctx, "tenant schema mismatch", "tenant", id, "schema", schema, "directory_schema", t.Schema)
		reg.remember(id, ErrNotFound)
		return fmt.Errorf("%w: tenant %q: directory names schema %q, expected %q", ErrNotFound, id, t.Schema, schema)
	case t.Status == directory.Suspended:
		reg.remember(id, ErrSuspended)
		return fmt.Errorf("%w: tenant %q", ErrSuspended, id)
	case reg.opts.Revision != "" && (!t.Revision.Valid || t.Revision.String < reg.opts.Revision):
		// Versions are timestamp-prefixed file names: they sort in the
		// order they apply.
		have := "none"
		if t.Revision.Valid {
			have = t.Revision.String
		}
		return fmt.Errorf("%w: tenant %q is at migration %s, this release needs %s", ErrSchemaBehind, id, have, reg.opts.Revision)
	}
	return nil
}

// remember records the negative answer sentinel for id.
func (reg *Registry[C]) remember(id string, sentinel error) {
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
// DirectoryChannel or ctx is done. A notification of a valid id evicts that
// tenant; after a reconnection, which may have missed some, every resident
// tenant is checked again.
func (reg *Registry[C]) listen(ctx context.Context, dsn string) error {
	l, err := pglisten.Start(ctx, dsn, DirectoryChannel, "tenant directory listener", reg.log, pglisten.Handlers{
		Notify: func(id string) {
			if ValidateID(id) == nil {
				reg.Evict(id)
			}
		},
		Reconnected: reg.resync,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	reg.listener = l
	return nil
}

// knownLocked reports whether a directory answer remembered in reg.known
// says that id is served, with schema schema.
func (reg *Registry[C]) knownLocked(id, schema string) bool {
	if reg.known == nil {
		return false
	}
	s, ok := reg.known.Get(id)
	return ok && s == schema
}

// resync drops the remembered directory answers and evicts every resident
// tenant the directory no longer lists as active.
func (reg *Registry[C]) resync() {
	reg.mu.Lock()
	clear(reg.negative)
	if reg.known != nil {
		reg.known.Purge()
	}
	reg.epoch++
	ids := reg.lru.Keys()
	reg.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	active, err := directory.ActiveAmong(ctx, reg.iso.shared(), ids)
	if err != nil {
		// Nothing is known: forget everything rather than serve a tenant
		// that may have been dropped meanwhile.
		reg.log.Warn("tenant directory resync", "err", err)
		active = nil
	}
	for _, id := range ids {
		if !active[id] {
			reg.Evict(id)
		}
	}
}
