package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

const migrateHelp = `usage: api migrate (--all | --tenant ID | --tenants a,b) [flags]

Applies the public migrations, then the tenant migrations to the selected
tenants of the directory (--all: every tenant), several at once. A tenant
dropped or being dropped is skipped (status "skipped"). A failing tenant does
not stop the others; the exit status is 1 if any failed. Progress goes to
stderr when it is a terminal. --concurrency is capped by the connection
budget (DB_MAX_CONNS, default 80): one connection per tenant migrated at
once, and one more.

Flags:
`

func migrateCmd(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "migrate", migrateHelp)
	dbURL := databaseURLFlag(fs, e)
	all := fs.Bool("all", false, "migrate every tenant in the directory")
	one := fs.String("tenant", "", "migrate only tenant `ID`")
	some := fs.String("tenants", "", "migrate only these comma-separated tenant `ids`")
	concurrency := fs.Int("concurrency", migrate.DefaultConcurrency, "tenants migrated at once")
	lockTimeout := lockTimeoutFlag(fs, "")
	dryRun := fs.Bool("dry-run", false, "list pending migrations without applying anything")
	markApplied := fs.Bool("mark-applied", false, "record pending migrations as applied without running them (baseline schemas built by other means)")
	asJSON := fs.Bool("json", false, "print a JSON report instead of a table")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("migrate: unexpected argument %q", fs.Arg(0))
	}
	ids, err := selectTenants(*all, *one, *some)
	if errors.Is(err, tenant.ErrInvalidID) {
		return fmt.Errorf("migrate: %w", err)
	} else if err != nil {
		return usagef("migrate: %w", err)
	}
	if *concurrency < 1 {
		return usagef("migrate: --concurrency must be at least 1")
	}
	budget, err := connBudget(e)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if *concurrency > budget-1 {
		fmt.Fprintf(e.stderr, "migrate: --concurrency %d capped to %d by the connection budget (DB_MAX_CONNS=%d)\n", *concurrency, budget-1, budget)
		*concurrency = budget - 1
	}
	lt, err := lockTimeoutOption(*lockTimeout)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	db, err := openAdminDB(*dbURL, *concurrency+1)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer db.Close()

	opts := migrate.RunOptions{IDs: ids, Concurrency: *concurrency, DryRun: *dryRun, MarkApplied: *markApplied}
	progress := isTerminal(e.stderr)
	if progress {
		opts.Progress = func(p migrate.Progress) {
			fmt.Fprintf(e.stderr, "\r%d/%d tenants, %d failed, %.1f/s, ETA %s   ",
				p.Done, p.Total, p.Failed, p.Rate, p.ETA.Round(time.Second))
		}
	}
	rep, err := newMigrator(db, migrate.Options{Concurrency: *concurrency, LockTimeout: lt}).MigrateAll(ctx, opts)
	if progress && len(rep.Tenants) > 0 {
		fmt.Fprintln(e.stderr)
	}
	if errors.Is(err, tenant.ErrInvalidID) {
		return fmt.Errorf("migrate: %w", err)
	}
	if *asJSON {
		if werr := writeMigrateJSON(e.stdout, rep); werr != nil {
			return werr
		}
	} else {
		writeMigrateTable(e.stdout, rep)
	}
	switch {
	case rep.Public.Err != nil:
		return fmt.Errorf("migrate: %w", rep.Public.Err)
	case rep.Failed() > 0:
		return fmt.Errorf("migrate: %d of %s failed", rep.Failed(), plural(len(rep.Tenants), "tenant"))
	case err != nil:
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// selectTenants turns --all, --tenant and --tenants into RunOptions.IDs
// (nil for all), validating every id before anything touches the database.
func selectTenants(all bool, one, some string) ([]string, error) {
	var ids []string
	if one != "" {
		ids = append(ids, one)
	}
	if some != "" {
		ids = append(ids, strings.Split(some, ",")...)
	}
	switch {
	case all && ids != nil:
		return nil, errors.New("--all excludes --tenant and --tenants")
	case all:
		return nil, nil
	case ids == nil:
		return nil, errors.New("choose --all, --tenant ID or --tenants a,b")
	}
	for _, id := range ids {
		if _, err := tenant.Namer(nil).Schema(id); err != nil {
			return nil, err
		}
	}
	return ids, nil
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
		plural(len(rep.Tenants), "tenant"), len(rep.Tenants)-rep.Failed()-rep.Skipped(), rep.Skipped(), rep.Failed(), rep.Duration.Round(time.Millisecond))
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
	return writeJSON(w, out)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// lockTimeoutFlag registers --lock-timeout; which, if not empty, names the
// subcommands it applies to.
func lockTimeoutFlag(fs *flag.FlagSet, which string) *time.Duration {
	if which != "" {
		which += ": "
	}
	return fs.Duration("lock-timeout", migrate.DefaultLockTimeout, which+
		"longest wait for a lock that another transaction holds (PostgreSQL lock_timeout); a tenant that waits longer fails, changes nothing, and is retried by the next run; 0 means no limit")
}

// lockTimeoutOption turns the value of --lock-timeout into
// migrate.Options.LockTimeout, where no limit is negative.
func lockTimeoutOption(d time.Duration) (time.Duration, error) {
	switch {
	case d < 0:
		return 0, usagef("--lock-timeout %s: must not be negative (0 means no limit)", d)
	case d == 0:
		return -1, nil
	}
	return d, nil
}

// connBudget is the connection budget of the process, DB_MAX_CONNS (as in
// 'api serve'), else tenant.DefaultMaxConns.
func connBudget(e env) (int, error) {
	v := e.getenv("DB_MAX_CONNS")
	if v == "" {
		return tenant.DefaultMaxConns, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		return 0, fmt.Errorf("DB_MAX_CONNS: invalid value %q: want an integer of at least 2", v)
	}
	return n, nil
}

// isTerminal reports whether w, or the writer a *firstWrite passes writes
// to, is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	if fw, ok := w.(*firstWrite); ok {
		w = fw.w
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
