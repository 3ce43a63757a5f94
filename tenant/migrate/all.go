package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/pgtenant/pgtenant/tenant"
)

// RunOptions select and pace the tenants of MigrateAll.
type RunOptions struct {
	// IDs are the tenants to migrate; nil means every tenant in the
	// directory. Every id must be valid (else MigrateAll fails before any
	// SQL) and listed in the directory (else that tenant's Result has an
	// error wrapping tenant.ErrNotFound). Tenants being dropped, or dropped
	// during the run, are skipped (Result.Skipped).
	IDs []string

	// Concurrency overrides Options.Concurrency when positive.
	Concurrency int

	// DryRun reports what would be applied (Result.Pending) without
	// changing anything, not even public.
	DryRun bool

	// MarkApplied records the pending migrations of public and of the
	// selected tenants as applied without running them (Result.Applied
	// lists them): a baseline for schemas built by other means, e.g. an
	// older auto-migration. It checks nothing about the schemas' contents.
	MarkApplied bool

	// Progress, if not nil, is called after each tenant finishes, from the
	// goroutine that called MigrateAll, never concurrently.
	Progress func(Progress)
}

// Progress is a snapshot of a running MigrateAll.
type Progress struct {
	Done, Failed, Total int
	Elapsed             time.Duration
	Rate                float64       // tenants per second so far
	ETA                 time.Duration // estimated time left at that rate
}

// Result is the outcome for one schema.
type Result struct {
	ID       string // tenant id; empty for public
	Schema   string
	Applied  []string // versions applied by this run, in order
	Pending  []string // in a dry run: versions that would be applied
	Duration time.Duration
	Err      error // nil on success and when skipped
	// Skipped, when not empty, says why the tenant was left alone: it was
	// "dropped" (its directory row was gone once its schema's lock was
	// taken) or is "being dropped". A skipped tenant is not a failure.
	Skipped string
}

// Outcome is what became of one schema in a run.
type Outcome string

// The outcomes of a Result.
const (
	OutcomeOK      Outcome = "ok"      // up to date (in a dry run: Pending would make it so)
	OutcomeSkipped Outcome = "skipped" // dropped or being dropped; see Result.Skipped
	OutcomeFailed  Outcome = "failed"  // see Result.Err
)

// Outcome classifies r.
func (r Result) Outcome() Outcome {
	switch {
	case r.Err != nil:
		return OutcomeFailed
	case r.Skipped != "":
		return OutcomeSkipped
	}
	return OutcomeOK
}

// Report is the outcome of MigrateAll: public, then one Result per selected
// tenant, ordered by id.
type Report struct {
	Public   Result
	Tenants  []Result
	Duration time.Duration
	DryRun   bool
}

// Failed returns the number of tenants whose migration failed.
func (r *Report) Failed() int {
	n := 0
	for _, t := range r.Tenants {
		if t.Err != nil {
			n++
		}
	}
	return n
}

// Skipped returns the number of tenants skipped because they were dropped
// or are being dropped.
func (r *Report) Skipped() int {
	n := 0
	for _, t := range r.Tenants {
		if t.Outcome() == OutcomeSkipped {
			n++
		}
	}
	return n
}

// target is a tenant selected for a run.
type target struct {
	id, schema string
	revision   string // the directory row's revision, "" when none
	err        error  // set when the tenant cannot be migrated at all
	skip       string // set when the tenant is being dropped
	current    bool   // found up to date by the bulk read (markCurrent)
}

// MigrateAll migrates public and then the selected tenants, concurrently
// through a sliding window of workers (a slow tenant never holds up more
// than its own worker). It continues past a failing tenant. The Report is
// always returned, even with an error; the error is non-nil when public
// failed (then no tenant is attempted), when the directory cannot be read,
// when ctx ends (unfinished tenants get ctx's error), or when any tenant
// failed (errors.Join of the tenant errors, each naming its tenant).
//
// Each tenant's directory row is read again once its schema's lock is held:
// a tenant dropped, or being dropped, since the run began is skipped, never
// created again. Tenants that one bulk read finds up to date (every
// migration applied with its checksum, the directory row at Revision) are
// reported ok without a transaction or a lock of their own, so a run with
// nothing to do costs a few queries, not several round trips per tenant.
func (m *Migrator) MigrateAll(ctx context.Context, opts RunOptions) (*Report, error) {
	start := time.Now()
	rep := &Report{DryRun: opts.DryRun, Public: Result{Schema: "public"}}
	finish := func(err error) (*Report, error) {
		rep.Duration = time.Since(start)
		return rep, err
	}
	for _, id := range opts.IDs {
		if _, err := m.namer.Schema(id); err != nil {
			return finish(err)
		}
	}
	if m.loadErr != nil {
		return finish(m.loadErr)
	}
	if opts.DryRun {
		return finish(m.dryRun(ctx, rep, opts))
	}
	applied, err := m.migratePublic(ctx, applyOptions{markOnly: opts.MarkApplied})
	rep.Public.Applied, rep.Public.Err, rep.Public.Duration = applied, err, time.Since(start)
	if err != nil {
		return finish(err)
	}
	targets, err := m.targets(ctx, opts.IDs)
	if err != nil {
		return finish(err)
	}
	if !opts.MarkApplied {
		m.markCurrent(ctx, targets)
	}
	rep.Tenants = m.runPool(ctx, targets, opts)
	var errs []error
	for _, r := range rep.Tenants {
		errs = append(errs, r.Err)
	}
	return finish(errors.Join(errs...))
}

// runPool migrates targets with a fixed number of workers pulling from one
// channel, collecting results in this goroutine.
func (m *Migrator) runPool(ctx context.Context, targets []target, opts RunOptions) []Result {
	results := make([]Result, len(targets))
	workers := m.workers
	if opts.Concurrency > 0 {
		workers = opts.Concurrency
	}
	workers = min(workers, max(len(targets), 1))
	type done struct {
		i int
		r Result
	}
	jobs := make(chan int)
	out := make(chan done)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				t := targets[i]
				r := Result{ID: t.id, Schema: t.schema, Err: t.err, Skipped: t.skip}
				if r.Err == nil && r.Skipped == "" && !t.current {
					began := time.Now()
					r.Applied, r.Err = m.migrateSchema(ctx, t.id, t.schema, applyOptions{id: t.id, markOnly: opts.MarkApplied})
					r.Duration = time.Since(began)
					if skip := (*skipError)(nil); errors.As(r.Err, &skip) {
						r.Skipped, r.Err = skip.reason, nil
					}
				}
				out <- done{i, r}
			}
		})
	}
	go func() {
		defer close(jobs)
		for i := range targets {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(out)
	}()
	start := time.Now()
	seen := make([]bool, len(targets))
	var p Progress
	p.Total = len(targets)
	for d := range out {
		results[d.i], seen[d.i] = d.r, true
		p.Done++
		if d.r.Err != nil {
			p.Failed++
		}
		if opts.Progress != nil {
			p.Elapsed = time.Since(start)
			p.Rate = float64(p.Done) / p.Elapsed.Seconds()
			p.ETA = time.Duration(float64(p.Total-p.Done) / p.Rate * float64(time.Second))
			opts.Progress(p)
		}
	}
	for i, ok := range seen {
		if !ok {
			t := targets[i]
			results[i] = Result{ID: t.id, Schema: t.schema, Err: fmt.Errorf("migrate tenant %q: %w", t.id, context.Cause(ctx))}
		}
	}
	return results
}

// targets lists the tenants of a run, ordered by id: the directory's
// tenants, or the given ids.
func (m *Migrator) targets(ctx context.Context, ids []string) ([]target, error) {
	rows, err := m.directoryOf(ctx, ids, "")
	if err != nil {
		return nil, err
	}
	byID, ids := indexDirectory(rows, ids)
	out := make([]target, 0, len(ids))
	for _, id := range ids {
		t := target{id: id}
		t.schema, t.err = m.namer.Schema(id)
		r, ok := byID[id]
		switch {
		case t.err != nil:
		case !ok:
			t.err = fmt.Errorf("migrate tenant %q: %w: not in the directory (create it with 'api tenant create')", id, tenant.ErrNotFound)
		case r.status == "dropping":
			t.skip = skipDropping
		case r.schema != t.schema:
			t.err = fmt.Errorf("migrate tenant %q: directory names schema %s, the Namer %s", id, r.schema, t.schema)
		}
		t.revision = r.revision
		out = append(out, t)
	}
	return out, nil
}

// markCurrent flags the targets that need nothing: their directory row
// records Revision and a bulk read of the revision tables finds every
// migration of the track applied with its checksum (and, on a Citus
// coordinator, their schema is distributed). Targets with anything else to
// do or to report (pending, drift, a missing schema, a schema to
// distribute) are left to their own transaction. The bulk read waits for
// no lock longer than the lock timeout: a chunk of schemas it cannot read
// (one is being migrated or dropped by another transaction), or a read
// that fails, leaves its tenants to be checked under their own lock, as
// without this read.
func (m *Migrator) markCurrent(ctx context.Context, targets []target) {
	rev := m.Revision()
	var schemas []string
	for _, t := range targets {
		if t.err == nil && t.skip == "" && t.revision >= rev {
			schemas = append(schemas, t.schema)
		}
	}
	if len(schemas) == 0 {
		return
	}
	citus, err := m.Citus(ctx)
	var have []string
	if err == nil {
		have, err = m.revisionSchemas(ctx, schemas, citus)
	}
	if err != nil {
		m.log.DebugContext(ctx, "bulk revision read failed; checking each tenant", "err", err)
		return
	}
	revs := make(map[string]map[string]string, len(have))
	for chunk := range slices.Chunk(have, statusChunk) {
		read := make(map[string]map[string]string, len(chunk))
		err := m.inTx(ctx, func(tx *sql.Tx) error { return readRevisionTables(ctx, tx, chunk, read) })
		if err != nil {
			m.log.DebugContext(ctx, "bulk revision read failed; checking these tenants each", "schemas", len(chunk), "err", err)
			continue
		}
		maps.Copy(revs, read)
	}
	for i := range targets {
		t := &targets[i]
		if t.err != nil || t.skip != "" || t.revision < rev {
			continue
		}
		s := SchemaStatus{Schema: t.schema}
		classify(&s, m.tenant, revs)
		t.current = s.State == StateOK
	}
}

type dirRow struct{ id, schema, status, revision string }

// directoryOf reads the directory rows of ids or, when ids is nil, the rows
// that the WHERE clause all (which may be "") selects.
func (m *Migrator) directoryOf(ctx context.Context, ids []string, all string) ([]dirRow, error) {
	if ids == nil {
		return m.directory(ctx, all)
	}
	return m.directory(ctx, "WHERE id = ANY($1)", pq.Array(ids))
}

// indexDirectory indexes the directory rows by tenant id and returns the ids
// a run covers, sorted and without repeats: the given ids, or every row's id
// when ids is nil. The caller's slice is not modified.
func indexDirectory(rows []dirRow, ids []string) (map[string]dirRow, []string) {
	byID := make(map[string]dirRow, len(rows))
	for _, r := range rows {
		byID[r.id] = r
	}
	if ids == nil {
		for _, r := range rows {
			ids = append(ids, r.id)
		}
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return byID, slices.Compact(ids)
}

func (m *Migrator) directory(ctx context.Context, where string, args ...any) ([]dirRow, error) {
	rows, err := m.db.QueryContext(ctx, "SELECT id, schema_name, status, coalesce(revision, '') FROM public.tenants "+where+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("read tenant directory: %w", err)
	}
	defer rows.Close()
	var out []dirRow
	for rows.Next() {
		var r dirRow
		if err := rows.Scan(&r.id, &r.schema, &r.status, &r.revision); err != nil {
			return nil, fmt.Errorf("read tenant directory: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tenant directory: %w", err)
	}
	return out, nil
}

// dryRun fills rep with what MigrateAll would apply, from one bulk read.
func (m *Migrator) dryRun(ctx context.Context, rep *Report, opts RunOptions) error {
	st, err := m.Status(ctx, opts.IDs)
	if err != nil {
		return err
	}
	rep.Public.Pending, rep.Public.Err = st.Public.Pending, st.Public.err()
	for _, s := range st.Tenants {
		r := Result{ID: s.ID, Schema: s.Schema, Pending: s.Pending, Err: s.err()}
		if s.Directory == "dropping" {
			r = Result{ID: s.ID, Schema: s.Schema, Skipped: skipDropping}
		}
		rep.Tenants = append(rep.Tenants, r)
	}
	var errs []error
	for _, r := range rep.Tenants {
		errs = append(errs, r.Err)
	}
	return errors.Join(append(errs, rep.Public.Err)...)
}

// State summarises a SchemaStatus.
type State string

// The states of a schema, from best to worst.
const (
	StateOK      State = "ok"      // every migration applied
	StatePending State = "pending" // some migrations not applied yet
	StateDrift   State = "drift"   // an applied migration was modified
	StateError   State = "error"   // the schema cannot be migrated (see SchemaStatus.Error)
)

// SchemaStatus is the migration state of one schema.
type SchemaStatus struct {
	ID        string // tenant id; empty for public
	Schema    string
	Directory string   // the tenant's status in the directory; empty for public
	Applied   []string // versions recorded in the schema, known to this binary
	Pending   []string // versions not recorded yet
	Drifted   []string // versions recorded with another checksum
	Unknown   []string // versions recorded but not known to this binary (a newer release applied them)
	Error     string   // why the schema cannot be migrated, when State is StateError
	State     State
}

func (s SchemaStatus) err() error {
	switch s.State {
	case StateDrift:
		return fmt.Errorf("schema %s: %w: %s", s.Schema, ErrDrift, strings.Join(s.Drifted, ", "))
	case StateError:
		return fmt.Errorf("schema %s: %s", s.Schema, s.Error)
	}
	return nil
}

// Status is the migration state of public and of the selected tenants.
type Status struct {
	Public  SchemaStatus
	Tenants []SchemaStatus
}

// Summary counts the tenants in each state.
func (s *Status) Summary() map[State]int {
	n := make(map[State]int)
	for _, t := range s.Tenants {
		n[t.State]++
	}
	return n
}

// statusChunk bounds the number of schemas read by one UNION ALL query.
const statusChunk = 250

// Status reports, without changing anything, which migrations are applied,
// pending or drifted in public and in each tenant (ids as in RunOptions.IDs:
// nil means every tenant in the directory, including those being dropped).
// It reads the revision tables in bulk: a few queries in all, never one per
// migration or per tenant. Invalid ids fail before any SQL.
func (m *Migrator) Status(ctx context.Context, ids []string) (*Status, error) {
	for _, id := range ids {
		if _, err := m.namer.Schema(id); err != nil {
			return nil, err
		}
	}
	if m.loadErr != nil {
		return nil, m.loadErr
	}
	rows, err := m.directoryOf(ctx, ids, "")
	if err != nil {
		if ids == nil && isUndefinedTable(err) {
			// public is not migrated yet: there is no directory.
			rows, err = nil, nil
		} else {
			return nil, err
		}
	}
	st := &Status{Public: SchemaStatus{Schema: "public"}}
	byID, ids := indexDirectory(rows, ids)
	schemas := []string{"public"}
	for _, id := range ids {
		s := SchemaStatus{ID: id}
		s.Schema, _ = m.namer.Schema(id)
		r, ok := byID[id]
		switch {
		case !ok:
			s.State, s.Error = StateError, "not in the tenant directory"
		case r.schema != s.Schema:
			s.State, s.Error = StateError, fmt.Sprintf("directory names schema %s, the Namer %s", r.schema, s.Schema)
		default:
			s.Directory = r.status
			schemas = append(schemas, s.Schema)
		}
		st.Tenants = append(st.Tenants, s)
	}
	revs, err := m.readAll(ctx, schemas)
	if err != nil {
		return nil, err
	}
	classify(&st.Public, m.public, revs)
	for i := range st.Tenants {
		if st.Tenants[i].State == "" {
			classify(&st.Tenants[i], m.tenant, revs)
		}
	}
	return st, nil
}

// classify fills s from the files and the revisions read for s.Schema.
func classify(s *SchemaStatus, files []migration, revs map[string]map[string]string) {
	done := revs[s.Schema] // nil when the schema or its revision table is missing
	known := make(map[string]bool, len(files))
	for _, f := range files {
		known[f.version] = true
		sum, ok := done[f.version]
		switch {
		case !ok:
			s.Pending = append(s.Pending, f.version)
		case sum != f.checksum:
			s.Drifted = append(s.Drifted, f.version)
		default:
			s.Applied = append(s.Applied, f.version)
		}
	}
	for v := range done {
		if !known[v] {
			s.Unknown = append(s.Unknown, v)
		}
	}
	slices.Sort(s.Unknown)
	switch {
	case len(s.Drifted) > 0:
		s.State = StateDrift
	case len(s.Pending) > 0:
		s.State = StatePending
	default:
		s.State = StateOK
	}
}

// readAll returns schema → version → checksum for those of schemas that have
// a revision table: one catalog query, then one UNION ALL query per
// statusChunk schemas.
func (m *Migrator) readAll(ctx context.Context, schemas []string) (map[string]map[string]string, error) {
	have, err := m.revisionSchemas(ctx, schemas, false)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string]string, len(have))
	for chunk := range slices.Chunk(have, statusChunk) {
		if err := readRevisionTables(ctx, m.db, chunk, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// revisionSchemas returns, sorted, those of schemas that have a revision
// table and, if distributed, are distributed Citus schemas. It reads the
// catalog only: it takes no lock on their tables.
func (m *Migrator) revisionSchemas(ctx context.Context, schemas []string, distributed bool) ([]string, error) {
	q := `
SELECT n.nspname FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = $1 AND c.relkind IN ('r', 'p') AND n.nspname = ANY($2)`
	if distributed {
		q += `
AND EXISTS (SELECT 1 FROM pg_catalog.pg_dist_schema d WHERE d.schemaid = n.oid)`
	}
	rows, err := m.db.QueryContext(ctx, q+"\nORDER BY 1", RevisionTable, pq.Array(schemas))
	if err != nil {
		return nil, fmt.Errorf("read revisions: %w", err)
	}
	defer rows.Close()
	var have []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("read revisions: %w", err)
		}
		have = append(have, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read revisions: %w", err)
	}
	return have, nil
}

// readRevisionTables reads the revision tables of schemas (each must have
// one) with one UNION ALL query through q, into out as schema → version →
// checksum.
func readRevisionTables(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, schemas []string, out map[string]map[string]string) error {
	var b strings.Builder
	for i, s := range schemas {
		if i > 0 {
			b.WriteString("\nUNION ALL ")
		}
		fmt.Fprintf(&b, "SELECT %s, version, checksum FROM %s.%s", pq.QuoteLiteral(s), pq.QuoteIdentifier(s), RevisionTable)
	}
	rows, err := q.QueryContext(ctx, b.String())
	if err != nil {
		return fmt.Errorf("read revisions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s, v, sum string
		if err := rows.Scan(&s, &v, &sum); err != nil {
			return fmt.Errorf("read revisions: %w", err)
		}
		if out[s] == nil {
			out[s] = make(map[string]string)
		}
		out[s][v] = sum
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read revisions: %w", err)
	}
	return nil
}

func isUndefinedTable(err error) bool {
	return pq.As(err, pqerror.UndefinedTable) != nil
}
