package tenanttest

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/lib/pq"
)

// MainOptions configure Main. The zero value gives a database with only the
// tenant directory.
type MainOptions struct {
	// Migrations are the service's migrations, applied to the database
	// and to every tenant of Tenants.
	Migrations Migrations

	// Tenants are provisioned in the database, as by NewTenant, before
	// Setup runs. Ids must be distinct.
	Tenants []string

	// Setup, if not nil, adds fixtures to the database (such as plans)
	// after the tenants are provisioned and before any test runs; db is
	// closed when Setup returns. An error makes Main return 1 without
	// running the tests.
	Setup func(ctx context.Context, db *sql.DB) error
}

// Main runs a package's tests and examples with a database that outlives
// each of them, for a TestMain:
//
//	func TestMain(m *testing.M) {
//		os.Exit(tenanttest.Main(m, tenanttest.MainOptions{Tenants: []string{"acme"}}))
//	}
//
// It creates a fresh database with the public migrations applied
// (Migrations.CreateDatabase), provisions opts.Tenants, runs opts.Setup, sets
// the environment variable DATABASE_URL to the database's URL (see URL) for
// the rest of the process, runs m and drops the database. It returns the
// exit code for os.Exit: m.Run's, or 1 if the database could not be made or
// dropped. The database is shared by everything m runs, so examples that
// change it must not change each other's output: give each its own tenant,
// or make what it does repeatable.
//
// When no server answers, Main fails (returns 1 without running m) if CI is
// set to a true value, as the TB helpers do. Otherwise it prints why to
// standard error, adds ^Example to -test.skip, so that examples, which
// cannot skip themselves, do not run, and runs m: the tests that need a
// server skip themselves through ServerConfig.
func Main(m *testing.M, opts MainOptions) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, drop, err := opts.Migrations.CreateDatabase(ctx)
	switch {
	case errors.Is(err, ErrNoServer) && !inCI():
		fmt.Fprintf(os.Stderr, "tenanttest: %v; skipping the examples\n", err)
		if err := skipExamples(); err != nil {
			fmt.Fprintf(os.Stderr, "tenanttest: %v\n", err)
			return 1
		}
		return m.Run()
	case errors.Is(err, ErrNoServer):
		fmt.Fprintf(os.Stderr, "tenanttest.Main: %v (CI is set: failing instead of skipping)\n", err)
		return 1
	case err != nil:
		fmt.Fprintf(os.Stderr, "tenanttest.Main: %v\n", err)
		return 1
	}
	code := 1
	if err := prepare(ctx, cfg, opts); err != nil {
		fmt.Fprintf(os.Stderr, "tenanttest.Main: %v\n", err)
	} else {
		code = m.Run()
	}
	if err := drop(); err != nil {
		fmt.Fprintf(os.Stderr, "tenanttest.Main: %v\n", err)
		code = 1
	}
	return code
}

// prepare provisions the tenants of opts in the database cfg, runs
// opts.Setup and sets DATABASE_URL.
func prepare(ctx context.Context, cfg pq.Config, opts MainOptions) error {
	for _, id := range opts.Tenants {
		if _, err := opts.Migrations.createTenant(ctx, cfg, id); err != nil {
			return err
		}
	}
	if opts.Setup != nil {
		db, err := openDB(cfg)
		if err != nil {
			return err
		}
		err = opts.Setup(ctx, db)
		db.Close()
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	return os.Setenv("DATABASE_URL", URL(cfg))
}

// skipExamples adds ^Example to the -test.skip pattern. A top-level "|"
// in that pattern is an alternation of whole names (see go help testflag).
func skipExamples() error {
	pattern := "^Example"
	if f := flag.Lookup("test.skip"); f != nil && f.Value.String() != "" {
		pattern = f.Value.String() + "|" + pattern
	}
	return flag.Set("test.skip", pattern)
}
