// Package tenanttest provides helpers for tests that need a real PostgreSQL
// server: a fresh database per test, dropped when the test ends.
//
// The server is the one named by TEST_DATABASE_URL (a URL or key=value DSN of
// a role that may create databases) or, when that is unset, the one listening
// on 127.0.0.1:5432 as user postgres. When neither answers, tests are skipped
// with a message saying so, unless CI is set to a true value, in which case
// they fail: a green CI run always means the database tests ran.
//
// Examples cannot take a testing.TB; Main, called from a package's TestMain,
// gives them a migrated database in DATABASE_URL instead, and
// CreateMigratedDatabase makes one for any other code without a testing.TB.
package tenanttest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// DefaultServerURL is the server used when TEST_DATABASE_URL is unset.
const DefaultServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var server struct {
	once sync.Once
	cfg  pq.Config
	err  error
	// coordinator and workers describe a Citus test server (see citus.go);
	// workers is nil for a plain PostgreSQL server.
	coordinator string
	workers     []pq.Config
}

// ErrNoServer is wrapped by the errors of the functions without a testing.TB
// (CreateMigratedDatabase) when no PostgreSQL server for tests answers.
var ErrNoServer = errors.New("no PostgreSQL server for tests (set TEST_DATABASE_URL or run ./scripts/test)")

// ServerConfig returns the connection settings of the test server's
// maintenance database, skipping tb (or failing it under CI) when no server
// can be reached.
func ServerConfig(tb testing.TB) pq.Config {
	tb.Helper()
	cfg, err := serverConfig()
	if err != nil {
		msg := "tenanttest: " + err.Error()
		if inCI() {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return cfg
}

// serverConfig returns the settings of the test server's maintenance
// database, finding and pinging the server once per process. The error
// wraps ErrNoServer.
func serverConfig() (pq.Config, error) {
	server.once.Do(func() {
		url := os.Getenv("TEST_DATABASE_URL")
		if url == "" {
			url = DefaultServerURL
		}
		server.cfg, server.err = pq.NewConfig(url)
		if server.err != nil {
			server.err = fmt.Errorf("%w: TEST_DATABASE_URL: %w", ErrNoServer, server.err)
			return
		}
		if err := ping(server.cfg); err != nil {
			server.err = fmt.Errorf("%w: %w", ErrNoServer, err)
			return
		}
		server.coordinator, server.workers, server.err = citusNodes(server.cfg)
	})
	return server.cfg.Clone(), server.err
}

// inCI reports whether CI is set to a true value: then a missing server is a
// failure, not a reason to skip.
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

func ping(cfg pq.Config) error {
	db, err := openDB(cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// NewDatabase creates an empty database with a random name for tb and drops it
// (WITH (FORCE), so open connections do not stop it) when tb ends. It returns
// the connection settings of the new database. It is safe to call from
// parallel tests: each call gets its own database. The options apply to the
// new database before anything connects to it.
func NewDatabase(tb testing.TB, opts ...DatabaseOption) pq.Config {
	tb.Helper()
	return newDatabase(tb, ServerConfig(tb), "", opts)
}

// A DatabaseOption sets a property of a database made by NewDatabase or
// Migrations.NewDatabase.
type DatabaseOption func(*databaseOptions)

type databaseOptions struct {
	isolation sql.IsolationLevel
}

// DefaultIsolation makes level the database's default transaction isolation
// (ALTER DATABASE ... SET default_transaction_isolation), as a server
// configured that way would have it: every transaction that does not choose
// its level, including single statements, runs at level. sql.LevelDefault
// keeps the server's default; levels PostgreSQL does not have fail the test.
func DefaultIsolation(level sql.IsolationLevel) DatabaseOption {
	return func(o *databaseOptions) { o.isolation = level }
}

// settings returns the ALTER DATABASE ... SET clauses of opts.
func settings(opts []DatabaseOption) ([]string, error) {
	var o databaseOptions
	for _, opt := range opts {
		opt(&o)
	}
	switch o.isolation {
	case sql.LevelDefault:
		return nil, nil
	case sql.LevelReadUncommitted, sql.LevelReadCommitted, sql.LevelRepeatableRead, sql.LevelSerializable:
		// "Read Committed" and so on are PostgreSQL's names, in other case.
		return []string{"default_transaction_isolation = " + pq.QuoteLiteral(strings.ToLower(o.isolation.String()))}, nil
	}
	return nil, fmt.Errorf("default isolation %s: PostgreSQL has no such level", o.isolation)
}

// newDatabase is createDatabase for tb: it fails tb if it cannot create the
// database and drops it when tb ends.
func newDatabase(tb testing.TB, admin pq.Config, from string, opts []DatabaseOption) pq.Config {
	tb.Helper()
	set, err := settings(opts)
	if err != nil {
		tb.Fatalf("tenanttest: %v", err)
	}
	cfg, drop, err := createDatabase(tb.Context(), admin, from, set...)
	if err != nil {
		tb.Fatalf("tenanttest: %v", err)
	}
	tb.Cleanup(func() {
		if err := drop(); err != nil {
			tb.Errorf("tenanttest: %v", err)
		}
	})
	return cfg
}

// createDatabase creates a database with a random name on the server admin
// connects to, as a copy of the database from (an empty database when from is
// ""), with the parameter settings set ("name = value", as ALTER DATABASE
// ... SET takes them). It returns the connection settings of the new
// database and a function that drops it (WITH (FORCE)), with its own timeout
// since the caller's ctx may be over by then.
func createDatabase(ctx context.Context, admin pq.Config, from string, set ...string) (pq.Config, func() error, error) {
	name := "tenanttest_" + randomHex(8)
	stmt, what := "CREATE DATABASE "+pq.QuoteIdentifier(name), "create database"
	if from != "" {
		stmt += " TEMPLATE " + pq.QuoteIdentifier(from)
		what = "create database from template"
	}
	db, err := openDB(admin)
	if err != nil {
		return pq.Config{}, nil, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return pq.Config{}, nil, fmt.Errorf("%s: %w", what, err)
	}
	cfg := admin.Clone()
	cfg.Database = name
	dropStmt := "DROP DATABASE IF EXISTS " + pq.QuoteIdentifier(name) + " WITH (FORCE)"
	err = onWorkers(ctx, stmt)
	if err == nil && from == "" {
		err = setupCitus(ctx, cfg)
	}
	for _, kv := range set {
		if err != nil {
			break
		}
		if _, err = db.ExecContext(ctx, "ALTER DATABASE "+pq.QuoteIdentifier(name)+" SET "+kv); err != nil {
			err = fmt.Errorf("alter database: %w", err)
		}
	}
	if err != nil {
		db.ExecContext(context.WithoutCancel(ctx), dropStmt)
		onWorkers(context.WithoutCancel(ctx), dropStmt)
		return pq.Config{}, nil, fmt.Errorf("%s: %w", what, err)
	}
	drop := func() error {
		db, err := openDB(admin)
		if err != nil {
			return err
		}
		defer db.Close()
		// DROP DATABASE waits for a checkpoint, which a server busy
		// writing may take a while to finish.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		stmts := append(citusBeforeDrop(name), dropStmt)
		for _, s := range stmts {
			if _, err := db.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("drop database %s: %w", name, err)
			}
		}
		// A worker may still hold, for a moment, the connections the
		// coordinator opened to it for this database, which the drop
		// forces out; one still starting up makes it fail with 55006.
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			err := onWorkers(ctx, stmts...)
			if pq.As(err, pqerror.ObjectInUse) == nil {
				if err != nil {
					return fmt.Errorf("drop database %s: %w", name, err)
				}
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("drop database %s: %w", name, err)
			case <-tick.C:
			}
		}
	}
	return cfg, drop, nil
}

// Open returns a *sql.DB for cfg that is closed when tb ends.
func Open(tb testing.TB, cfg pq.Config) *sql.DB {
	tb.Helper()
	db, err := openDB(cfg)
	if err != nil {
		tb.Fatalf("tenanttest: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func openDB(cfg pq.Config) (*sql.DB, error) {
	c, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// URL returns cfg as a postgres:// URL, for code that takes a DSN string
// (such as DATABASE_URL or pq.NewListener). An empty host or port means
// localhost:5432 and an empty SSL mode means disable, as for the test server.
func URL(cfg pq.Config) string {
	host, port := cfg.Host, cfg.Port
	if host == "" {
		host = "localhost"
	}
	if port == 0 {
		port = 5432
	}
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(host, strconv.Itoa(int(port))), Path: "/" + cfg.Database}
	switch {
	case cfg.Password != "":
		u.User = url.UserPassword(cfg.User, cfg.Password)
	case cfg.User != "":
		u.User = url.User(cfg.User)
	}
	mode := string(cfg.SSLMode)
	if mode == "" {
		mode = "disable"
	}
	u.RawQuery = url.Values{"sslmode": {mode}}.Encode()
	return u.String()
}
