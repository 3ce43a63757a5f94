package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

func TestTenantSuspendResumeCommands(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	migs.NewTenant(t, cfg, "acme")
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

func TestTenantCloneCommand(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	migs.NewTenant(t, cfg, "acme")
	db := tenanttest.Open(t, cfg)
	if _, err := db.ExecContext(t.Context(), "INSERT INTO tenant_acme.users (email, name) VALUES ('real@example.com', 'Real')"); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(t.TempDir(), "rules.json")
	os.WriteFile(rules, []byte(`{"users": {"email": {"fake": "user-{n}@example.invalid"}}}`), 0o600)
	cli := newAdminCLI(t, cfg)
	out, _, err := cli.run("tenant", "clone", "acme", "staging", "--anonymize", rules)
	if err != nil || !strings.Contains(out, "status active") {
		t.Fatalf("tenant clone = %q, %v", out, err)
	}
	var email string
	if err := db.QueryRowContext(t.Context(), "SELECT email FROM tenant_staging.users").Scan(&email); err != nil || email != "user-1@example.invalid" {
		t.Errorf("cloned e-mail = %q, %v; want user-1@example.invalid", email, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"users": {"email": {"fake": "constant"}}}`), 0o600)
	if _, _, err := cli.run("tenant", "clone", "acme", "other", "--anonymize", bad); err == nil || !strings.Contains(err.Error(), "{n}") {
		t.Errorf("clone with a bad rules file: err = %v", err)
	}
	if _, _, err := cli.run("tenant", "clone", "acme", "Other"); !errors.Is(err, tenant.ErrInvalidID) {
		t.Errorf("clone to a bad id: err = %v; want ErrInvalidID", err)
	}
}

func TestSeedCommand(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	for _, id := range []string{"a", "b", "c"} {
		migs.NewTenant(t, cfg, id)
	}
	db := tenanttest.Open(t, cfg)
	if _, err := db.ExecContext(t.Context(), "INSERT INTO tenant_b.users (email, name) VALUES ('seed@example.com', 'Pre')"); err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(t.TempDir(), "seed.sql")
	os.WriteFile(seed, []byte("INSERT INTO users (email, name) VALUES ('seed@example.com', 'Seed');\nINSERT INTO users (email, name) VALUES ('two@example.com', 'Two');\n"), 0o600)
	cli := newAdminCLI(t, cfg)
	out, _, err := cli.run("seed", "--file", seed, "--all", "--concurrency", "2")
	if err == nil || !strings.Contains(err.Error(), "1 of 3 tenants failed: b") {
		t.Errorf("seed --all error = %v; want one naming b", err)
	}
	if !strings.Contains(out, "3 tenants: 2 seeded, 1 failed") {
		t.Errorf("seed summary:\n%s", out)
	}
	count := func(id string) int {
		var n int
		db.QueryRowContext(t.Context(), "SELECT count(*) FROM "+pq.QuoteIdentifier("tenant_"+id)+".users").Scan(&n)
		return n
	}
	if count("a") != 2 || count("b") != 1 || count("c") != 2 {
		t.Errorf("users after seed: a %d, b %d, c %d; want 2, 1, 2", count("a"), count("b"), count("c"))
	}
	if _, _, err := cli.run("seed", "--file", seed, "--tenants", "a,B"); !errors.Is(err, tenant.ErrInvalidID) {
		t.Errorf("seed --tenants a,B: err = %v; want ErrInvalidID", err)
	}
	if _, _, err := cli.run("seed", "--all"); err == nil {
		t.Error("seed without --file: no error")
	}
	if out, _, err := cli.run("tenant", "create", "d", "--seed", seed); err != nil || !strings.Contains(out, "status active") || count("d") != 2 {
		t.Errorf("tenant create d --seed = %q, %v; users %d", out, err, count("d"))
	}
}

func TestTenantExportImportCommands(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	migs.NewTenant(t, cfg, "acme")
	db := tenanttest.Open(t, cfg)
	if _, err := db.ExecContext(t.Context(), "INSERT INTO tenant_acme.users (email, name) VALUES ('a@example.com', E'A\\tB')"); err != nil {
		t.Fatal(err)
	}
	cli := newAdminCLI(t, cfg)
	dump, _, err := cli.run("tenant", "export", "acme")
	if err != nil || !strings.HasPrefix(dump, "PGTENANT-DUMP 1\n") {
		t.Fatalf("tenant export = %.40q, %v", dump, err)
	}
	file := filepath.Join(t.TempDir(), "acme.dump")
	os.WriteFile(file, []byte(dump), 0o600)
	if out, _, err := cli.run("tenant", "import", "copy", "--file", file); err != nil || !strings.Contains(out, "status active") {
		t.Fatalf("tenant import = %q, %v", out, err)
	}
	var a, b string
	db.QueryRowContext(t.Context(), "SELECT string_agg(u::text, ',') FROM tenant_acme.users u").Scan(&a)
	db.QueryRowContext(t.Context(), "SELECT string_agg(u::text, ',') FROM tenant_copy.users u").Scan(&b)
	if a != b || a == "" {
		t.Errorf("imported users %q; want %q", b, a)
	}
	os.WriteFile(file, []byte(dump[:len(dump)/2]), 0o600)
	if _, _, err := cli.run("tenant", "import", "half", "--file", file); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("import of a truncated dump: err = %v", err)
	}
	if _, _, err := cli.run("tenant", "export", "x;y"); !errors.Is(err, tenant.ErrInvalidID) {
		t.Errorf("export x;y: err = %v; want ErrInvalidID", err)
	}
}
