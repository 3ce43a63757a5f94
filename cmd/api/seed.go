package main

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

const seedHelp = `usage: api seed --file seed.sql (--all | --tenant ID | --tenants a,b) [flags]

Runs the SQL script in every selected tenant (--all: every active or
suspended tenant), each in its own transaction with the tenant's schema as
search_path, several tenants at once. A failing tenant is rolled back alone;
the others commit. Prints a summary; the exit status is 1 if any tenant
failed, naming them. Progress goes to stderr when it is a terminal.

Flags:
`

func seedCmd(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "seed", seedHelp)
	dbURL := databaseURLFlag(fs, e)
	file := fs.String("file", "", "the SQL seed `file`")
	all := fs.Bool("all", false, "seed every active or suspended tenant")
	one := fs.String("tenant", "", "seed only tenant `ID`")
	some := fs.String("tenants", "", "seed only these comma-separated tenant `ids`")
	concurrency := fs.Int("concurrency", migrate.DefaultConcurrency, "tenants seeded at once")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("seed: unexpected argument %q", fs.Arg(0))
	}
	if *file == "" {
		return usagef("seed: --file is required")
	}
	ids, err := cmdline.SelectTenants(*all, *one, *some)
	if err != nil {
		return usagef("seed: %w", err)
	}
	if *concurrency < 1 {
		return usagef("seed: --concurrency must be at least 1")
	}
	script, err := cmdline.ReadSeed(*file)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	db, err := cmdline.OpenAdminDB(*dbURL, *concurrency+1)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer db.Close()
	opts := migrate.SeedOptions{IDs: ids, Concurrency: *concurrency}
	progress := cmdline.IsTerminal(e.stderr)
	if progress {
		opts.Progress = func(p migrate.Progress) {
			fmt.Fprintf(e.stderr, "\r%d/%d tenants, %d failed, %.1f/s, ETA %s   ",
				p.Done, p.Total, p.Failed, p.Rate, p.ETA.Round(time.Second))
		}
	}
	rep, err := newMigrator(db, migrate.Options{Concurrency: *concurrency}).SeedSQL(ctx, script, opts)
	if progress && len(rep.Tenants) > 0 {
		fmt.Fprintln(e.stderr)
	}
	if errors.Is(err, tenant.ErrInvalidID) || (err != nil && len(rep.Tenants) == 0) {
		return fmt.Errorf("seed: %w", err)
	}
	writeSeedTable(e.stdout, rep)
	if n := rep.Failed(); n > 0 {
		var failed []string
		for _, r := range rep.Tenants {
			if r.Err != nil {
				failed = append(failed, r.ID)
			}
		}
		return fmt.Errorf("seed: %d of %d tenants failed: %s", n, len(rep.Tenants), strings.Join(failed, ", "))
	}
	return nil
}

func writeSeedTable(w io.Writer, rep *migrate.Report) {
	if len(rep.Tenants) == 0 {
		fmt.Fprintln(w, "no tenants")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tRESULT\tDURATION\tERROR")
	for _, r := range rep.Tenants {
		res, msg := "seeded", ""
		if r.Err != nil {
			res, msg = "FAILED", r.Err.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, res, r.Duration.Round(time.Millisecond), msg)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d tenants: %d seeded, %d failed in %s\n",
		len(rep.Tenants), len(rep.Tenants)-rep.Failed(), rep.Failed(), rep.Duration.Round(time.Millisecond))
}
