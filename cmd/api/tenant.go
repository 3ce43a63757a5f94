package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/pgtenant/pgtenant/internal/cmdline"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/command"
)

const tenantHelp = `usage: api tenant create ID... [--from-file F] [--concurrency N] [--plan P] [--seed FILE] [--json] [--lock-timeout D]
       api tenant drop ID --force [--lock-timeout D]
       api tenant list [--json]
       api tenant suspend|resume|clone|export|import ...  (see api tenant suspend -h)
       api tenant key create|list|revoke ...   (see api tenant key -h)
       api tenant move ID --to HOST:PORT [--json]

create  adds tenant ID to the directory, creates and migrates its schema and
        marks it active; safe to re-run, and re-running repairs a failed create;
        --seed then runs the SQL seed FILE in it (see api seed -h).
        With several ids, or --from-file (one id a line, - for stdin; blank
        lines and lines starting with # skipped), --concurrency tenants are
        created at once (at most DB_MAX_CONNS - 1), each distinct id once.
        An unknown --plan fails the command before any tenant is created;
        otherwise a failing tenant does not stop the others, and an invalid
        id fails alone, before any SQL. Failures are printed on stderr as
        they happen; with --json, stdout has instead one JSON line per tenant
        ({"id","status","error"}, status created, failed or notStarted) and
        a last {"summary":{...}} line. On a terminal a progress line on
        stderr is rewritten in place. A summary follows; the exit status is
        1 if any tenant failed or was not started. Ctrl-C starts no more
        tenants, finishes those under way (a second Ctrl-C ends at once) and
        prints the summary. Running the same command again creates what is
        missing and repairs what failed.
drop    drops the tenant's schema with all its data and removes it from the
        directory; running API processes stop serving it
list    lists the tenant directory (on Citus, with each tenant's node)
move    moves a tenant to another Citus worker, online (api tenant move -h)

Flags:
`

// tenantCmd runs 'api tenant': create, drop and list are package
// tenant/command's, with this service's plans.
func tenantCmd(ctx context.Context, e env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "key":
			return tenantKeyCmd(ctx, e, args[1:])
		case "move":
			return tenantMoveCmd(ctx, e, args[1:])
		}
		if cmd, ok := lifecycleCommands[args[0]]; ok {
			return cmd(ctx, e, args[0], args[1:])
		}
	}
	return command.Run(ctx, append([]string{"tenant"}, args...), e.commandConfig())
}

// tenantView is a directory row as the CLI prints it.
type tenantView struct {
	ID        string    `json:"id"`
	Schema    string    `json:"schema"`
	Status    string    `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	PlanID    string    `json:"planId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	Node      string    `json:"node,omitempty"` // host:port of its Citus worker
}

// parseTenantID parses args with fs (flags anywhere) and returns the one
// positional argument, a valid tenant id. Its errors name cmd; -h returns
// flag.ErrHelp.
func parseTenantID(fs *flag.FlagSet, args []string, cmd string) (string, error) {
	pos, err := cmdline.ParseInterspersed(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usagef("%s: want exactly one tenant ID", cmd)
	}
	if _, err := tenant.Namer(nil).Schema(pos[0]); err != nil {
		return "", fmt.Errorf("%s: %w", cmd, err)
	}
	return pos[0], nil
}
