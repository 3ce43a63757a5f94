// Package tenanttest provides helpers for tests that need a real PostgreSQL
// server: a fresh database per test, dropped when the test ends.
//
// The server is the one named by TEST_DATABASE_URL (a URL or key=value DSN of
// a role that may create databases) or, when that is unset, the one listening
// on 127.0.0.1:5432 as user postgres. When neither answers, tests are skipped
// with a message saying so, unless CI is set to a true value, in which case
// they fail: a green CI run always means the database tests ran.
package tenanttest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
)

// DefaultServerURL is the server used when TEST_DATABASE_URL is unset.
const DefaultServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var server struct {
	once sync.Once
	cfg  pq.Config
	err  error
}

// ServerConfig returns the connection settings of the test server's
// maintenance database, skipping tb (or failing it under CI) when no server
// can be reached.
func ServerConfig(tb testing.TB) pq.Config {
	tb.Helper()
	server.once.Do(func() {
		url := os.Getenv("TEST_DATABASE_URL")
		if url == "" {
			url = DefaultServerURL
		}
		server.cfg, server.err = pq.NewConfig(url)
		if server.err != nil {
			server.err = fmt.Errorf("TEST_DATABASE_URL: %w", server.err)
			return
		}
		server.err = ping(server.cfg)
	})
	if server.err != nil {
		msg := fmt.Sprintf("tenanttest: no PostgreSQL server for tests (set TEST_DATABASE_URL or run ./scripts/test): %v", server.err)
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return server.cfg.Clone()
}

func ping(cfg pq.Config) error {
	c, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(c)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// NewDatabase creates an empty database with a random name for tb and drops it
// (WITH (FORCE), so open connections do not stop it) when tb ends. It returns
// the connection settings of the new database. It is safe to call from
// parallel tests: each call gets its own database.
func NewDatabase(tb testing.TB) pq.Config {
	tb.Helper()
	return createDatabase(tb, ServerConfig(tb), "")
}

// createDatabase creates a database with a random name on the server admin
// connects to, as a copy of the database from (an empty database when from is
// ""), and drops it (WITH (FORCE)) when tb ends. It returns the
// connection settings of the new database and fails tb if it cannot create it.
func createDatabase(tb testing.TB, admin pq.Config, from string) pq.Config {
	tb.Helper()
	name := "tenanttest_" + randomHex(8)
	stmt, what := "CREATE DATABASE "+pq.QuoteIdentifier(name), "create database"
	if from != "" {
		stmt += " TEMPLATE " + pq.QuoteIdentifier(from)
		what = "create database from template"
	}
	db := openConfig(tb, admin)
	defer db.Close()
	if _, err := db.ExecContext(tb.Context(), stmt); err != nil {
		tb.Fatalf("tenanttest: %s: %v", what, err)
	}
	tb.Cleanup(func() {
		db := openConfig(tb, admin)
		defer db.Close()
		// The test's context is canceled by now.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			tb.Errorf("tenanttest: drop database %s: %v", name, err)
		}
	})
	cfg := admin.Clone()
	cfg.Database = name
	return cfg
}

// Open returns a *sql.DB for cfg that is closed when tb ends.
func Open(tb testing.TB, cfg pq.Config) *sql.DB {
	tb.Helper()
	db := openConfig(tb, cfg)
	tb.Cleanup(func() { db.Close() })
	return db
}

func openConfig(tb testing.TB, cfg pq.Config) *sql.DB {
	tb.Helper()
	c, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		tb.Fatalf("tenanttest: %v", err)
	}
	return sql.OpenDB(c)
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
