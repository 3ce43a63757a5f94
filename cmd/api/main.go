// Command api serves the multi-tenant REST API and administers tenants.
//
//	api [serve]                          serve the API (the default)
//	api migrate --all | --tenant ID ...  apply migrations to public and tenant schemas
//	api status [--json]                  show applied and pending migrations per tenant
//	api tenant create|drop|list ...      manage the tenant directory and schemas
//	api cluster status|rebalance         operate a Citus cluster (tenant move: api tenant move)
//
// Every flag takes its default from an environment variable; see README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal starts a graceful shutdown; restoring the default
	// handling then lets a second signal end the process at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

// env is what a subcommand gets from the process.
type env struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

const usage = `usage: api [serve | migrate | status | tenant | cluster] [flags]

  serve     serve the REST API (default)
  migrate   apply migrations: --all | --tenant ID | --tenants a,b
  status    applied, pending and drifted migrations per tenant
  tenant    create ID [--plan P] | drop ID --force | list
  cluster   status | rebalance (Citus); tenant move ID --to HOST:PORT

Run 'api COMMAND -h' for the flags of a command.
`

// run is main without the process: it dispatches args[0] to a subcommand.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdout: stdout, stderr: stderr}
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, e, args)
	case "migrate":
		return migrateCmd(ctx, e, args)
	case "status":
		return statusCmd(ctx, e, args)
	case "tenant":
		return tenantCmd(ctx, e, args)
	case "cluster":
		return clusterCmd(ctx, e, args)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
