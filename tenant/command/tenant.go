package command

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/pgtenant/pgtenant/internal/cmdline"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

const tenantHelp = `usage: %[1]s tenant create ID... [--from-file F] [--concurrency N] [--seed FILE] [--json] [--lock-timeout D]
       %[1]s tenant drop ID --force [--lock-timeout D]
       %[1]s tenant list [--json]

create  adds tenant ID to the directory, creates and migrates its schema and
        marks it active; safe to re-run, and re-running repairs a failed create;
        --seed then runs the SQL script FILE in it, with its schema as
        search_path.
        With several ids, or --from-file (one id a line, - for stdin; blank
        lines and lines starting with # skipped), --concurrency tenants are
        created at once (at most DB_MAX_CONNS - 1), each distinct id once.
        A failing tenant does not stop the others, and an invalid id fails
        alone, before any SQL. Failures are printed on stderr as they
        happen; with --json, stdout has instead one JSON line per tenant
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

Flags:
`

// tenant runs NAME tenant create|drop|list.
func (r *runner) tenant(ctx context.Context, args []string) error {
	help := r.help(tenantHelp)
	if r.cfg.TenantHelp != "" {
		help = r.cfg.TenantHelp
	}
	fs := cmdline.NewFlagSet(r.stderr, "tenant", help)
	dbURL := r.db.Flag(fs)
	extra := make([]*string, len(r.cfg.CreateFlags))
	for i, f := range r.cfg.CreateFlags {
		extra[i] = fs.String(f.Name, "", f.Usage)
	}
	seedFile := fs.String("seed", "", "create: then run this SQL seed `file` in the tenant")
	force := fs.Bool("force", false, "drop: confirm that the tenant's data is to be destroyed")
	asJSON := fs.Bool("json", false, "create, list: print JSON (create with several ids: one JSON line per tenant, then the summary)")
	fromFile := fs.String("from-file", "", "create: also create the tenant ids in this `file`, one a line; - reads stdin")
	concurrency := fs.Int("concurrency", migrate.DefaultConcurrency, "create with several ids: tenants created at once")
	lockTimeout := cmdline.LockTimeoutFlag(fs, "create, drop")
	pos, err := cmdline.ParseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return cmdline.Usagef("tenant: missing subcommand (create, drop or list)")
	}
	sub, pos := pos[0], pos[1:]
	if sub != "create" && *fromFile != "" {
		return cmdline.Usagef("tenant %s: --from-file applies to create only", sub)
	}
	flags := make([]string, len(extra))
	for i, p := range extra {
		flags[i] = *p
	}
	if sub == "create" && (len(pos) > 1 || *fromFile != "") {
		b := bulkCreate{dbURL: *dbURL, ids: pos, flags: flags, asJSON: *asJSON, concurrency: *concurrency}
		return r.tenantCreateMany(ctx, b, *fromFile, *seedFile, *lockTimeout)
	}
	var id string
	switch sub {
	case "create", "drop":
		if len(pos) != 1 {
			if sub == "create" {
				return cmdline.Usagef("tenant create: want one or more tenant IDs, or --from-file")
			}
			return cmdline.Usagef("tenant %s: want exactly one tenant ID", sub)
		}
		id = pos[0]
		// Reject a hostile id before anything else, --force included.
		if _, err := tenant.Namer(nil).Schema(id); err != nil {
			return fmt.Errorf("tenant %s: %w", sub, err)
		}
		if sub == "drop" && !*force {
			return cmdline.Usagef("tenant drop: refusing to destroy tenant %q and all its data without --force", id)
		}
	case "list":
		if len(pos) != 0 {
			return cmdline.Usagef("tenant list: unexpected argument %q", pos[0])
		}
	default:
		fs.Usage()
		return cmdline.Usagef("tenant: unknown subcommand %q", sub)
	}
	lt, err := cmdline.LockTimeoutOption(*lockTimeout)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", sub, err)
	}
	db, err := cmdline.OpenAdminDB(*dbURL, 2)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", sub, err)
	}
	defer db.Close()
	m := r.newMigrator(db, migrate.Options{LockTimeout: lt})
	switch sub {
	case "create":
		var script string
		if *seedFile != "" {
			if script, err = cmdline.ReadSeed(*seedFile); err != nil {
				return fmt.Errorf("tenant create: %w", err)
			}
		}
		opts, err := r.createOptions(ctx, db, flags)
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
			vs, err := r.tenantViews(ctx, db, t)
			if err != nil {
				return err
			}
			return cmdline.WriteJSON(r.stdout, vs[0])
		}
		fmt.Fprintf(r.stdout, "tenant %s: schema %s, status %s\n", t.ID, t.Schema, t.Status)
	case "drop":
		if err := m.DropTenant(ctx, id); err != nil {
			return err
		}
		if r.cfg.AfterDrop != nil {
			if err := r.cfg.AfterDrop(ctx, db, id); err != nil {
				return err
			}
		}
		fmt.Fprintf(r.stdout, "tenant %s dropped\n", id)
	case "list":
		ts, err := m.ListTenants(ctx, migrate.ListOptions{})
		if err != nil {
			return err
		}
		views, err := r.tenantViews(ctx, db, ts...)
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
			return cmdline.WriteJSON(r.stdout, views)
		}
		tw := tabwriter.NewWriter(r.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprint(tw, "ID\tSCHEMA\tSTATUS")
		for _, c := range r.cfg.Columns {
			fmt.Fprint(tw, "\t"+c.Header)
		}
		fmt.Fprint(tw, "\tCREATED")
		if nodes != nil {
			fmt.Fprint(tw, "\tNODE")
		}
		fmt.Fprintln(tw)
		for _, v := range views {
			fmt.Fprintf(tw, "%s\t%s\t%s", v.ID, v.Schema, v.Status)
			for _, x := range v.Extra {
				fmt.Fprint(tw, "\t"+cmdline.Dash(x))
			}
			fmt.Fprint(tw, "\t"+v.CreatedAt.Format(time.RFC3339))
			if nodes != nil {
				fmt.Fprint(tw, "\t"+cmdline.Dash(nodes[v.Schema]))
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}
	return nil
}

// createOptions returns, for each tenant id, the options of CreateTenant
// that the CreateFlags given (values, in the order of Config.CreateFlags)
// make, each resolved once.
func (r *runner) createOptions(ctx context.Context, db *sql.DB, values []string) (func(id string) migrate.CreateOptions, error) {
	var each []func(string) migrate.CreateOptions
	for i, f := range r.cfg.CreateFlags {
		if values[i] == "" || f.Options == nil {
			continue
		}
		o, err := f.Options(ctx, db, values[i])
		if err != nil {
			return nil, err
		}
		each = append(each, o)
	}
	return func(id string) migrate.CreateOptions {
		var thens []func(context.Context, *sql.Tx) error
		for _, o := range each {
			if t := o(id).Then; t != nil {
				thens = append(thens, t)
			}
		}
		switch len(thens) {
		case 0:
			return migrate.CreateOptions{}
		case 1:
			return migrate.CreateOptions{Then: thens[0]}
		}
		return migrate.CreateOptions{Then: func(ctx context.Context, tx *sql.Tx) error {
			for _, t := range thens {
				if err := t(ctx, tx); err != nil {
					return err
				}
			}
			return nil
		}}
	}, nil
}

// tenantView is a directory row as the commands print it, with the
// values of Config.Columns.
type tenantView struct {
	ID        string
	Schema    string
	Status    string
	Reason    string
	Keys      []string // of Config.Columns
	Extra     []string // their values, "" for none
	CreatedAt time.Time
	UpdatedAt time.Time
	Node      string // host:port of its Citus worker
}

// MarshalJSON writes v as {"id","schema","status","reason"?, the Columns
// with a value, "createdAt","updatedAt","node"?}, in that order.
func (v tenantView) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	field := func(k string, x any) error {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kj, err := json.Marshal(k)
		if err != nil {
			return err
		}
		xj, err := json.Marshal(x)
		if err != nil {
			return err
		}
		b.Write(kj)
		b.WriteByte(':')
		b.Write(xj)
		return nil
	}
	type kv struct {
		k         string
		x         any
		omitEmpty bool
	}
	fields := []kv{{"id", v.ID, false}, {"schema", v.Schema, false}, {"status", v.Status, false}, {"reason", v.Reason, true}}
	for i, k := range v.Keys {
		fields = append(fields, kv{k, v.Extra[i], true})
	}
	fields = append(fields, kv{"createdAt", v.CreatedAt, false}, kv{"updatedAt", v.UpdatedAt, false}, kv{"node", v.Node, true})
	for _, f := range fields {
		if s, ok := f.x.(string); ok && f.omitEmpty && s == "" {
			continue
		}
		if err := field(f.k, f.x); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// tenantViews returns ts as the commands print them, with the values of
// Config.Columns.
func (r *runner) tenantViews(ctx context.Context, db *sql.DB, ts ...*migrate.Tenant) ([]tenantView, error) {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	cols := make([]map[string]string, len(r.cfg.Columns))
	keys := make([]string, len(r.cfg.Columns))
	for i, c := range r.cfg.Columns {
		keys[i] = c.Key
		if c.Values == nil {
			continue
		}
		vs, err := c.Values(ctx, db, ids)
		if err != nil {
			return nil, err
		}
		cols[i] = vs
	}
	out := make([]tenantView, len(ts))
	for i, t := range ts {
		out[i] = tenantView{ID: t.ID, Schema: t.Schema, Status: t.Status, Reason: t.StatusReason,
			Keys: keys, Extra: make([]string, len(cols)), CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
		for j, vs := range cols {
			out[i].Extra[j] = vs[t.ID]
		}
	}
	return out, nil
}

// tenantCreateMany is 'tenant create' with several ids or --from-file.
// b holds the ids of the arguments and the values of the other flags;
// tenantCreateMany adds the ids of fromFile, the seed script and the lock
// timeout.
func (r *runner) tenantCreateMany(ctx context.Context, b bulkCreate, fromFile, seedFile string, lockTimeout time.Duration) error {
	if b.concurrency < 1 {
		return cmdline.Usagef("tenant create: --concurrency must be at least 1")
	}
	budget, err := cmdline.ConnBudget(r.getenv)
	if err != nil {
		return fmt.Errorf("tenant create: %w", err)
	}
	if b.concurrency > budget-1 {
		fmt.Fprintf(r.stderr, "tenant create: --concurrency %d capped to %d by the connection budget (DB_MAX_CONNS=%d)\n", b.concurrency, budget-1, budget)
		b.concurrency = budget - 1
	}
	if b.lockTimeout, err = cmdline.LockTimeoutOption(lockTimeout); err != nil {
		return fmt.Errorf("tenant create: %w", err)
	}
	if fromFile != "" {
		more, err := readIDs(r.stdin, fromFile)
		if err != nil {
			return fmt.Errorf("tenant create: %w", err)
		}
		b.ids = append(b.ids, more...)
	}
	if seedFile != "" {
		if b.script, err = cmdline.ReadSeed(seedFile); err != nil {
			return fmt.Errorf("tenant create: %w", err)
		}
	}
	return r.createTenants(ctx, b)
}
