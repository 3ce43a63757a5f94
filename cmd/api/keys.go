package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/pgtenant/pgtenant/internal/cmdline"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/apikey"
)

const keyHelp = `usage: api tenant key create ID [--name N] [--expires 720h] [--json]
       api tenant key list ID [--json]
       api tenant key revoke KEY_PREFIX

create  makes an API key for tenant ID and prints it: this is the only time
        the key is shown (only its hash is stored); the key authenticates
        requests with "Authorization: Bearer <key>" when TENANT_AUTH=apikey
list    lists tenant ID's keys by prefix, with their name, expiry, last use
        and revocation; never the keys themselves
revoke  revokes the key with that prefix; running API processes refuse it
        at once

Flags:
`

// keyView is an API key's description as the CLI prints it.
type keyView struct {
	Prefix     string     `json:"prefix"`
	TenantID   string     `json:"tenantId"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
	Key        string     `json:"key,omitempty"`
}

func newKeyView(k apikey.Key) keyView {
	return keyView{Prefix: k.Prefix, TenantID: k.Tenant, Name: k.Name, CreatedAt: k.CreatedAt,
		ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

// tenantKeyCmd runs 'api tenant key ...'.
func tenantKeyCmd(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "tenant key", keyHelp)
	dbURL := databaseURLFlag(fs, e)
	name := fs.String("name", "", "create: the key's `name`")
	expires := fs.Duration("expires", 0, "create: expire the key after this `duration` (e.g. 720h); 0: never")
	asJSON := fs.Bool("json", false, "create, list: print JSON")
	pos, err := cmdline.ParseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return errors.New("tenant key: want a subcommand (create, list or revoke) and one argument")
	}
	sub, arg := pos[0], pos[1]
	switch sub {
	case "create", "list":
		if err := tenant.ValidateID(arg); err != nil {
			return fmt.Errorf("tenant key %s: %w", sub, err)
		}
	case "revoke":
	default:
		fs.Usage()
		return fmt.Errorf("tenant key: unknown subcommand %q", sub)
	}
	if *expires < 0 {
		return errors.New("tenant key create: --expires must not be negative")
	}
	db, err := cmdline.OpenAdminDB(*dbURL, 2)
	if err != nil {
		return fmt.Errorf("tenant key %s: %w", sub, err)
	}
	defer db.Close()
	store := apikey.NewStore(db)
	switch sub {
	case "create":
		key, k, err := store.Create(ctx, arg, apikey.CreateOptions{Name: *name, TTL: *expires})
		if err != nil {
			return fmt.Errorf("tenant key create: %w", err)
		}
		if *asJSON {
			v := newKeyView(k)
			v.Key = key
			return cmdline.WriteJSON(e.stdout, v)
		}
		fmt.Fprintf(e.stderr, "API key %s of tenant %s created; it is shown only now:\n", k.Prefix, k.Tenant)
		fmt.Fprintln(e.stdout, key)
	case "list":
		ks, err := store.List(ctx, arg)
		if err != nil {
			return fmt.Errorf("tenant key list: %w", err)
		}
		if *asJSON {
			out := make([]keyView, len(ks))
			for i, k := range ks {
				out[i] = newKeyView(k)
			}
			return cmdline.WriteJSON(e.stdout, out)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PREFIX\tNAME\tCREATED\tEXPIRES\tLAST USED\tREVOKED")
		for _, k := range ks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.Prefix, cmdline.Dash(k.Name), k.CreatedAt.Format(time.RFC3339),
				timeOrDash(k.ExpiresAt), timeOrDash(k.LastUsedAt), timeOrDash(k.RevokedAt))
		}
		tw.Flush()
	case "revoke":
		if err := store.Revoke(ctx, "", arg); err != nil {
			return fmt.Errorf("tenant key revoke: %w", err)
		}
		fmt.Fprintf(e.stdout, "API key %s revoked\n", arg)
	}
	return nil
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}
