// Command api serves the multi-tenant REST API and administers tenants.
//
//	api [serve]                          serve the API (the default)
//	api migrate --all | --tenant ID ...  apply migrations to public and tenant schemas
//	api status [--json]                  show applied and pending migrations per tenant
//	api tenant create|drop|list ...      manage the tenant directory and schemas
//	api seed --file F --all ...          run a SQL seed in every (or some) tenant
//	api cluster status|rebalance         operate a Citus cluster (tenant move: api tenant move)
//	api -h                               list the commands
//
// Every flag takes its default from an environment variable; see README.md.
// The exit status is 0 on success, 2 for a mistake in the command line and
// 1 for any other failure.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pgtenant/pgtenant/internal/devdb"
)

func main() {
	// The first signal starts a graceful shutdown; a second one ends the
	// process at once, as its default action would. Both are received on
	// one channel with room for both, so the second is never lost however
	// soon it follows the first.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-sigs
		cancel()
		sig := <-sigs
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		syscall.Kill(os.Getpid(), sig.(syscall.Signal))
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if code := exitCode(err, os.Stderr); code != 0 {
		os.Exit(code)
	}
}

// env is what a subcommand gets from the process.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// devDir is the folder of the development database (devdb.Options.Dir).
	devDir string
	// devProbe is the server serve uses as the development database when
	// it answers (devdb.Options.Probe); empty means devdb.DefaultProbe.
	devProbe string
	// db is filled in by the command with the database it uses, so that
	// run can explain a failure to reach it.
	db *database
}

const usage = `usage: api [serve | migrate | status | tenant | seed | cluster] [flags]

  serve     serve the REST API (default)
  migrate   apply migrations: --all | --tenant ID | --tenants a,b
  status    applied, pending and drifted migrations per tenant
  tenant    create ID... [--from-file F] [--plan P] | drop ID --force | list
            suspend ID [--reason R] | resume ID | clone FROM TO [--with-data]
            export ID > F | import NEW_ID < F | move ID --to HOST:PORT (Citus)
            key create ID [--name N] [--expires 720h] | key list ID | key revoke PREFIX
  seed      run a SQL seed in tenants: --file F (--all | --tenant ID | --tenants a,b)
  cluster   status | rebalance (Citus)

Run 'api COMMAND -h' for the flags of a command.
`

// run is main without the process: it dispatches args[0] to a subcommand.
// Its error has no password in it; a *usageError is a mistake in the
// command line.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runIn(ctx, env{getenv: getenv, stdin: os.Stdin, stdout: stdout, stderr: stderr, devDir: devdb.DefaultDir}, args)
}

// runIn is run with the development database in e.devDir.
func runIn(ctx context.Context, e env, args []string) error {
	rec := &firstWrite{w: e.stderr}
	e.stderr, e.db = rec, &database{}
	err := dispatch(ctx, e, args)
	var ue *usageError
	if err != nil && !errors.As(err, &ue) && rec.printed(err.Error()) {
		// The flag package printed it, with the usage.
		return &usageError{err: err, printed: true}
	}
	return explain(e.db, err)
}

func dispatch(ctx context.Context, e env, args []string) error {
	stdout, stderr := e.stdout, e.stderr
	cmd := "serve"
	switch {
	case len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help"):
		// 'api -h' lists the commands; 'api serve -h' the flags of serve.
		cmd = "help"
	case len(args) > 0 && args[0] != "" && args[0][0] != '-':
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
	case "seed":
		return seedCmd(ctx, e, args)
	case "cluster":
		return clusterCmd(ctx, e, args)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usagef("unknown command %q", cmd)
	}
}
