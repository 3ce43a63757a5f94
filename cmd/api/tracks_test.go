package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// An unknown --plan fails 'tenant create' with several ids before any
// tenant is created.
func TestTenantCreateManyWithUnknownPlan(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	cli := newAdminCLI(t, cfg)
	if _, _, err := cli.run("tenant", "create", "x", "y", "--plan", "gold"); err == nil || !strings.Contains(err.Error(), "unknown plan") {
		t.Errorf("unknown plan = %v", err)
	}
	out, _, err := cli.run("tenant", "list", "--json")
	var list []tenantView
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 0 {
		t.Errorf("unknown plan created tenants: %s (%v)", out, err)
	}
}
