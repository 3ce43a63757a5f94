// Command notes is a small notes service on pgtenant: every tenant has its own
// notebooks and notes in its own PostgreSQL schema, and all tenants share the
// accounts table in public.
//
//	notes                     serve HTTP on ADDR (default :8080), after applying
//	                          the public migrations (the tenant directory and
//	                          the accounts table)
//	notes migrate --all       migrate public and every tenant
//	notes status              applied and pending migrations
//	notes tenant create ID... provision tenants (schema tenant_ID, migrated)
//	notes tenant list|drop    list tenants, drop one
//
// The administrative commands are pgtenant's tenant/command package.
//
// Environment: DATABASE_URL (required), ISOLATION (search_path, the default,
// or qualified; see tenant.Mode), ADDR. Requests name their tenant in the
// X-Tenant-ID header; routes.go lists the API.
package main

//go:generate go run ./ent/entc.go

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/examples/notes/ent"
	"github.com/pgtenant/pgtenant/examples/notes/ent/migrate/migrations"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/command"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "notes:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 0 {
		return command.Run(ctx, args, command.Config{
			Name:   "notes",
			Public: migrations.Public(), Tenant: migrations.Tenant(),
			Stdout: stdout, Stderr: os.Stderr, Getenv: getenv,
		})
	}
	dsn := getenv("DATABASE_URL")
	connector, err := pq.NewConnector(dsn)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	// The shared tables and the tenant directory come first.
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	if err := m.MigratePublic(ctx); err != nil {
		return err
	}

	mode, err := tenant.ParseMode(cmp.Or(getenv("ISOLATION"), "search_path"))
	if err != nil {
		return fmt.Errorf("ISOLATION: %w", err)
	}
	reg, err := tenant.New(ctx, dsn, ent.ClientForTenant, tenant.Options{Mode: mode})
	if err != nil {
		return err
	}
	defer reg.Close(context.Background())

	srv := &http.Server{Addr: cmp.Or(getenv("ADDR"), ":8080"), Handler: routes(reg)}
	fmt.Fprintf(stdout, "notes: serving on %s (%s)\n", srv.Addr, mode)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
