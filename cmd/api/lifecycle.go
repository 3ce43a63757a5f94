package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

const lifecycleHelp = `usage: api tenant suspend ID [--reason R] [--json]
       api tenant resume ID [--json]

suspend  stops serving tenant ID: every running API process answers its
         requests 403 {"error":"Tenant suspended"} within moments (through
         the directory notification) and closes its pool; the data is kept
         and migrations still apply
resume   serves a suspended tenant again

Flags:
`

// lifecycleCommands are the tenant subcommands of this file, by name.
var lifecycleCommands = map[string]func(context.Context, env, string, []string) error{
	"suspend": setStatusCmd,
	"resume":  setStatusCmd,
}

// setStatusCmd runs api tenant suspend|resume.
func setStatusCmd(ctx context.Context, e env, sub string, args []string) error {
	fs := flag.NewFlagSet("tenant "+sub, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), lifecycleHelp); fs.PrintDefaults() }
	dbURL := databaseURLFlag(fs, e)
	reason := fs.String("reason", "", "suspend: why, kept in the directory (at most 500 characters)")
	asJSON := fs.Bool("json", false, "print the directory row as JSON")
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("tenant %s: want exactly one tenant ID", sub)
	}
	id := pos[0]
	if _, err := tenant.Namer(nil).Schema(id); err != nil {
		return fmt.Errorf("tenant %s: %w", sub, err)
	}
	if sub == "resume" && *reason != "" {
		return errors.New("tenant resume: --reason is for suspend")
	}
	db, err := openAdminDB(*dbURL, 2)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", sub, err)
	}
	defer db.Close()
	m := migrate.New(db, migrate.Options{})
	suspend := m.SuspendTenant
	if sub == "resume" {
		suspend = func(ctx context.Context, id, _ string) (*ent.Tenant, error) { return m.ResumeTenant(ctx, id) }
	}
	t, err := suspend(ctx, id, *reason)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, tenantJSON(t))
	}
	fmt.Fprintf(e.stdout, "tenant %s: status %s\n", t.ID, t.Status)
	return nil
}
