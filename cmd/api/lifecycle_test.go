package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

func TestTenantSuspendResumeCommands(t *testing.T) {
	t.Parallel()
	cfg := tenanttest.NewMigratedDatabase(t)
	tenanttest.NewTenant(t, cfg, "acme")
	cli := newAdminCLI(t, cfg)
	out, _, err := cli.run("tenant", "suspend", "acme", "--reason", "unpaid", "--json")
	if err != nil {
		t.Fatalf("tenant suspend: %v", err)
	}
	var v tenantView
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Status != "suspended" || v.Reason != "unpaid" {
		t.Errorf("tenant suspend --json = %s (%v)", out, err)
	}
	if out, _, err := cli.run("tenant", "resume", "acme"); err != nil || !strings.Contains(out, "status active") {
		t.Errorf("tenant resume = %q, %v", out, err)
	}
	for _, args := range [][]string{
		{"tenant", "suspend", "x;DROP"},
		{"tenant", "resume", "ACME"},
	} {
		if _, _, err := cli.run(args...); !errors.Is(err, tenant.ErrInvalidID) {
			t.Errorf("%v: err = %v; want ErrInvalidID", args, err)
		}
	}
	if _, _, err := cli.run("tenant", "suspend", "nobody"); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("suspend nobody: err = %v; want ErrNotFound", err)
	}
	if _, _, err := cli.run("tenant", "resume", "acme", "--reason", "x"); err == nil {
		t.Error("resume --reason: no error")
	}
}
