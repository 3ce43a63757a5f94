package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/lib/pq"
)

// SeedFunc seeds one tenant through drv, an Ent driver whose every statement
// runs in the tenant's seeding transaction, with the tenant's schema as
// search_path: build the tenant's client over it with the qualifier ""
// (ent.ClientForTenant(drv, "")). It must not start transactions of its own
// (client.Tx fails). Returning an error rolls the tenant's seeding back.
type SeedFunc func(ctx context.Context, drv dialect.Driver) error

// SeedOptions select and pace the tenants of SeedAll and SeedSQL.
type SeedOptions struct {
	// IDs are the tenants to seed; nil means every active or suspended
	// tenant in the directory. Every id must be valid (else nothing runs);
	// an id the directory does not list as active or suspended gets a
	// Result with an error.
	IDs []string

	// Concurrency is how many tenants are seeded at once; zero or less means
	// the Migrator's Options.Concurrency.
	Concurrency int

	// Progress, if not nil, is called after each tenant finishes, from the
	// goroutine that called SeedAll, never concurrently.
	Progress func(Progress)
}

// SeedAll runs fn once per selected tenant, each in its own transaction
// under the tenant's migration lock (so it never interleaves with a
// migration of that schema), with a bounded number of tenants at once. A
// tenant whose fn fails is rolled back alone: the others commit. The Report
// lists one Result per tenant, ordered by id (Public is unused); the error is
// non-nil when the directory cannot be read, an id is invalid, or any tenant
// failed (errors.Join of the tenant errors, each naming its tenant).
func (m *Migrator) SeedAll(ctx context.Context, fn SeedFunc, opts SeedOptions) (*Report, error) {
	return m.seed(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return fn(ctx, entsql.NewDriver(dialect.Postgres, entsql.Conn{ExecQuerier: tx}))
	}, opts)
}

// SeedSQL is SeedAll for a script of SQL statements, run as one simple-query
// batch in each tenant's transaction with the tenant's schema as
// search_path, so unqualified names are the tenant's tables. The script is
// trusted: it is the operator's.
func (m *Migrator) SeedSQL(ctx context.Context, script string, opts SeedOptions) (*Report, error) {
	return m.seed(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, script)
		return err
	}, opts)
}

func (m *Migrator) seed(ctx context.Context, fn func(context.Context, *sql.Tx) error, opts SeedOptions) (*Report, error) {
	start := time.Now()
	rep := &Report{}
	for _, id := range opts.IDs {
		if _, err := m.namer.Schema(id); err != nil {
			return rep, err
		}
	}
	rows, err := m.directoryOf(ctx, opts.IDs, "WHERE status IN ('active', 'suspended')")
	if err != nil {
		return rep, err
	}
	byID, ids := indexDirectory(rows, opts.IDs)
	workers := m.workers
	if opts.Concurrency > 0 {
		workers = opts.Concurrency
	}
	rep.Tenants = make([]Result, len(ids))
	type done struct{ i int }
	out := make(chan done)
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	go func() {
		for i, id := range ids {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				rep.Tenants[i] = Result{ID: id, Err: fmt.Errorf("seed tenant %q: %w", id, context.Cause(ctx))}
				wg.Go(func() { out <- done{i} })
				continue
			}
			wg.Go(func() {
				defer func() { <-sem }()
				r := Result{ID: id}
				r.Schema, _ = m.namer.Schema(id)
				began := time.Now()
				d, ok := byID[id]
				switch {
				case !ok:
					r.Err = fmt.Errorf("seed tenant %q: not an active or suspended tenant", id)
				case d.schema != r.Schema:
					r.Err = fmt.Errorf("seed tenant %q: directory names schema %s, the Namer %s", id, d.schema, r.Schema)
				default:
					if err := m.seedOne(ctx, r.Schema, fn); err != nil {
						r.Err = fmt.Errorf("seed tenant %q: %w", id, err)
					}
				}
				r.Duration = time.Since(began)
				rep.Tenants[i] = r
				out <- done{i}
			})
		}
		wg.Wait()
		close(out)
	}()
	var p Progress
	p.Total = len(ids)
	var errs []error
	for d := range out {
		p.Done++
		if err := rep.Tenants[d.i].Err; err != nil {
			p.Failed++
			errs = append(errs, err)
		}
		if opts.Progress != nil {
			p.Elapsed = time.Since(start)
			p.Rate = float64(p.Done) / p.Elapsed.Seconds()
			p.ETA = time.Duration(float64(p.Total-p.Done) / p.Rate * float64(time.Second))
			opts.Progress(p)
		}
	}
	rep.Duration = time.Since(start)
	return rep, errors.Join(errs...)
}

// seedOne runs fn in one transaction on schema.
func (m *Migrator) seedOne(ctx context.Context, schema string, fn func(context.Context, *sql.Tx) error) error {
	tx, err := m.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	q := pq.QuoteIdentifier(schema)
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock("+strconv.FormatInt(lockKey(schema), 10)+");\n"+
		seeCatalog+";\nSET LOCAL search_path TO "+q); err != nil {
		return err
	}
	if err := fn(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}
