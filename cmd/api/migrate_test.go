package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// adminCLI runs the binary's run with DATABASE_URL set to cfg.
type adminCLI struct {
	t   *testing.T
	url string
}

func newAdminCLI(t *testing.T, cfg pq.Config) adminCLI {
	return adminCLI{t: t, url: tenanttest.URL(cfg)}
}

func (c adminCLI) run(args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return c.url
		}
		return ""
	}
	err = run(c.t.Context(), args, getenv, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestMigrateCommandOnAFreshDatabase(t *testing.T) {
	t.Parallel()
	cfg := tenanttest.NewDatabase(t)
	cli := newAdminCLI(t, cfg)
	out, _, err := cli.run("migrate", "--all")
	if err != nil {
		t.Fatalf("migrate --all: %v", err)
	}
	if !strings.Contains(out, "public: applied") || !strings.Contains(out, "no tenants") {
		t.Errorf("migrate --all output:\n%s", out)
	}
	if out, _, err := cli.run("tenant", "create", "acme"); err != nil || !strings.Contains(out, "status active") {
		t.Fatalf("tenant create acme = %q, %v", out, err)
	}
	out, _, err = cli.run("status", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Public  struct{ State string }
		Tenants []struct{ ID, State string }
		Summary map[string]int
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if st.Public.State != "ok" || len(st.Tenants) != 1 || st.Tenants[0].ID != "acme" || st.Tenants[0].State != "ok" || st.Summary["ok"] != 1 {
		t.Errorf("status --json = %+v", st)
	}
	if out, _, err := cli.run("status"); err != nil || !strings.Contains(out, "1 tenant: 1 ok") {
		t.Errorf("status = %q, %v", out, err)
	}
}

func TestTenantCommands(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	cli := newAdminCLI(t, cfg)
	if _, _, err := cli.run("tenant", "create", "acme", "--plan", "gold"); err == nil || !strings.Contains(err.Error(), "unknown plan") {
		t.Errorf("create with unknown plan: %v", err)
	}
	out, _, err := cli.run("tenant", "create", "--json", "acme")
	if err != nil {
		t.Fatal(err)
	}
	var v tenantView
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.ID != "acme" || v.Status != "active" || v.Schema != "tenant_acme" {
		t.Errorf("create --json = %+v, %v", v, err)
	}
	out, _, err = cli.run("tenant", "list", "--json")
	var list []tenantView
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].ID != "acme" {
		t.Errorf("list --json = %s, %v", out, err)
	}
	if _, _, err := cli.run("tenant", "drop", "acme"); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("drop without --force = %v; want a refusal", err)
	}
	if out, _, _ := cli.run("tenant", "list"); !strings.Contains(out, "tenant_acme") {
		t.Errorf("tenant gone after a refused drop:\n%s", out)
	}
	if _, _, err := cli.run("tenant", "drop", "acme", "--force"); err != nil {
		t.Fatalf("drop --force: %v", err)
	}
	if _, _, err := cli.run("tenant", "drop", "acme", "--force"); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("second drop = %v; want ErrNotFound", err)
	}
	if out, _, _ := cli.run("tenant", "list"); strings.Contains(out, "acme") {
		t.Errorf("acme still listed after drop:\n%s", out)
	}
}

func TestAdminCommandsHelp(t *testing.T) {
	t.Parallel()
	cli := adminCLI{t: t, url: "postgres://nobody@127.0.0.1:1/x?sslmode=disable"}
	for _, args := range [][]string{{"migrate", "-h"}, {"status", "-h"}, {"tenant", "-h"}} {
		_, stderr, err := cli.run(args...)
		if err != nil || !strings.Contains(stderr, "usage: api "+args[0]) || !strings.Contains(stderr, "-database-url") {
			t.Errorf("%q = %v, stderr:\n%s", args, err, stderr)
		}
	}
}
