package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/pgtenant/pgtenant/internal/tenantplan"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
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
	fs := newFlagSet(e, "tenant", tenantHelp)
	dbURL := databaseURLFlag(fs, e)
	plan := fs.String("plan", "", "create: the plan's `name or id`")
	seedFile := fs.String("seed", "", "create: then run this SQL seed `file` in the tenant")
	force := fs.Bool("force", false, "drop: confirm that the tenant's data is to be destroyed")
	asJSON := fs.Bool("json", false, "create, list: print JSON (create with several ids: one JSON line per tenant, then the summary)")
	fromFile := fs.String("from-file", "", "create: also create the tenant ids in this `file`, one a line; - reads stdin")
	concurrency := fs.Int("concurrency", migrate.DefaultConcurrency, "create with several ids: tenants created at once")
	lockTimeout := lockTimeoutFlag(fs, "create, drop")
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return usagef("tenant: missing subcommand (create, drop or list)")
	}
	sub, pos := pos[0], pos[1:]
	if sub != "create" && *fromFile != "" {
		return usagef("tenant %s: --from-file applies to create only", sub)
	}
	if sub == "create" && (len(pos) > 1 || *fromFile != "") {
		b := bulkCreate{dbURL: *dbURL, ids: pos, plan: *plan, asJSON: *asJSON, concurrency: *concurrency}
		return tenantCreateMany(ctx, e, b, *fromFile, *seedFile, *lockTimeout)
	}
	var id string
	switch sub {
	case "create", "drop":
		if len(pos) != 1 {
			if sub == "create" {
				return usagef("tenant create: want one or more tenant IDs, or --from-file")
			}
			return usagef("tenant %s: want exactly one tenant ID", sub)
		}
		id = pos[0]
		// Reject a hostile id before anything else, --force included.
		if _, err := tenant.Namer(nil).Schema(id); err != nil {
			return fmt.Errorf("tenant %s: %w", sub, err)
		}
		if sub == "drop" && !*force {
			return usagef("tenant drop: refusing to destroy tenant %q and all its data without --force", id)
		}
	case "list":
		if len(pos) != 0 {
			return usagef("tenant list: unexpected argument %q", pos[0])
		}
	default:
		fs.Usage()
		return usagef("tenant: unknown subcommand %q", sub)
	}
	lt, err := lockTimeoutOption(*lockTimeout)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", sub, err)
	}
	db, err := openAdminDB(*dbURL, 2)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", sub, err)
	}
	defer db.Close()
	m := newMigrator(db, migrate.Options{LockTimeout: lt})
	switch sub {
	case "create":
		var script string
		if *seedFile != "" {
			if script, err = readSeed(*seedFile); err != nil {
				return fmt.Errorf("tenant create: %w", err)
			}
		}
		opts, err := createOptions(ctx, db, *plan)
		if err != nil {
			return fmt.Errorf("tenant create: %w", err)
		}
		t, err := m.CreateTenant(ctx, id, opts(id))
		if err != nil {
			return err
		}
		if script != "" {
			if _, err := m.SeedSQL(ctx, script, migrate.SeedOptions{IDs: []string{id}}); err != nil {
				return fmt.Errorf("tenant %s created, but its seed failed: %w", id, err)
			}
		}
		if *asJSON {
			return writeTenant(ctx, e, db, t)
		}
		fmt.Fprintf(e.stdout, "tenant %s: schema %s, status %s\n", t.ID, t.Schema, t.Status)
	case "drop":
		if err := m.DropTenant(ctx, id); err != nil {
			return err
		}
		if err := tenantplan.Forget(ctx, sharedClient(db), id); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "tenant %s dropped\n", id)
	case "list":
		ts, err := m.ListTenants(ctx, migrate.ListOptions{})
		if err != nil {
			return err
		}
		views, err := tenantViews(ctx, db, ts...)
		if err != nil {
			return err
		}
		nodes, err := m.Placements(ctx) // nil unless Citus
		if err != nil {
			return err
		}
		if *asJSON {
			for i, v := range views {
				views[i].Node = nodes[v.Schema]
			}
			return writeJSON(e.stdout, views)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprint(tw, "ID\tSCHEMA\tSTATUS\tPLAN\tCREATED")
		if nodes != nil {
			fmt.Fprint(tw, "\tNODE")
		}
		fmt.Fprintln(tw)
		for _, v := range views {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s", v.ID, v.Schema, v.Status, dash(v.PlanID), v.CreatedAt.Format(time.RFC3339))
			if nodes != nil {
				fmt.Fprint(tw, "\t"+dash(nodes[v.Schema]))
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}
	return nil
}

// tenantCreateMany is 'api tenant create' with several ids or --from-file.
// b holds the ids of the arguments and the values of the other flags;
// tenantCreateMany adds the ids of fromFile, the seed script and the lock
// timeout.
func tenantCreateMany(ctx context.Context, e env, b bulkCreate, fromFile, seedFile string, lockTimeout time.Duration) error {
	if b.concurrency < 1 {
		return usagef("tenant create: --concurrency must be at least 1")
	}
	budget, err := connBudget(e)
	if err != nil {
		return fmt.Errorf("tenant create: %w", err)
	}
	if b.concurrency > budget-1 {
		fmt.Fprintf(e.stderr, "tenant create: --concurrency %d capped to %d by the connection budget (DB_MAX_CONNS=%d)\n", b.concurrency, budget-1, budget)
		b.concurrency = budget - 1
	}
	if b.lockTimeout, err = lockTimeoutOption(lockTimeout); err != nil {
		return fmt.Errorf("tenant create: %w", err)
	}
	if fromFile != "" {
		more, err := readIDs(e, fromFile)
		if err != nil {
			return fmt.Errorf("tenant create: %w", err)
		}
		b.ids = append(b.ids, more...)
	}
	if seedFile != "" {
		if b.script, err = readSeed(seedFile); err != nil {
			return fmt.Errorf("tenant create: %w", err)
		}
	}
	return createTenants(ctx, e, b)
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

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseTenantID parses args with fs (flags anywhere) and returns the one
// positional argument, a valid tenant id. Its errors name cmd; -h returns
// flag.ErrHelp.
func parseTenantID(fs *flag.FlagSet, args []string, cmd string) (string, error) {
	pos, err := parseInterspersed(fs, args)
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

// parseInterspersed parses flags that may come before, between or after
// positional arguments (flag.Parse stops at the first positional one), and
// returns the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
