package command

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant/migrate"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// A fresh database, through the commands alone: migrate, create two
// tenants, list them, check their status, drop one.
func TestCommandsEndToEnd(t *testing.T) {
	t.Parallel()
	cfg := tenanttest.NewDatabase(t)
	cli := newAdminCLI(t, cfg)
	out, _, err := cli.run("migrate", "--all")
	if err != nil || !strings.Contains(out, "20250101000000_colors") || !strings.Contains(out, "no tenants") {
		t.Fatalf("migrate --all = %v\n%s", err, out)
	}
	out, _, err = cli.run("tenant", "create", "a", "b")
	if err != nil || !strings.HasPrefix(out, "2 tenants: 2 created, 0 failed") {
		t.Fatalf("tenant create a b = %v\n%s", err, out)
	}
	out, _, err = cli.run("tenant", "list", "--json")
	var list []struct{ ID, Schema, Status string }
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 ||
		list[0] != (struct{ ID, Schema, Status string }{"a", "tenant_a", "active"}) || list[1].ID != "b" {
		t.Fatalf("tenant list --json = %v\n%s", err, out)
	}
	db := tenanttest.Open(t, cfg)
	if _, err := db.ExecContext(t.Context(), "INSERT INTO tenant_a.notes (body) VALUES ('hello')"); err != nil {
		t.Errorf("the tenant track is not applied: %v", err)
	}
	out, _, err = cli.run("status", "--json")
	var st struct {
		Public  struct{ State string }
		Summary map[string]int
	}
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.Public.State != "ok" || st.Summary["ok"] != 2 || st.Summary["total"] != 2 {
		t.Errorf("status --json = %v\n%s", err, out)
	}
	if out, _, err := cli.run("status"); err != nil || !strings.Contains(out, "2 tenants: 2 ok, 0 pending, 0 drift, 0 error") {
		t.Errorf("status = %v\n%s", err, out)
	}
	if out, _, err := cli.run("tenant", "drop", "a", "--force"); err != nil || out != "tenant a dropped\n" {
		t.Errorf("tenant drop a = %v\n%s", err, out)
	}
	if st := statuses(t, cli); len(st) != 1 || st["b"] != "active" {
		t.Errorf("directory after the drop = %v; want b alone", st)
	}
}

// colors are hooks for a service that keeps a color per tenant in
// public.tenant_colors.
func colors(cfg *Config) {
	cfg.CreateFlags = []CreateFlag{{Name: "color", Usage: "create: the tenant's `color` (red or blue)",
		Options: func(ctx context.Context, db *sql.DB, color string) (func(string) migrate.CreateOptions, error) {
			if color != "red" && color != "blue" {
				return nil, Usagef("unknown color %q", color)
			}
			return func(id string) migrate.CreateOptions {
				return migrate.CreateOptions{Then: func(ctx context.Context, tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO public.tenant_colors (id, color) VALUES ($1, $2)
						ON CONFLICT (id) DO UPDATE SET color = excluded.color`, id, color)
					return err
				}}
			}, nil
		}}}
	cfg.Columns = []Column{{Header: "COLOR", Key: "color",
		Values: func(ctx context.Context, db *sql.DB, ids []string) (map[string]string, error) {
			rows, err := db.QueryContext(ctx, "SELECT id, color FROM public.tenant_colors WHERE id = ANY($1)", pq.Array(ids))
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			out := map[string]string{}
			for rows.Next() {
				var id, c string
				if err := rows.Scan(&id, &c); err != nil {
					return nil, err
				}
				out[id] = c
			}
			return out, rows.Err()
		}}}
	cfg.AfterDrop = func(ctx context.Context, db *sql.DB, id string) error {
		_, err := db.ExecContext(ctx, "DELETE FROM public.tenant_colors WHERE id = $1", id)
		return err
	}
	cfg.TenantHelp = "usage: notes tenant create ID... [--color C]\n\nFlags:\n"
}

// The hooks add the service's data: a flag of create that can refuse the
// command, a column of list and of the JSON of create, a step after drop.
func TestHooks(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	cli := newAdminCLI(t, cfg)
	cli.hooks = colors
	db := tenanttest.Open(t, cfg)

	_, stderr, err := cli.run("tenant", "-h")
	if err != nil || !strings.HasPrefix(stderr, "usage: notes tenant create ID... [--color C]\n") || !strings.Contains(stderr, "\n  --color color\n") {
		t.Errorf("tenant -h = %v\n%s", err, stderr)
	}
	out, _, err := cli.run("tenant", "create", "a", "--color", "red", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if i, j, k := strings.Index(out, `"status": "active"`), strings.Index(out, `"color": "red"`), strings.Index(out, `"createdAt"`); i < 0 || j < i || k < j {
		t.Errorf("tenant create --json: want the color between status and createdAt:\n%s", out)
	}
	if _, _, err := cli.run("tenant", "create", "b", "c", "--color", "blue"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cli.run("tenant", "create", "plain"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"tenant", "create", "d", "--color", "green"}, {"tenant", "create", "d", "e", "--color", "green"}} {
		_, _, err := cli.run(args...)
		if code := ExitCode(err, "notes", &bytes.Buffer{}); code != 2 || !strings.Contains(err.Error(), `tenant create: unknown color "green"`) {
			t.Errorf("%q = %v, exit status %d; want 2", args, err, code)
		}
	}
	out, _, err = cli.run("tenant", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 5 || strings.Join(strings.Fields(lines[0]), " ") != "ID SCHEMA STATUS COLOR CREATED" {
		t.Fatalf("tenant list = %v\n%s", err, out)
	}
	for i, want := range []string{"a tenant_a active red", "b tenant_b active blue", "c tenant_c active blue", "plain tenant_plain active -"} {
		if got := strings.Join(strings.Fields(lines[i+1])[:4], " "); got != want {
			t.Errorf("tenant list row %d = %q; want %q", i+1, got, want)
		}
	}
	out, _, err = cli.run("tenant", "list", "--json")
	var list []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 4 || list[1]["color"] != "blue" {
		t.Errorf("tenant list --json = %v\n%s", err, out)
	} else if _, ok := list[3]["color"]; ok {
		t.Errorf("tenant list --json shows a color for plain:\n%s", out)
	}
	if _, _, err := cli.run("tenant", "drop", "a", "--force"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM public.tenant_colors WHERE id IN ('a', 'd', 'e')").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d colors of a dropped or refused tenant (%v); want 0", n, err)
	}
}

// Help, usage errors and the database URL of a program without defaults.
func TestUsage(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-secret"
	cli := adminCLI{t: t, url: "postgres://app:" + secret + "@127.0.0.1:1/x?sslmode=disable"}
	out, _, err := cli.run("-h")
	if err != nil || !strings.HasPrefix(out, "usage: notes (migrate | status | tenant)") || !strings.Contains(out, "Run 'notes COMMAND -h'") {
		t.Errorf("-h = %v\n%s", err, out)
	}
	for _, cmd := range []string{"migrate", "status", "tenant"} {
		_, stderr, err := cli.run(cmd, "-h")
		if err != nil || !strings.HasPrefix(stderr, "usage: notes "+cmd) || !strings.Contains(stderr, "\n  --database-url url\n") ||
			!strings.Contains(stderr, "postgres://app:xxxxx@127.0.0.1:1/x") || strings.Contains(stderr, secret) {
			t.Errorf("%s -h = %v\n%s", cmd, err, stderr)
		}
	}
	for _, args := range [][]string{{}, {"frob"}, {"migrate"}, {"migrate", "--bogus"}, {"status", "x"}, {"tenant"}, {"tenant", "suspend", "a"}, {"tenant", "drop", "a"}} {
		_, stderr, err := cli.run(args...)
		var final bytes.Buffer
		if code := ExitCode(err, "notes", &final); code != 2 {
			t.Errorf("%q: exit status %d (%v); want 2", args, code, err)
		} else if n := strings.Count(stderr+final.String(), err.Error()); n != 1 {
			t.Errorf("%q: the error %q is printed %d times; want once:\n%s%s", args, err, n, stderr, final.String())
		}
	}
	if _, _, err := cli.run("tenant", "list"); err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "set DATABASE_URL to your database") {
		t.Errorf("tenant list without a server = %v; want the advice, without the password", err)
	}
	_, _, err = adminCLI{t: t}.run("tenant", "list")
	if code := ExitCode(err, "notes", &bytes.Buffer{}); code != 2 || !strings.Contains(err.Error(), "no database: set DATABASE_URL or --database-url") {
		t.Errorf("tenant list without DATABASE_URL = %v (status %d); want a usage error asking for one", err, code)
	}
}
