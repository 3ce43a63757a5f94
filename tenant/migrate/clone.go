package migrate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/pgtenant/pgtenant/tenant"
)

// Rules are anonymisation rules for a clone: table name → column name →
// rule. They are read from JSON by ParseRules:
//
//	{
//	  "users": {
//	    "email": {"fake": "user-{n}@example.invalid"},
//	    "name":  {"set": "Anonymous"}
//	  },
//	  "posts": {"content": {"null": true}}
//	}
type Rules map[string]map[string]Rule

// A Rule replaces one column's value in every copied row. Exactly one of
// its fields is set.
type Rule struct {
	// Null sets the column to NULL (refused for a NOT NULL column).
	Null bool `json:"null,omitempty"`
	// Set gives every row this value, in the column type's text form.
	Set *string `json:"set,omitempty"`
	// Fake gives every row this template with {n} replaced by the row's
	// number (1, 2, ...), so the values stay unique: "user-{n}@example.invalid".
	Fake string `json:"fake,omitempty"`
}

// maxRulesBytes bounds a rules file.
const maxRulesBytes = 1 << 20

// ParseRules reads Rules from JSON (see Rules). Unknown keys, a rule that
// sets none or several of null/set/fake, a fake without {n}, NUL characters
// and more than 1 MiB are errors. Table and column names are checked
// against the source tenant by CloneTenant, before anything is written.
func ParseRules(r io.Reader) (Rules, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxRulesBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	if len(b) > maxRulesBytes {
		return nil, fmt.Errorf("rules: larger than %d bytes", maxRulesBytes)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var rules Rules
	if err := dec.Decode(&rules); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if dec.More() {
		return nil, errors.New("rules: more than one JSON value")
	}
	for tn, cols := range rules {
		for cn, r := range cols {
			n := 0
			if r.Null {
				n++
			}
			if r.Set != nil {
				n++
			}
			if r.Fake != "" {
				n++
			}
			switch {
			case n != 1:
				return nil, fmt.Errorf("rules: %s.%s: set exactly one of null, set, fake", tn, cn)
			case r.Fake != "" && !strings.Contains(r.Fake, "{n}"):
				return nil, fmt.Errorf("rules: %s.%s: fake %q has no {n}, so its values would not be unique", tn, cn, r.Fake)
			case strings.ContainsRune(r.Fake, 0), r.Set != nil && strings.ContainsRune(*r.Set, 0):
				return nil, fmt.Errorf("rules: %s.%s: NUL character", tn, cn)
			}
		}
	}
	return rules, nil
}

// check verifies that every rule names a table and a column of tables, and
// that no null rule targets a NOT NULL column.
func (rules Rules) check(tables []table) error {
	for tn, cols := range rules {
		i := -1
		for j, t := range tables {
			if t.name == tn {
				i = j
			}
		}
		if i < 0 {
			return fmt.Errorf("rules: no table %q in the tenant schema", tn)
		}
		for cn, r := range cols {
			c, ok := tables[i].column(cn)
			switch {
			case !ok:
				return fmt.Errorf("rules: table %s has no column %q", tn, cn)
			case r.Null && c.notNull:
				return fmt.Errorf("rules: %s.%s is NOT NULL and cannot be set to null", tn, cn)
			}
		}
	}
	return nil
}

// CloneOptions are the options of CloneTenant.
type CloneOptions struct {
	// WithData copies the source's rows; without it the clone is empty.
	WithData bool
	// Anonymize, with WithData, rewrites columns of the copied rows.
	Anonymize Rules
	// Then, if not nil, runs last in the transaction that marks the clone
	// active: for the service's own rows about the new tenant in public,
	// such as a copy of the source's plan. Its error fails the clone.
	Then func(ctx context.Context, tx *sql.Tx) error
}

// CloneTenant creates tenant to as a copy of tenant from (active or
// suspended). The new schema is built by the migrations of from's revision,
// never from the catalog's DDL; with opts.WithData the rows are then copied
// inside the database (INSERT ... SELECT, parents before children), in one
// REPEATABLE READ transaction, so a source being written to gives a
// consistent snapshot, with opts.Anonymize applied in the same statements and
// sequences and identity columns set past the copied rows. The clone is then
// migrated to the latest revision and marked active (announced on
// tenant.DirectoryChannel).
//
// Rules and ids are checked before anything is written. On a later failure
// the directory row of to says failed (with the error as its reason) and its
// schema is dropped; calling CloneTenant again starts over, and DropTenant
// removes the row. An existing tenant to in any other status is an error
// wrapping ErrWrongStatus. Errors wrap tenant.ErrInvalidID and
// tenant.ErrNotFound (no such source) where they apply.
func (m *Migrator) CloneTenant(ctx context.Context, from, to string, opts CloneOptions) (*Tenant, error) {
	t, err := m.cloneTenant(ctx, from, to, opts)
	if err != nil {
		return nil, fmt.Errorf("clone tenant %q to %q: %w", from, to, err)
	}
	return t, nil
}

func (m *Migrator) cloneTenant(ctx context.Context, from, to string, opts CloneOptions) (*Tenant, error) {
	start := time.Now()
	src, err := m.namer.Schema(from)
	if err != nil {
		return nil, err
	}
	dst, err := m.namer.Schema(to)
	if err != nil {
		return nil, err
	}
	switch {
	case m.loadErr != nil:
		return nil, m.loadErr
	case from == to:
		return nil, errors.New("source and target are the same tenant")
	case opts.Anonymize != nil && !opts.WithData:
		return nil, errors.New("anonymisation rules apply to copied data: add WithData")
	}
	var status, have string
	err = m.db.QueryRowContext(ctx, "SELECT status, schema_name FROM public.tenants WHERE id = $1", from).Scan(&status, &have)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("%w: source tenant %q", tenant.ErrNotFound, from)
	case err != nil:
		return nil, fmt.Errorf("directory: %w", err)
	case status != "active" && status != "suspended":
		return nil, fmt.Errorf("%w: source tenant is %s", ErrWrongStatus, status)
	case have != src:
		return nil, fmt.Errorf("directory names schema %s, the Namer %s", have, src)
	}
	revision, err := schemaRevision(ctx, m.db, src)
	if err != nil {
		return nil, err
	}
	files, err := m.filesAt(revision)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	tables, err := catalogTables(ctx, m.db, src)
	if err != nil {
		return nil, err
	}
	if err := opts.Anonymize.check(tables); err != nil {
		return nil, err
	}

	if err := m.claim(ctx, to, dst); err != nil {
		return nil, err
	}
	// From here on a failure leaves the row failed and no schema.
	fail := func(err error) (*Tenant, error) {
		return nil, m.markFailed(ctx, to, dst, err)
	}
	if _, err := m.apply(ctx, dst, files, applyOptions{create: true}); err != nil {
		return fail(fmt.Errorf("build schema at revision %s: %w", latest(files), err))
	}
	if opts.WithData {
		if err := m.copyData(ctx, src, dst, from, revision, tables, opts.Anonymize); err != nil {
			return fail(fmt.Errorf("copy data: %w", err))
		}
	}
	activate := m.activate(ctx, to)
	then := func(tx *sql.Tx) error {
		if err := activate(tx); err != nil || opts.Then == nil {
			return err
		}
		return opts.Then(ctx, tx)
	}
	if _, err := m.migrateSchema(ctx, to, dst, applyOptions{then: then}); err != nil {
		return fail(err)
	}
	t, err := m.GetTenant(ctx, to)
	if err != nil {
		return nil, err
	}
	m.log.InfoContext(ctx, "tenant cloned", "tenant", to, "from", from, "schema", dst, "with_data", opts.WithData, "duration", time.Since(start))
	return t, nil
}

// claim inserts the directory row of a new tenant as provisioning, or takes
// over the row of a failed one (dropping what is left of its schema). Any
// other existing row is an error wrapping ErrWrongStatus.
func (m *Migrator) claim(ctx context.Context, id, schema string) error {
	var old sql.NullString
	err := m.db.QueryRowContext(ctx, `
WITH prev AS (SELECT status FROM public.tenants WHERE id = $1),
ins AS (
	INSERT INTO public.tenants AS t (id, schema_name, status, created_at, updated_at)
	VALUES ($1, $2, 'provisioning', now(), now())
	ON CONFLICT (id) DO UPDATE SET status = 'provisioning', status_reason = NULL, updated_at = excluded.updated_at
	WHERE t.status = 'failed' AND t.schema_name = excluded.schema_name
	RETURNING 1
)
SELECT (SELECT status FROM prev) WHERE EXISTS (SELECT FROM ins)`, id, schema).Scan(&old)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		var status string
		if err := m.db.QueryRowContext(ctx, "SELECT status FROM public.tenants WHERE id = $1", id).Scan(&status); err != nil {
			return fmt.Errorf("%w: tenant %q exists", ErrWrongStatus, id)
		}
		return fmt.Errorf("%w: tenant %q exists and is %s (drop it first, or pick another id)", ErrWrongStatus, id, status)
	case pq.As(err, pqerror.UniqueViolation) != nil:
		return fmt.Errorf("%w: tenant %q: another tenant uses schema %s", ErrWrongStatus, id, schema)
	case err != nil:
		return fmt.Errorf("directory: %w", err)
	}
	if old.Valid {
		// A failed earlier attempt: start from nothing.
		if err := m.dropSchema(ctx, schema); err != nil {
			return fmt.Errorf("clean up the failed attempt: %w", err)
		}
	}
	return nil
}

// dropSchema drops schema under its migration lock.
func (m *Migrator) dropSchema(ctx context.Context, schema string) error {
	tx, err := m.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(schema)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, seeCatalog+";\nDROP SCHEMA IF EXISTS "+pq.QuoteIdentifier(schema)+" CASCADE"); err != nil {
		return err
	}
	return tx.Commit()
}

// markFailed records cause as the reason of the provisioning tenant id,
// marks it failed, drops what was built of its schema, and returns cause
// (joined with any error of the clean-up). It works even when ctx is done.
func (m *Migrator) markFailed(ctx context.Context, id, schema string, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, err := m.db.ExecContext(ctx, `
UPDATE public.tenants SET status = 'failed', status_reason = $2, updated_at = now()
WHERE id = $1 AND status = 'provisioning'`, id, cut(cause.Error(), MaxReasonLen))
	if err == nil {
		err = m.dropSchema(ctx, schema)
	}
	if err != nil {
		return errors.Join(cause, fmt.Errorf("mark tenant failed: %w", err))
	}
	m.log.WarnContext(ctx, "tenant failed", "tenant", id, "schema", schema, "err", cause)
	return cause
}

// activate returns the last step of a clone or import: the provisioning row
// becomes active (the directory's trigger announces it on commit). A row that is no longer provisioning
// (dropped meanwhile) fails the transaction.
func (m *Migrator) activate(ctx context.Context, id string) func(*sql.Tx) error {
	return func(tx *sql.Tx) error {
		var n int
		err := tx.QueryRowContext(ctx, `
WITH up AS (
	UPDATE public.tenants SET status = 'active', updated_at = now()
	WHERE id = $1 AND status = 'provisioning'
	RETURNING id
)
SELECT count(*) FROM up`, id).Scan(&n)
		switch {
		case err != nil:
			return fmt.Errorf("activate: %w", err)
		case n == 0:
			return errors.New("activate: the tenant is no longer provisioning (dropped meanwhile?)")
		}
		return nil
	}
}

// copyData copies the rows of tables from schema src (tenant from, at
// revision) to schema dst in one REPEATABLE READ transaction.
func (m *Migrator) copyData(ctx context.Context, src, dst, from string, revision []string, tables []table, rules Rules) error {
	tx, err := m.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// LOCK is no query: the snapshot is taken after it, by the first
	// SELECT. ACCESS SHARE lets the source's writers go on but holds off DDL
	// and DROP SCHEMA until the copy commits; the target is ours alone.
	qsrc, qdst := pq.QuoteIdentifier(src), pq.QuoteIdentifier(dst)
	srcNames := []string{qsrc + "." + RevisionTable}
	dstNames := []string{qdst + "." + RevisionTable}
	for _, t := range tables {
		srcNames = append(srcNames, qsrc+"."+pq.QuoteIdentifier(t.name))
		dstNames = append(dstNames, qdst+"."+pq.QuoteIdentifier(t.name))
	}
	if _, err := tx.ExecContext(ctx, "LOCK TABLE "+strings.Join(srcNames, ", ")+" IN ACCESS SHARE MODE;\n"+
		"LOCK TABLE "+strings.Join(dstNames, ", ")+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	var status string
	err = tx.QueryRowContext(ctx, "SELECT status FROM public.tenants WHERE id = $1", from).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: source tenant %q was dropped", tenant.ErrNotFound, from)
	case err != nil:
		return err
	case status != "active" && status != "suspended":
		return fmt.Errorf("%w: source tenant is %s", ErrWrongStatus, status)
	}
	now, err := schemaRevision(ctx, tx, src)
	if err != nil {
		return err
	}
	if strings.Join(now, ",") != strings.Join(revision, ",") {
		return errors.New("the source was migrated during the clone: run it again")
	}
	for _, t := range tables {
		query, args := copyStatement(qsrc, qdst, t, rules[t.name])
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return fmt.Errorf("table %s: %w", t.name, err)
		}
	}
	if err := setSequences(ctx, tx, dst, tables); err != nil {
		return err
	}
	return tx.Commit()
}

// copyStatement is the INSERT ... SELECT copying table t from the quoted
// schema qsrc to qdst with the column rules of t. Rule values are
// parameters; names are quoted.
func copyStatement(qsrc, qdst string, t table, rules map[string]Rule) (string, []any) {
	var args []any
	exprs := make([]string, len(t.columns))
	for i, c := range t.columns {
		r, ok := rules[c.name]
		switch {
		case !ok:
			exprs[i] = pq.QuoteIdentifier(c.name)
		case r.Null:
			exprs[i] = "NULL"
		case r.Set != nil:
			args = append(args, *r.Set)
			exprs[i] = "CAST($" + strconv.Itoa(len(args)) + "::text AS " + c.typ + ")"
		default:
			args = append(args, r.Fake)
			exprs[i] = "CAST(replace($" + strconv.Itoa(len(args)) + "::text, '{n}', (row_number() OVER ())::text) AS " + c.typ + ")"
		}
	}
	qt := pq.QuoteIdentifier(t.name)
	return "INSERT INTO " + qdst + "." + qt + " (" + t.quotedColumns() + ") OVERRIDING SYSTEM VALUE SELECT " +
		strings.Join(exprs, ", ") + " FROM " + qsrc + "." + qt, args
}

// setSequences sets the sequence of every serial or identity column of the
// tables of schema past the largest value the column holds, so the next
// generated value is free.
func setSequences(ctx context.Context, tx *sql.Tx, schema string, tables []table) error {
	q := pq.QuoteIdentifier(schema)
	for _, t := range tables {
		qt := q + "." + pq.QuoteIdentifier(t.name)
		for _, c := range t.columns {
			var seq sql.NullString
			if err := tx.QueryRowContext(ctx, "SELECT pg_get_serial_sequence($1, $2)", qt, c.name).Scan(&seq); err != nil {
				return fmt.Errorf("sequence of %s.%s: %w", t.name, c.name, err)
			}
			if !seq.Valid {
				continue
			}
			qc := pq.QuoteIdentifier(c.name)
			if _, err := tx.ExecContext(ctx, "SELECT setval($1::regclass, coalesce(max("+qc+"), 0) + 1, false) FROM "+qt, seq.String); err != nil {
				return fmt.Errorf("set sequence of %s.%s: %w", t.name, c.name, err)
			}
		}
	}
	return nil
}
