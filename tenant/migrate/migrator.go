// Package migrate applies versioned migrations to the public schema and to
// every tenant schema, and provisions and drops tenants. It also suspends and
// resumes, clones, seeds, exports and imports them.
//
// The migrations are the user's, in two tracks of SQL files (Options.Public
// and Options.Tenant, each an fs.FS such as an embed.FS holding the
// directories Ent's versioned migrations write): the public track applies once
// to schema public, the tenant track to every tenant schema. Before the
// public track, the migrator applies its own migrations, pgtenant_<n>_<name>,
// which create the tenant directory (public.tenants, with the trigger
// described below) and the tenants' API keys (public.api_keys, see package
// tenant/apikey). A user's public migrations must not refer to these tables:
// they are not part of the user's Ent schema.
//
// Every schema is migrated in one transaction that first sets search_path for
// that transaction only (SET LOCAL), then takes a per-schema
// pg_advisory_xact_lock, so the unqualified DDL lands in the right schema
// whatever the pool's own search_path, and any number of processes may
// migrate at once without failing or applying a file twice. Each schema
// records its applied files in its own revision table ([RevisionTable]) with
// a checksum; an applied file whose contents changed is reported as drift
// ([ErrDrift]) and is never re-run.
//
// Every transaction of the migrator begins at READ COMMITTED, whatever the
// server's default_transaction_isolation: under REPEATABLE READ or
// SERIALIZABLE the snapshot would be taken by the statement that waits for
// the advisory lock, the revisions committed by the previous holder would be
// invisible, and files would run twice.
//
// The public migrations put a trigger on the tenant directory
// (public.tenants) that announces on [tenant.DirectoryChannel] every row
// inserted or deleted and every change of a tenant's status or schema, on
// commit, whoever makes it: the migrator itself, the API, or a manual
// UPDATE. Running registries so stop serving a suspended or dropped tenant
// at once. The migrator relies on it and sends no notification of its own,
// so the public migrations must be applied (MigrateAll, MigratePublic)
// before tenants are created or dropped.
//
// Every transaction of the migrator also sets a lock_timeout
// (Options.LockTimeout): DDL that would queue behind a long transaction
// fails with [ErrLockTimeout] instead, and is retried by the next run.
//
// Tenant ids become schema names only through [tenant.Namer.Schema], so a
// hostile id is rejected with [tenant.ErrInvalidID] before any SQL.
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/internal/directory"
)

var (
	// ErrDrift is returned for a schema in which a migration was applied from
	// a file whose contents have since changed. The schema is left untouched.
	ErrDrift = errors.New("migrate: applied migration was modified")

	// ErrDropping is returned by CreateTenant for a tenant whose directory
	// row is dropping: a drop has begun (or failed midway) and must finish,
	// by DropTenant, before the id can be provisioned again. Nothing is
	// changed.
	ErrDropping = errors.New("migrate: tenant is being dropped")

	// ErrLockTimeout is wrapped by the error of a transaction that waited
	// longer than Options.LockTimeout for a lock held by another
	// transaction. Nothing of that transaction was committed; running the
	// same call again retries it.
	ErrLockTimeout = errors.New("migrate: lock timeout")
)

// DefaultConcurrency is the number of tenants migrated at once when
// Options.Concurrency is zero.
const DefaultConcurrency = 8

// DefaultLockTimeout is the lock timeout of the migrator's transactions when
// Options.LockTimeout is zero.
const DefaultLockTimeout = 5 * time.Second

// Options configure a Migrator. The zero value is usable.
type Options struct {
	// Namer maps tenant ids to schema names; nil is tenant.DefaultNamer.
	// It must be the Namer of the registries that serve the tenants.
	Namer tenant.Namer

	// Logger receives one Info record per provisioned or dropped tenant and
	// Debug records per migrated schema; nil discards.
	Logger *slog.Logger

	// Concurrency is how many tenant schemas MigrateAll migrates at once;
	// zero or less means DefaultConcurrency. The *sql.DB should allow at
	// least this many open connections.
	Concurrency int

	// LockTimeout bounds every wait of a migrator transaction for a lock on
	// a table or a row (PostgreSQL's lock_timeout, set for the transaction
	// only), so that DDL never queues for long behind another transaction,
	// blocking the tenant's queries while it waits. A transaction that
	// times out fails with an error wrapping ErrLockTimeout and commits
	// nothing; MigrateAll reports that tenant failed and goes on with the
	// others, and the next run retries it. The wait for a schema's
	// migration lock, held by another migrator working on the same schema,
	// is not bounded. Zero means DefaultLockTimeout; negative means no
	// limit.
	LockTimeout time.Duration

	// Public and Tenant are the migration files of the two tracks
	// (<version>_<name>.sql at the root, applied in lexical order, in the
	// format of Ent's versioned migrations); nil is a track without files.
	Public, Tenant fs.FS
}

// A Migrator migrates, provisions and drops tenant schemas through one
// *sql.DB. It is safe for concurrent use by multiple goroutines and by
// multiple processes on the same database.
type Migrator struct {
	db      *sql.DB
	namer   tenant.Namer
	log     *slog.Logger
	workers int
	// lockTimeout is Options.LockTimeout resolved (0: no limit), and
	// setLockTimeout the statement that sets it for a transaction.
	lockTimeout    time.Duration
	setLockTimeout string
	public         []migration
	tenant         []migration
	loadErr        error
	citus          citusCache

	// beforeLock, if not nil, is called with the tenant's id before the
	// transaction of a tenant whose directory row apply checks (tests).
	beforeLock func(id string)
}

// New returns a Migrator working through db, which may be any pool of the
// database: its search_path does not matter, since every statement either
// names its schema or runs under SET LOCAL search_path. The Migrator does not
// own db; closing db is the caller's business. Errors reading the migration
// files are returned by every method.
func New(db *sql.DB, opts Options) *Migrator {
	m := &Migrator{
		db:      db,
		namer:   opts.Namer,
		log:     opts.Logger,
		workers: opts.Concurrency,
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.workers <= 0 {
		m.workers = DefaultConcurrency
	}
	switch m.lockTimeout = opts.LockTimeout; {
	case m.lockTimeout == 0:
		m.lockTimeout = DefaultLockTimeout
	case m.lockTimeout < 0:
		m.lockTimeout = 0
	}
	// In whole milliseconds, rounded up: a positive timeout must not become
	// 0, which is no limit.
	// On a Citus coordinator the locks a migration waits for are mostly
	// taken on the workers, over connections of the coordinator's own: the
	// timeout must go with the transaction's other SET LOCALs. Without
	// Citus the first setting is a placeholder that nothing reads.
	ms := (m.lockTimeout + time.Millisecond - 1) / time.Millisecond
	m.setLockTimeout = "SET LOCAL citus.propagate_set_commands TO 'local';\n" +
		"SET LOCAL lock_timeout = " + strconv.FormatInt(int64(ms), 10)
	lib, err1 := load(directory.Migrations())
	pub, err2 := load(opts.Public)
	m.public = append(lib, pub...)
	ten, err3 := load(opts.Tenant)
	m.tenant = ten
	if err := errors.Join(err1, err2, err3); err != nil {
		m.loadErr = fmt.Errorf("migrate: read migration files: %w", err)
	}
	return m
}

// Versions returns the versions of the public track (the migrator's own
// first) and of the tenant track, in the order they apply.
func (m *Migrator) Versions() (public, tenant []string) {
	return versions(m.public), versions(m.tenant)
}

// Revision returns the latest migration of the tenant track (the version
// that sorts last), "" when the track is empty: the revision that MigrateAll,
// MigrateTenant and CreateTenant record in the directory row of every tenant
// they migrate, in the transaction that migrates it.
func (m *Migrator) Revision() string { return latest(m.tenant) }

func latest(ms []migration) string {
	if len(ms) == 0 {
		return ""
	}
	return ms[len(ms)-1].version
}

// LatestRevision returns the latest migration of the tenant track
// tenantFiles, as Migrator.Revision would: the value of
// tenant.Options.Revision for a server built with these files.
func LatestRevision(tenantFiles fs.FS) (string, error) {
	ms, err := load(tenantFiles)
	if err != nil {
		return "", fmt.Errorf("migrate: read migration files: %w", err)
	}
	return latest(ms), nil
}

func versions(ms []migration) []string {
	out := make([]string, len(ms))
	for i, f := range ms {
		out[i] = f.version
	}
	return out
}

// MigratePublic applies the pending public migrations to schema public,
// recording them in public.schema_migrations. It is idempotent and safe to
// run from several processes at once. The error wraps ErrDrift when an
// applied public migration was modified.
func (m *Migrator) MigratePublic(ctx context.Context) error {
	_, err := m.migratePublic(ctx, applyOptions{})
	return err
}

func (m *Migrator) migratePublic(ctx context.Context, o applyOptions) ([]string, error) {
	if m.loadErr != nil {
		return nil, m.loadErr
	}
	applied, err := m.apply(ctx, "public", m.public, o)
	if err != nil {
		return nil, fmt.Errorf("migrate public: %w", err)
	}
	m.log.DebugContext(ctx, "schema migrated", "schema", "public", "applied", applied)
	return applied, nil
}

// MigrateTenant applies the pending tenant migrations to the schema of tenant
// id, creating the schema if it does not exist, and returns the versions it
// applied. It does not consult the directory (MigrateAll and CreateTenant
// do). Errors wrap tenant.ErrInvalidID for a bad id and ErrDrift for a
// modified applied file, and name the tenant.
func (m *Migrator) MigrateTenant(ctx context.Context, id string) ([]string, error) {
	schema, err := m.namer.Schema(id)
	if err != nil {
		return nil, err
	}
	return m.migrateSchema(ctx, id, schema, applyOptions{})
}

func (m *Migrator) migrateSchema(ctx context.Context, id, schema string, o applyOptions) ([]string, error) {
	if m.loadErr != nil {
		return nil, m.loadErr
	}
	o.create = true
	// Every file of the track is applied once apply commits, so the
	// directory row records the latest one with them. A revision recorded
	// by a newer release is kept.
	then := o.then
	o.then = func(tx *sql.Tx) error {
		if rev := m.Revision(); rev != "" {
			if _, err := tx.ExecContext(ctx, `
UPDATE public.tenants SET revision = $3
WHERE id = $1 AND schema_name = $2 AND (revision IS NULL OR revision < $3)`, id, schema, rev); err != nil {
				return fmt.Errorf("record revision: %w", err)
			}
		}
		if then != nil {
			return then(tx)
		}
		return nil
	}
	applied, err := m.apply(ctx, schema, m.tenant, o)
	if err != nil {
		return nil, fmt.Errorf("migrate tenant %q (schema %s): %w", id, schema, err)
	}
	m.log.DebugContext(ctx, "schema migrated", "tenant", id, "schema", schema, "applied", applied)
	return applied, nil
}

// CreateOptions are the options of CreateTenant.
type CreateOptions struct {
	// Then, if not nil, runs last in the transaction that migrates the
	// tenant's schema and marks it active (with the schema as search_path),
	// each time CreateTenant is called: for the service's own rows about
	// the tenant in public, such as its plan. Its error rolls that
	// transaction back and is returned.
	Then func(ctx context.Context, tx *sql.Tx) error
}

// CreateTenant provisions tenant id: it inserts (or keeps) its directory row
// with status provisioning, creates its schema, applies the tenant
// migrations and marks the row active, which the directory's trigger
// announces on tenant.DirectoryChannel. It returns the directory row.
//
// It is idempotent and safe to call concurrently for the same id (one schema
// results and every caller succeeds). On failure the row stays provisioning,
// so the tenant is not served, and the error is returned; calling it again
// repairs the tenant. An existing active or suspended tenant keeps its
// status; its schema is brought up to date and opts.Then runs again. A
// tenant that is being dropped is an error wrapping ErrDropping, a failed
// one (see CloneTenant) one wrapping ErrWrongStatus. Errors name the tenant
// and wrap tenant.ErrInvalidID where it applies.
func (m *Migrator) CreateTenant(ctx context.Context, id string, opts CreateOptions) (*Tenant, error) {
	t, err := m.createTenant(ctx, id, opts)
	if err != nil {
		return nil, fmt.Errorf("create tenant %q: %w", id, err)
	}
	return t, nil
}

func (m *Migrator) createTenant(ctx context.Context, id string, opts CreateOptions) (*Tenant, error) {
	start := time.Now()
	schema, err := m.namer.Schema(id)
	if err != nil {
		return nil, err
	}
	if m.loadErr != nil {
		return nil, m.loadErr
	}
	// The row is committed before the schema is touched, so a failure
	// leaves it provisioning. ON CONFLICT DO UPDATE (rather than DO NOTHING)
	// returns the row even when a concurrent call inserted it.
	status, have, err := m.upsertDirectory(ctx, id, schema)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	switch {
	case have != schema:
		return nil, fmt.Errorf("directory names schema %s, the Namer %s: refusing to guess", have, schema)
	case status == directory.Dropping:
		return nil, fmt.Errorf("%w: finish the drop first", ErrDropping)
	case status == directory.Failed:
		return nil, fmt.Errorf("%w: tenant is failed (an unfinished clone or import): run it again, or drop the tenant", ErrWrongStatus)
	}
	// Activation commits with the migrations: the tenant is served exactly
	// when its schema is complete. The directory's trigger announces it on
	// commit, and only when the status changed: re-creating an active
	// tenant must not make every registry drop its pool.
	activate := func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
UPDATE public.tenants SET status = 'active', updated_at = now()
WHERE id = $1 AND status = 'provisioning'`, id)
		if err != nil {
			return fmt.Errorf("activate: %w", err)
		}
		if opts.Then != nil {
			return opts.Then(ctx, tx)
		}
		return nil
	}
	_, err = m.migrateSchema(ctx, id, schema, applyOptions{id: id, then: activate})
	var skip *skipError
	switch {
	case errors.As(err, &skip) && skip.reason == skipDropped:
		return nil, errors.New("tenant was dropped while it was being created")
	case errors.As(err, &skip):
		return nil, fmt.Errorf("%w: finish the drop first", ErrDropping)
	case err != nil:
		return nil, err
	}
	t, err := m.GetTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	m.log.InfoContext(ctx, "tenant provisioned", "tenant", id, "schema", schema, "status", t.Status, "duration", time.Since(start))
	return t, nil
}

// upsertDirectoryRow inserts a tenant's directory row as provisioning, or
// keeps the existing row, and returns its status and schema.
const upsertDirectoryRow = `
INSERT INTO public.tenants AS t (id, schema_name, status, created_at, updated_at)
VALUES ($1, $2, 'provisioning', now(), now())
ON CONFLICT (id) DO UPDATE SET updated_at = t.updated_at
RETURNING status, schema_name`

// upsertDirectory runs upsertDirectoryRow. Its ON CONFLICT arbitrates on the
// id only: when a concurrent call inserts the same row first, the insert can
// instead fail on the unique schema_name, and is then retried, finding the
// row committed.
func (m *Migrator) upsertDirectory(ctx context.Context, id, schema string) (status, have string, err error) {
	for range 3 {
		err = m.inTx(ctx, func(tx *sql.Tx) error {
			return tx.QueryRowContext(ctx, upsertDirectoryRow, id, schema).Scan(&status, &have)
		})
		if !isUniqueViolation(err) {
			break
		}
	}
	return status, have, err
}

// DropTenant removes tenant id: it marks the directory row dropping (which
// the directory's trigger announces on tenant.DirectoryChannel, so
// registries stop serving the tenant and evict its pool), then, in one
// transaction under the schema's migration lock, drops the schema with
// everything in it and deletes the row (announced again). It returns an
// error wrapping tenant.ErrNotFound when the directory has no such tenant,
// and tenant.ErrInvalidID for a bad id. A failed drop leaves the row
// dropping (not served); calling DropTenant again finishes it.
func (m *Migrator) DropTenant(ctx context.Context, id string) error {
	if err := m.dropTenant(ctx, id); err != nil {
		return fmt.Errorf("drop tenant %q: %w", id, err)
	}
	return nil
}

func (m *Migrator) dropTenant(ctx context.Context, id string) error {
	schema, err := m.namer.Schema(id)
	if err != nil {
		return err
	}
	var have string
	err = m.inTx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `
UPDATE public.tenants SET status = 'dropping', updated_at = now() WHERE id = $1
RETURNING schema_name`, id).Scan(&have)
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return tenant.ErrNotFound
	case err != nil:
		return fmt.Errorf("directory: %w", err)
	case have != schema:
		return fmt.Errorf("directory names schema %s, the Namer %s: refusing to drop either", have, schema)
	}
	tx, err := m.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(schema)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, seeCatalog+";\n"+m.setLockTimeout); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+pq.QuoteIdentifier(schema)+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, m.lockErr(err))
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM public.tenants WHERE id = $1", id); err != nil {
		return fmt.Errorf("directory: %w", m.lockErr(err))
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	m.log.InfoContext(ctx, "tenant dropped", "tenant", id, "schema", schema)
	return nil
}

// begin starts a transaction of the migrator at READ COMMITTED, whatever the
// server's default_transaction_isolation: the statements that follow the
// wait for a schema's advisory lock must see what the previous holder
// committed (under REPEATABLE READ the snapshot is the one taken by the
// statement that waited, and files would run twice), and the directory
// statements must see rows committed by concurrent calls instead of failing
// with serialization errors.
func (m *Migrator) begin(ctx context.Context) (*sql.Tx, error) {
	return m.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
}

// inTx runs f in a transaction of begin, with the lock timeout set, and
// commits it if f succeeds.
func (m *Migrator) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := m.begin(ctx)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, m.setLockTimeout); err != nil {
		tx.Rollback()
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return m.lockErr(err)
	}
	return tx.Commit()
}

// lockErr wraps ErrLockTimeout around err when err is PostgreSQL's
// lock_not_available (55P03), which lock_timeout raises.
func (m *Migrator) lockErr(err error) error {
	if pq.As(err, pqerror.LockNotAvailable) == nil {
		return err
	}
	return fmt.Errorf("%w: a lock was not granted within %s because another transaction holds it; nothing was committed, and running it again retries: %w", ErrLockTimeout, m.lockTimeout, err)
}

// TenantsBehind returns how many tenants of the directory, other than those
// being dropped, record an older revision than Revision, or none: the
// tenants a server built with these files would not serve
// (tenant.ErrSchemaBehind) until 'MigrateAll' migrates them. It is one
// query over the directory, whatever the number of tenants.
func (m *Migrator) TenantsBehind(ctx context.Context) (int, error) {
	if m.loadErr != nil {
		return 0, m.loadErr
	}
	rev := m.Revision()
	if rev == "" {
		return 0, nil
	}
	var n int
	err := m.db.QueryRowContext(ctx, `
SELECT count(*) FROM public.tenants
WHERE status <> 'dropping' AND (revision IS NULL OR revision < $1)`, rev).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count tenants behind: %w", err)
	}
	return n, nil
}

// PublicPending returns the public migrations of these files that the
// database has not applied, in order (all of them when public was never
// migrated), with one query.
func (m *Migrator) PublicPending(ctx context.Context) ([]string, error) {
	if m.loadErr != nil {
		return nil, m.loadErr
	}
	rows, err := m.db.QueryContext(ctx, "SELECT version FROM public."+RevisionTable)
	if isUndefinedTable(err) {
		return versions(m.public), nil
	} else if err != nil {
		return nil, fmt.Errorf("read public revisions: %w", err)
	}
	defer rows.Close()
	done := make(map[string]bool)
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read public revisions: %w", err)
		}
		done[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read public revisions: %w", err)
	}
	var pending []string
	for _, f := range m.public {
		if !done[f.version] {
			pending = append(pending, f.version)
		}
	}
	return pending, nil
}
