package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pgtenant/pgtenant/internal/cmdline"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

const migrateHelp = `usage: %[1]s migrate (--all | --tenant ID | --tenants a,b) [flags]

Applies the public migrations, then the tenant migrations to the selected
tenants of the directory (--all: every tenant), several at once. A tenant
dropped or being dropped is skipped (status "skipped"). A failing tenant does
not stop the others; the exit status is 1 if any failed. Progress goes to
stderr when it is a terminal. --concurrency is capped by the connection
budget (DB_MAX_CONNS, default 80): one connection per tenant migrated at
once, and one more.

Flags:
`

// migrate runs NAME migrate.
func (r *runner) migrate(ctx context.Context, args []string) error {
	fs := cmdline.NewFlagSet(r.stderr, "migrate", r.help(migrateHelp))
	dbURL := r.db.Flag(fs)
	all := fs.Bool("all", false, "migrate every tenant in the directory")
	one := fs.String("tenant", "", "migrate only tenant `ID`")
	some := fs.String("tenants", "", "migrate only these comma-separated tenant `ids`")
	concurrency := fs.Int("concurrency", migrate.DefaultConcurrency, "tenants migrated at once")
	lockTimeout := cmdline.LockTimeoutFlag(fs, "")
	dryRun := fs.Bool("dry-run", false, "list pending migrations without applying anything")
	markApplied := fs.Bool("mark-applied", false, "record pending migrations as applied without running them (baseline schemas built by other means)")
	asJSON := fs.Bool("json", false, "print a JSON report instead of a table")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cmdline.Usagef("migrate: unexpected argument %q", fs.Arg(0))
	}
	ids, err := cmdline.SelectTenants(*all, *one, *some)
	if errors.Is(err, tenant.ErrInvalidID) {
		return fmt.Errorf("migrate: %w", err)
	} else if err != nil {
		return cmdline.Usagef("migrate: %w", err)
	}
	if *concurrency < 1 {
		return cmdline.Usagef("migrate: --concurrency must be at least 1")
	}
	budget, err := cmdline.ConnBudget(r.getenv)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if *concurrency > budget-1 {
		fmt.Fprintf(r.stderr, "migrate: --concurrency %d capped to %d by the connection budget (DB_MAX_CONNS=%d)\n", *concurrency, budget-1, budget)
		*concurrency = budget - 1
	}
	lt, err := cmdline.LockTimeoutOption(*lockTimeout)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	db, err := cmdline.OpenAdminDB(*dbURL, *concurrency+1)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer db.Close()

	opts := migrate.RunOptions{IDs: ids, Concurrency: *concurrency, DryRun: *dryRun, MarkApplied: *markApplied}
	progress := cmdline.IsTerminal(r.stderr)
	if progress {
		opts.Progress = func(p migrate.Progress) {
			fmt.Fprintf(r.stderr, "\r%d/%d tenants, %d failed, %.1f/s, ETA %s   ",
				p.Done, p.Total, p.Failed, p.Rate, p.ETA.Round(time.Second))
		}
	}
	rep, err := r.newMigrator(db, migrate.Options{Concurrency: *concurrency, LockTimeout: lt}).MigrateAll(ctx, opts)
	if progress && len(rep.Tenants) > 0 {
		fmt.Fprintln(r.stderr)
	}
	if errors.Is(err, tenant.ErrInvalidID) {
		return fmt.Errorf("migrate: %w", err)
	}
	if *asJSON {
		if werr := writeMigrateJSON(r.stdout, rep); werr != nil {
			return werr
		}
	} else {
		writeMigrateTable(r.stdout, rep)
	}
	switch {
	case rep.Public.Err != nil:
		return fmt.Errorf("migrate: %w", rep.Public.Err)
	case rep.Failed() > 0:
		return fmt.Errorf("migrate: %d of %s failed", rep.Failed(), cmdline.Plural(len(rep.Tenants), "tenant"))
	case err != nil:
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

func writeMigrateTable(w io.Writer, rep *migrate.Report) {
	verb, list := "applied", func(r migrate.Result) []string { return r.Applied }
	if rep.DryRun {
		verb, list = "pending", func(r migrate.Result) []string { return r.Pending }
	}
	if rep.Public.Err != nil {
		fmt.Fprintf(w, "public: FAILED: %v\n", rep.Public.Err)
		return
	}
	fmt.Fprintf(w, "public: %s %s\n", verb, versionList(list(rep.Public)))
	if len(rep.Tenants) == 0 {
		fmt.Fprintln(w, "no tenants")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "TENANT\tSCHEMA\t%s\tDURATION\tSTATUS\n", strings.ToUpper(verb))
	for _, r := range rep.Tenants {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Schema, versionList(list(r)), r.Duration.Round(time.Millisecond), resultStatus(r))
	}
	tw.Flush()
	fmt.Fprintf(w, "%s: %d succeeded, %d skipped, %d failed in %s\n",
		cmdline.Plural(len(rep.Tenants), "tenant"), len(rep.Tenants)-rep.Failed()-rep.Skipped(), rep.Skipped(), rep.Failed(), rep.Duration.Round(time.Millisecond))
}

// resultStatus is the STATUS column of r: its outcome, and why for a
// skipped or failed tenant.
func resultStatus(r migrate.Result) string {
	switch r.Outcome() {
	case migrate.OutcomeFailed:
		return "failed: " + r.Err.Error()
	case migrate.OutcomeSkipped:
		return "skipped: tenant " + r.Skipped
	}
	return string(r.Outcome())
}

func versionList(vs []string) string {
	if len(vs) == 0 {
		return "-"
	}
	return strings.Join(vs, ",")
}

type migrateJSON struct {
	DryRun  bool                `json:"dryRun"`
	Public  migrateResultJSON   `json:"public"`
	Tenants []migrateResultJSON `json:"tenants"`
	Summary struct {
		Total      int   `json:"total"`
		Succeeded  int   `json:"succeeded"`
		Skipped    int   `json:"skipped"`
		Failed     int   `json:"failed"`
		DurationMs int64 `json:"durationMs"`
	} `json:"summary"`
}

type migrateResultJSON struct {
	ID         string   `json:"id,omitempty"`
	Schema     string   `json:"schema"`
	Status     string   `json:"status"`            // ok, skipped or failed
	Skipped    string   `json:"skipped,omitempty"` // why: dropped, being dropped
	Applied    []string `json:"applied"`
	Pending    []string `json:"pending,omitempty"`
	DurationMs int64    `json:"durationMs"`
	Error      string   `json:"error,omitempty"`
}

func resultJSON(r migrate.Result) migrateResultJSON {
	j := migrateResultJSON{ID: r.ID, Schema: r.Schema, Status: string(r.Outcome()), Skipped: r.Skipped,
		Applied: r.Applied, Pending: r.Pending, DurationMs: r.Duration.Milliseconds()}
	if j.Applied == nil {
		j.Applied = []string{}
	}
	if r.Err != nil {
		j.Error = r.Err.Error()
	}
	return j
}

func writeMigrateJSON(w io.Writer, rep *migrate.Report) error {
	out := migrateJSON{DryRun: rep.DryRun, Public: resultJSON(rep.Public), Tenants: []migrateResultJSON{}}
	for _, r := range rep.Tenants {
		out.Tenants = append(out.Tenants, resultJSON(r))
	}
	out.Summary.Total = len(rep.Tenants)
	out.Summary.Failed = rep.Failed()
	out.Summary.Skipped = rep.Skipped()
	out.Summary.Succeeded = out.Summary.Total - out.Summary.Failed - out.Summary.Skipped
	out.Summary.DurationMs = rep.Duration.Milliseconds()
	return cmdline.WriteJSON(w, out)
}
