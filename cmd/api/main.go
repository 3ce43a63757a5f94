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
	"fmt"
	"io"
	"os"

	"github.com/pgtenant/pgtenant/internal/cmdline"
	"github.com/pgtenant/pgtenant/internal/devdb"
	"github.com/pgtenant/pgtenant/tenant/command"
)

func main() {
	ctx, cancel := cmdline.SignalContext()
	defer cancel()
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
	db *cmdline.Database
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
// Its error has no password in it; exitCode maps a mistake in the command
// line to status 2.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runIn(ctx, env{getenv: getenv, stdin: os.Stdin, stdout: stdout, stderr: stderr, devDir: devdb.DefaultDir}, args)
}

// runIn is run with the development database in e.devDir.
func runIn(ctx context.Context, e env, args []string) error {
	e.db = newDatabase(e)
	return cmdline.Run(e.stderr, e.db, func(stderr io.Writer) error {
		e.stderr = stderr
		return dispatch(ctx, e, args)
	})
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
	case "migrate", "status":
		return command.Run(ctx, append([]string{cmd}, args...), e.commandConfig())
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
