package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/pgtenant/pgtenant/internal/cmdline"
	"github.com/pgtenant/pgtenant/internal/tenantplan"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

const lifecycleHelp = `usage: api tenant suspend ID [--reason R] [--json]
       api tenant resume ID [--json]
       api tenant clone FROM TO [--with-data] [--anonymize RULES_FILE] [--json]
       api tenant export ID [--file F] > tenant.dump
       api tenant import NEW_ID [--file F] < tenant.dump

suspend  stops serving tenant ID: every running API process answers its
         requests 403 {"error":"Tenant suspended"} within moments (through
         the directory notification) and closes its pool; the data is kept
         and migrations still apply
resume   serves a suspended tenant again
clone    creates tenant TO with FROM's schema, built by the migrations of
         FROM's revision; --with-data copies the rows inside the database in
         one consistent snapshot, rewritten by the anonymisation rules file
         (JSON: {"users": {"email": {"fake": "user-{n}@example.invalid"},
         "name": {"set": "Anonymous"}}, "posts": {"content": {"null": true}}});
         a failed clone leaves TO failed: run it again, or drop TO
export   writes tenant ID in the portable dump format (docs/lifecycle.md):
         its migration revision and its rows in COPY text format, from one
         consistent snapshot, checksummed
import   creates tenant NEW_ID from a dump: builds the schema at the dump's
         revision, loads the rows with COPY, migrates it forward; a dump that
         is truncated, altered, of another program or of a newer revision is
         refused and nothing is written

Flags:
`

// lifecycleCommands are the tenant subcommands of this file, by name.
var lifecycleCommands = map[string]func(context.Context, env, string, []string) error{
	"suspend": setStatusCmd,
	"resume":  setStatusCmd,
	"clone":   cloneCmd,
	"export":  dumpCmd,
	"import":  dumpCmd,
}

// dumpCmd runs api tenant export|import.
func dumpCmd(ctx context.Context, e env, sub string, args []string) error {
	fs := newFlagSet(e, "tenant "+sub, lifecycleHelp)
	dbURL := databaseURLFlag(fs, e)
	file := fs.String("file", "", "the dump `file` (default: standard output for export, standard input for import)")
	id, err := parseTenantID(fs, args, "tenant "+sub)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	db, err := cmdline.OpenAdminDB(*dbURL, 2)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", sub, err)
	}
	defer db.Close()
	m := newMigrator(db, migrate.Options{})
	if sub == "export" {
		if *file != "" {
			// A new file only: an export never overwrites another.
			f, err := os.OpenFile(*file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("tenant export: %w", err)
			}
			defer f.Close()
			if err := m.ExportTenant(ctx, id, f); err != nil {
				os.Remove(*file)
				return err
			}
			return f.Close()
		}
		return m.ExportTenant(ctx, id, e.stdout)
	}
	r := e.stdin
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			return fmt.Errorf("tenant import: %w", err)
		}
		defer f.Close()
		r = f
	}
	t, err := m.ImportTenant(ctx, id, r)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "tenant %s: imported, schema %s, status %s\n", t.ID, t.Schema, t.Status)
	return nil
}

// cloneCmd runs api tenant clone.
func cloneCmd(ctx context.Context, e env, sub string, args []string) error {
	fs := newFlagSet(e, "tenant clone", lifecycleHelp)
	dbURL := databaseURLFlag(fs, e)
	withData := fs.Bool("with-data", false, "copy the rows too")
	rulesFile := fs.String("anonymize", "", "anonymisation rules `file` (JSON); implies --with-data")
	asJSON := fs.Bool("json", false, "print the new directory row as JSON")
	pos, err := cmdline.ParseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("tenant clone: want FROM and TO tenant IDs")
	}
	for _, id := range pos {
		if _, err := tenant.Namer(nil).Schema(id); err != nil {
			return fmt.Errorf("tenant clone: %w", err)
		}
	}
	opts := migrate.CloneOptions{WithData: *withData}
	if *rulesFile != "" {
		f, err := os.Open(*rulesFile)
		if err != nil {
			return fmt.Errorf("tenant clone: %w", err)
		}
		opts.Anonymize, err = migrate.ParseRules(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("tenant clone: %s: %w", *rulesFile, err)
		}
		opts.WithData = true
	}
	db, err := cmdline.OpenAdminDB(*dbURL, 2)
	if err != nil {
		return fmt.Errorf("tenant clone: %w", err)
	}
	defer db.Close()
	opts.Then = tenantplan.Copy(pos[0], pos[1])
	t, err := newMigrator(db, migrate.Options{}).CloneTenant(ctx, pos[0], pos[1], opts)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeTenant(ctx, e, db, t)
	}
	fmt.Fprintf(e.stdout, "tenant %s: cloned from %s, schema %s, status %s\n", t.ID, pos[0], t.Schema, t.Status)
	return nil
}

// setStatusCmd runs api tenant suspend|resume.
func setStatusCmd(ctx context.Context, e env, sub string, args []string) error {
	fs := newFlagSet(e, "tenant "+sub, lifecycleHelp)
	dbURL := databaseURLFlag(fs, e)
	reason := fs.String("reason", "", "suspend: why, kept in the directory (at most 500 characters)")
	asJSON := fs.Bool("json", false, "print the directory row as JSON")
	id, err := parseTenantID(fs, args, "tenant "+sub)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if sub == "resume" && *reason != "" {
		return usagef("tenant resume: --reason is for suspend")
	}
	db, err := cmdline.OpenAdminDB(*dbURL, 2)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", sub, err)
	}
	defer db.Close()
	m := newMigrator(db, migrate.Options{})
	suspend := m.SuspendTenant
	if sub == "resume" {
		suspend = func(ctx context.Context, id, _ string) (*migrate.Tenant, error) { return m.ResumeTenant(ctx, id) }
	}
	t, err := suspend(ctx, id, *reason)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeTenant(ctx, e, db, t)
	}
	fmt.Fprintf(e.stdout, "tenant %s: status %s\n", t.ID, t.Status)
	return nil
}
