package migrate

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant/internal/directory"
)

// RevisionTable is the table, in every migrated schema, that records the
// applied migrations: version text primary key, checksum text (hex SHA-256
// of the file), applied_at timestamptz.
const RevisionTable = "schema_migrations"

// A migration is one SQL file of a track.
type migration struct {
	version  string   // the file name without .sql
	checksum string   // hex SHA-256 of the contents
	sql      string   // the contents
	stmts    []string // the statements, split by Atlas's migration file parser
}

// load reads the *.sql files at the root of fsys in lexical order; a nil
// fsys has none.
func load(fsys fs.FS) ([]migration, error) {
	if fsys == nil {
		return nil, nil
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	out := make([]migration, 0, len(names))
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		stmts, err := atlasmigrate.NewLocalFile(name, b).Stmts()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, migration{
			version:  strings.TrimSuffix(name, ".sql"),
			checksum: hex.EncodeToString(sum[:]),
			sql:      string(b),
			stmts:    stmts,
		})
	}
	return out, nil
}

// lockKey is the pg_advisory_xact_lock key of schema: every migration and
// drop of one schema, in any process, serialises on it.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("pgtenant/migrate\x00"))
	h.Write([]byte(schema))
	return int64(h.Sum64())
}

// plan compares the files with the applied revisions (version → checksum).
// It returns the pending versions in order, or an error wrapping ErrDrift
// naming every applied file whose contents changed.
func plan(files []migration, applied map[string]string) (pending []migration, err error) {
	var drift []string
	for _, f := range files {
		sum, ok := applied[f.version]
		switch {
		case !ok:
			pending = append(pending, f)
		case sum != f.checksum:
			drift = append(drift, f.version)
		}
	}
	if len(drift) > 0 {
		return nil, fmt.Errorf("%w: %s (applied with another checksum; not re-run)", ErrDrift, strings.Join(drift, ", "))
	}
	return pending, nil
}

// seeCatalog makes the catalog changes committed since the session last read
// the catalog visible to it, which waiting for an advisory lock does not: it
// opens a catalog table, which processes pending invalidations.
const seeCatalog = "SELECT FROM pg_catalog.pg_namespace LIMIT 0"

// applyOptions vary apply.
type applyOptions struct {
	create   bool                // create the schema if it does not exist
	markOnly bool                // record pending files without running them
	then     func(*sql.Tx) error // if not nil, runs last in the transaction
	// id, if not empty, is the tenant whose directory row apply reads under
	// the schema's lock (see checkDirectory).
	id string
}

// Reasons for skipping a tenant (Result.Skipped).
const (
	skipDropped  = "dropped"
	skipDropping = "being dropped"
)

// skipError is the error of apply for a tenant that its directory row, read
// under the schema's lock, shows dropped or being dropped. Nothing was done.
type skipError struct{ reason string }

func (e *skipError) Error() string { return "tenant " + e.reason }

// checkDirectory reads tenant id's directory row in tx, which holds the
// schema's lock. A drop holds that lock while it drops the schema and
// deletes the row, so a tenant found gone or being dropped must not be
// touched: creating its schema again would leave a schema that no directory
// row names. It returns a *skipError then, and an error when the row names
// a schema other than schema.
func checkDirectory(ctx context.Context, tx *sql.Tx, id, schema string) error {
	var status, have string
	err := tx.QueryRowContext(ctx, "SELECT status, schema_name FROM public.tenants WHERE id = $1", id).Scan(&status, &have)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return &skipError{skipDropped}
	case err != nil:
		return fmt.Errorf("directory: %w", err)
	case status == directory.Dropping:
		return &skipError{skipDropping}
	case have != schema:
		return fmt.Errorf("directory names schema %s, the Namer %s", have, schema)
	}
	return nil
}

// apply brings schema up to date with files in one transaction: it takes the
// schema's advisory lock, checks the tenant's directory row (if o.id is set),
// creates the schema (if o.create) and the revision table when missing,
// reads the applied revisions only after locking, and runs each pending file
// followed by its revision row. Nothing is committed unless every pending
// file succeeds. It returns the versions it applied. On a Citus coordinator
// it also distributes what it creates (see citus.go).
func (m *Migrator) apply(ctx context.Context, schema string, files []migration, o applyOptions) (applied []string, err error) {
	citus, err := m.Citus(ctx)
	if err != nil {
		return nil, err
	}
	if m.beforeLock != nil && o.id != "" {
		m.beforeLock(o.id)
	}
	tx, err := m.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
			err = m.lockErr(err)
		}
	}()
	q := pq.QuoteIdentifier(schema)
	// Two round trips in the simple protocol (no parameters: everything in
	// them is a quoted identifier or an integer), around the directory
	// check of a tenant, or one per statement on Citus (see citus.go). The
	// lock comes first. A session
	// that looked the schema up before it existed (through its search_path,
	// say) caches it as missing, and waiting for an advisory lock does not
	// read the catalog changes committed meanwhile; opening a catalog table
	// does, so the one after the lock makes the previous holder's schema
	// visible.
	// The lock timeout is set after the advisory lock, which another
	// migrator of this schema may hold for as long as its migration takes.
	lock := []string{
		"SELECT pg_advisory_xact_lock(" + strconv.FormatInt(lockKey(schema), 10) + ")",
		seeCatalog,
		m.setLockTimeout,
	}
	if err := execStmts(ctx, tx, lock, citus); err != nil {
		return nil, err
	}
	if o.id != "" {
		if err := checkDirectory(ctx, tx, o.id, schema); err != nil {
			return nil, err
		}
	}
	setup := []string{
		"SET LOCAL search_path TO " + q,
	}
	if citus && schema != "public" {
		setup = append(setup, "SET LOCAL citus.enable_schema_based_sharding TO on")
	}
	if o.create {
		setup = append(setup, "CREATE SCHEMA IF NOT EXISTS "+q)
	}
	setup = append(setup, "CREATE TABLE IF NOT EXISTS "+q+"."+RevisionTable+
		" (version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
	if err := execStmts(ctx, tx, setup, citus); err != nil {
		return nil, err
	}
	if citus && schema != "public" {
		if err := distributeSchema(ctx, tx, schema); err != nil {
			return nil, err
		}
	}
	done, err := readRevisions(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	pending, err := plan(files, done)
	if err != nil {
		return nil, err
	}
	insert := "INSERT INTO " + q + "." + RevisionTable + " (version, checksum) VALUES ($1, $2)"
	for _, f := range pending {
		if !o.markOnly {
			stmts := []string{f.sql}
			if citus {
				stmts = f.stmts
			}
			if err := execStmts(ctx, tx, stmts, true); err != nil {
				return nil, fmt.Errorf("%s: %w", f.version, err)
			}
		}
		if _, err := tx.ExecContext(ctx, insert, f.version, f.checksum); err != nil {
			return nil, fmt.Errorf("%s: record revision: %w", f.version, err)
		}
		applied = append(applied, f.version)
	}
	if citus && schema == "public" {
		if err := referencePublic(ctx, tx); err != nil {
			return nil, err
		}
	}
	if o.then != nil {
		if err := o.then(tx); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return applied, nil
}

// readRevisions reads version → checksum from the revision table of the
// quoted schema q.
func readRevisions(ctx context.Context, tx *sql.Tx, q string) (map[string]string, error) {
	rows, err := tx.QueryContext(ctx, "SELECT version, checksum FROM "+q+"."+RevisionTable)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	done := make(map[string]string)
	for rows.Next() {
		var v, sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, err
		}
		done[v] = sum
	}
	return done, rows.Err()
}
