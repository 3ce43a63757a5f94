package tenanttest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// Migrations are a service's migration tracks, as package tenant/migrate
// takes them (migrate.Options.Public and Tenant): the helpers that make
// migrated databases and tenants are its methods. A Migrations is usually
// a package-level variable of a test package:
//
//	var migs = tenanttest.Migrations{Public: migrations.Public(), Tenant: migrations.Tenant()}
type Migrations struct {
	Public, Tenant fs.FS
}

// templates are the template databases made by this process, by checksum
// of the public track.
var templates sync.Map // string → *templateOnce

type templateOnce struct {
	once sync.Once
	name string
	err  error
}

// NewDatabase is NewDatabase with the public migrations applied: the
// tenant directory and the service's shared tables exist and are empty. It
// clones a template database named after the public migrations, created
// once per server and set of migrations (and kept, marked as a template that
// accepts no connections), so it costs one CREATE DATABASE. It is safe to
// call from parallel tests and from concurrent test processes. The options
// apply to the new database as for NewDatabase.
func (m Migrations) NewDatabase(tb testing.TB, opts ...DatabaseOption) pq.Config {
	tb.Helper()
	admin := ServerConfig(tb)
	name, err := m.template(admin)
	if err != nil {
		tb.Fatalf("tenanttest: %v", err)
	}
	return newDatabase(tb, admin, name, opts)
}

// CreateDatabase is NewDatabase for code without a testing.TB, such as a
// TestMain (see Main): it creates a fresh database with the public
// migrations applied, on the same server and from the same template, and
// returns its connection settings and a function that drops it (WITH
// (FORCE)). Nothing drops the database but drop. When no server answers,
// the error wraps ErrNoServer; CreateDatabase neither skips nor looks at CI,
// that is the caller's decision.
func (m Migrations) CreateDatabase(ctx context.Context) (cfg pq.Config, drop func() error, err error) {
	admin, err := serverConfig()
	if err != nil {
		return pq.Config{}, nil, err
	}
	name, err := m.template(admin)
	if err != nil {
		return pq.Config{}, nil, err
	}
	return createDatabase(ctx, admin, name)
}

// NewTenant provisions tenant id in the database cfg (which must have public
// migrated, as from NewDatabase) exactly as migrate.Migrator.CreateTenant
// does, with the default Namer, and returns the tenant's schema name. The
// tenant is active when NewTenant returns; it is dropped with the database.
// It fails tb on any error.
func (m Migrations) NewTenant(tb testing.TB, cfg pq.Config, id string) string {
	tb.Helper()
	schema, err := m.createTenant(tb.Context(), cfg, id)
	if err != nil {
		tb.Fatalf("tenanttest: %v", err)
	}
	return schema
}

// Migrator returns a migrator of these tracks over db, with the default
// options otherwise.
func (m Migrations) Migrator(db *sql.DB) *migrate.Migrator {
	return migrate.New(db, migrate.Options{Public: m.Public, Tenant: m.Tenant})
}

// createTenant provisions tenant id in the database cfg as NewTenant
// documents and returns its schema name.
func (m Migrations) createTenant(ctx context.Context, cfg pq.Config, id string) (string, error) {
	db, err := openDB(cfg)
	if err != nil {
		return "", err
	}
	defer db.Close()
	t, err := m.Migrator(db).CreateTenant(ctx, id, migrate.CreateOptions{})
	if err != nil {
		return "", err
	}
	return t.Schema, nil
}

// template returns the name of the template database of ensureTemplate,
// made once per process and public track.
func (m Migrations) template(admin pq.Config) (string, error) {
	sum, err := m.publicChecksum()
	if err != nil {
		return "", fmt.Errorf("migrated template database: %w", err)
	}
	v, _ := templates.LoadOrStore(sum, &templateOnce{})
	t := v.(*templateOnce)
	t.once.Do(func() { t.name, t.err = m.ensureTemplate(admin, sum) })
	if t.err != nil {
		return "", fmt.Errorf("migrated template database: %w", t.err)
	}
	return t.name, nil
}

// ensureTemplate returns the name of the template database holding the
// public migrations whose checksum is sum, creating it if needed. A session
// advisory lock on the maintenance database serialises processes creating
// it.
func (m Migrations) ensureTemplate(admin pq.Config, sum string) (string, error) {
	name := "tenanttest_template_" + sum[:16]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adminDB, err := openDB(admin)
	if err != nil {
		return "", err
	}
	defer adminDB.Close()
	conn, err := adminDB.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	const lockKey = 0x7067746e74746d70 // "pgtnttmp"
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(lockKey)); err != nil {
		return "", err
	}
	defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", int64(lockKey))

	var isTemplate bool
	err = conn.QueryRowContext(ctx, "SELECT datistemplate FROM pg_database WHERE datname = $1", name).Scan(&isTemplate)
	switch {
	case err == nil && isTemplate:
		return name, nil
	case err == nil:
		// Left half-made by a process that died: start again.
		if _, err := conn.ExecContext(ctx, "DROP DATABASE "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			return "", err
		}
		if err := onWorkers(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			return "", err
		}
	case !errors.Is(err, sql.ErrNoRows):
		return "", err
	}
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
		return "", err
	}
	cfg := admin.Clone()
	cfg.Database = name
	if err := onWorkers(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
		return "", err
	}
	if err := setupCitus(ctx, cfg); err != nil {
		return "", err
	}
	db, err := openDB(cfg)
	if err != nil {
		return "", err
	}
	err = m.Migrator(db).MigratePublic(ctx)
	db.Close()
	if err != nil {
		return "", err
	}
	// Clones need a template without connections; refuse any from now on.
	if _, err := conn.ExecContext(ctx, "ALTER DATABASE "+pq.QuoteIdentifier(name)+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"); err != nil {
		return "", err
	}
	if server.workers != nil {
		// Citus's maintenance daemon stays connected to the database.
		if _, err := conn.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name); err != nil {
			return "", err
		}
		if err := sealTemplateOnWorkers(ctx, name); err != nil {
			return "", err
		}
	}
	return name, nil
}

// publicChecksum identifies the public track, the migrator's own
// migrations included.
func (m Migrations) publicChecksum() (string, error) {
	h := sha256.New()
	pub, _ := m.Migrator(nil).Versions()
	fmt.Fprintf(h, "%q\x00", pub)
	if m.Public == nil {
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	err := fs.WalkDir(m.Public, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(m.Public, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
