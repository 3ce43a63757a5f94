package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"
	"github.com/pgtenant/pgtenant/internal/devdb"
	"github.com/pgtenant/pgtenant/tenant/migrate"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// cli runs the binary's run with the environment vars and the development
// database folder devDir (a fresh temporary one when empty).
type cli struct {
	t      *testing.T
	vars   map[string]string
	devDir string
}

func (c cli) run(args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	if c.devDir == "" {
		c.devDir = c.t.TempDir()
	}
	var out, errOut bytes.Buffer
	e := env{getenv: func(k string) string { return c.vars[k] }, stdout: &out, stderr: &errOut, devDir: c.devDir}
	err = runIn(c.t.Context(), e, args)
	return out.String(), errOut.String(), err
}

// withPassword returns the URL of cfg with password pw, which the test
// server (trust authentication) ignores.
func withPassword(t *testing.T, cfg pq.Config, pw string) string {
	t.Helper()
	u, err := url.Parse(tenanttest.URL(cfg))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(cfg.User, pw)
	return u.String()
}

func TestHelpListsTheCommands(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-help"}, {"help"}} {
		out, stderr, err := cli{t: t}.run(args...)
		if err != nil {
			t.Errorf("api %q = %v", args, err)
		}
		for _, want := range []string{"serve", "migrate", "status", "tenant", "api COMMAND -h"} {
			if !strings.Contains(out+stderr, want) {
				t.Errorf("api %q does not mention %q:\n%s%s", args, want, out, stderr)
			}
		}
	}
	_, stderr, err := cli{t: t}.run("serve", "-h")
	if err != nil || !strings.Contains(stderr, "usage: api serve") {
		t.Errorf("api serve -h = %v:\n%s", err, stderr)
	}
}

// TestUsageErrorsExitTwoAndPrintOnce: a mistake in the command line exits
// with status 2, and its message is printed exactly once.
func TestUsageErrorsExitTwoAndPrintOnce(t *testing.T) {
	t.Parallel()
	c := cli{t: t, vars: map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/x?sslmode=disable"}}
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"serve", "extra"},
		{"migrate", "--bogus"},
		{"migrate"},
		{"migrate", "--all", "--tenant", "a"},
		{"migrate", "--all", "--concurrency", "0"},
		{"status", "extra"},
		{"tenant", "frob"},
		{"tenant"},
		{"tenant", "create"},
		{"tenant", "drop", "acme"},
		{"tenant", "create", "a", "b", "--concurrency", "0"},
		{"tenant", "drop", "acme", "--force", "--from-file", "ids"},
		{"frobnicate"},
	} {
		_, stderr, err := c.run(args...)
		var final bytes.Buffer
		if code := exitCode(err, &final); code != 2 {
			t.Errorf("api %q: exit status %d (%v); want 2", args, code, err)
			continue
		}
		all := stderr + final.String()
		if n := strings.Count(all, err.Error()); n != 1 {
			t.Errorf("api %q: the error %q is printed %d times; want once:\n%s", args, err, n, all)
		}
	}
	var final bytes.Buffer
	if code := exitCode(errors.New("database down"), &final); code != 1 || final.String() != "api: database down\n" {
		t.Errorf("exitCode(other error) = %d, printed %q; want 1, printed once", code, final.String())
	}
}

// TestFlagsAreSpelledWithTwoDashes: every help shows the flags as the
// documentation spells them.
func TestFlagsAreSpelledWithTwoDashes(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"serve", "migrate", "status", "tenant"} {
		_, stderr, _ := cli{t: t}.run(cmd, "-h")
		if !strings.Contains(stderr, "\n  --database-url") || strings.Contains(stderr, "\n  -d") {
			t.Errorf("api %s -h spells its flags with one dash:\n%s", cmd, stderr)
		}
	}
}

// TestPasswordsAreNeverPrinted: the password of DATABASE_URL (and the
// admin token) appear neither in help, nor in parse errors, nor in logs.
func TestPasswordsAreNeverPrinted(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-secret"
	leaks := func(t *testing.T, what, s string) {
		t.Helper()
		if strings.Contains(s, secret) {
			t.Errorf("%s shows the password:\n%s", what, s)
		}
	}
	t.Run("help", func(t *testing.T) {
		// With the password in the variable and in the flag.
		env := map[string]string{"DATABASE_URL": "postgres://app:" + secret + "@db:5432/app", "ADMIN_TOKEN": strings.Repeat(secret, 3)}
		for _, cmd := range []string{"serve", "migrate", "status", "tenant"} {
			out, stderr, _ := cli{t: t, vars: env}.run(cmd, "-h")
			leaks(t, "api "+cmd+" -h", out+stderr)
			if !strings.Contains(stderr, "postgres://app:xxxxx@db:5432/app") {
				t.Errorf("api %s -h does not show the redacted URL:\n%s", cmd, stderr)
			}
		}
		_, stderr, _ := cli{t: t}.run("serve", "--database-url", "postgres://app:"+secret+"@db/app", "-h")
		leaks(t, "api serve --database-url URL -h", stderr)
	})

	// net/url and lib/pq quote the URL in their errors.
	t.Run("parse error", func(t *testing.T) {
		for _, bad := range []string{"postgres://app:" + secret + "@db:54x2/app", "postgres://app:" + secret + "@db/app?sslmode=bogus", "host=db password=" + secret + " port=x"} {
			for _, args := range [][]string{{"serve"}, {"status"}, {"tenant", "list"}, {"migrate", "--all"}} {
				out, stderr, err := cli{t: t, vars: map[string]string{"DATABASE_URL": bad}}.run(args...)
				if err == nil {
					t.Errorf("api %q with DATABASE_URL %s succeeded", args, bad)
					continue
				}
				leaks(t, "api "+strings.Join(args, " ")+" error", err.Error()+out+stderr)
				if strings.Contains(bad, "54x2") && !strings.Contains(err.Error(), "postgres://app:xxxxx@db:54x2/app") {
					t.Errorf("api %q error %q does not show the redacted URL", args, err)
				}
			}
		}
	})

	// The server logs its configuration without it.
	t.Run("log line", func(t *testing.T) {
		cfg := migs.NewDatabase(t)
		ctx, cancel := context.WithCancel(t.Context())
		s := startE2E(t, ctx, map[string]string{"DATABASE_URL": withPassword(t, cfg, secret)})
		s.call(t, "GET", "/ready", "", "", 200, nil)
		cancel()
		if err := <-s.done; err != nil {
			t.Fatal(err)
		}
		s.logs.mu.Lock()
		defer s.logs.mu.Unlock()
		var all strings.Builder
		for _, l := range s.logs.lines {
			for k, v := range l {
				all.WriteString(k)
				if m, ok := v.(map[string]any); ok {
					for k, v := range m {
						all.WriteString(" " + k + "=" + toString(v))
					}
				} else {
					all.WriteString("=" + toString(v))
				}
			}
			all.WriteString("\n")
		}
		leaks(t, "the server's log", all.String())
		if !strings.Contains(all.String(), ":xxxxx@") {
			t.Errorf("the server's log does not show the redacted URL:\n%s", all.String())
		}
	})
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func TestAdminTokenMustBeLong(t *testing.T) {
	t.Parallel()
	const short = "s3cret-but-short"
	_, err := parseConfig(nil, func(k string) string { return map[string]string{"ADMIN_TOKEN": short}[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ADMIN_TOKEN") || !strings.Contains(err.Error(), "32") || strings.Contains(err.Error(), short) {
		t.Errorf("parseConfig with a %d-byte ADMIN_TOKEN = %v; want an error naming ADMIN_TOKEN and the 32-byte minimum, without the token", len(short), err)
	}
	long := strings.Repeat("k", minAdminToken)
	if c, err := parseConfig([]string{"--admin-token", long}, func(string) string { return "" }, io.Discard); err != nil || c.AdminToken != long {
		t.Errorf("parseConfig with a %d-byte token = %v", minAdminToken, err)
	}
	if c, err := parseConfig(nil, func(string) string { return "" }, io.Discard); err != nil || c.AdminToken != "" {
		t.Errorf("parseConfig without a token = %v; want the admin routes disabled", err)
	}
}

func TestPprofStaysOnLoopback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr, allow string
		ok          bool
	}{
		{"127.0.0.1:6060", "", true},
		{"localhost:6060", "", true},
		{"[::1]:6060", "", true},
		{":6060", "", false},
		{"0.0.0.0:6060", "", false},
		{"[::]:6060", "", false},
		{"10.1.2.3:6060", "", false},
		{"example.com:6060", "", false},
		{":6060", "true", true},
		{"0.0.0.0:6060", "true", true},
		{"6060", "true", false}, // not host:port
	} {
		vars := map[string]string{"PPROF_ADDR": tc.addr, "PPROF_ALLOW_REMOTE": tc.allow}
		_, err := parseConfig(nil, func(k string) string { return vars[k] }, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("PPROF_ADDR=%s PPROF_ALLOW_REMOTE=%s: %v; want ok %v", tc.addr, tc.allow, err, tc.ok)
		}
		if err != nil && tc.allow == "" && !strings.Contains(err.Error(), "PPROF_ALLOW_REMOTE") && strings.Contains(tc.addr, ":") {
			t.Errorf("PPROF_ADDR=%s: error %q does not say how to allow it", tc.addr, err)
		}
	}
}

// TestPprofDoesNotServeTheCommandLine: the command line can carry
// --admin-token and --database-url; /debug/pprof/cmdline is not served.
func TestPprofDoesNotServeTheCommandLine(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	stop, err := servePprof(addr, newLogger(env{stderr: io.Discard}, Config{}))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/debug/pprof/cmdline"); code != http.StatusNotFound || strings.Contains(body, "test") {
		t.Errorf("GET /debug/pprof/cmdline = %d %q; want 404 without the command line", code, body)
	}
	if code, _ := get("/debug/pprof/goroutine?debug=1"); code != http.StatusOK {
		t.Errorf("GET /debug/pprof/goroutine = %d; want 200", code)
	}
}

// TestDefaultConnectionWithoutTLS: the built-in default URL works against
// a server without TLS, as a stock local PostgreSQL is; lib/pq's own
// default would require TLS.
func TestDefaultConnectionWithoutTLS(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	var ssl string
	if err := tenanttest.Open(t, cfg).QueryRowContext(t.Context(), "SHOW ssl").Scan(&ssl); err != nil {
		t.Fatal(err)
	}
	if ssl != "off" {
		t.Skipf("the test server has ssl = %s; this test needs one without TLS", ssl)
	}
	// The default URL, pointed at the test server and database.
	u, err := url.Parse(defaultDatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	test, _ := url.Parse(tenanttest.URL(cfg))
	u.Host, u.Path = test.Host, test.Path
	if out, _, err := (cli{t: t, vars: map[string]string{"DATABASE_URL": u.String()}}).run("tenant", "list"); err != nil {
		t.Errorf("api tenant list with the default URL's settings = %v\n%s", err, out)
	}
	// Without the default's sslmode, lib/pq requires TLS and fails here.
	q := u.Query()
	q.Del("sslmode")
	u.RawQuery = q.Encode()
	if _, _, err := (cli{t: t, vars: map[string]string{"DATABASE_URL": u.String()}}).run("tenant", "list"); err == nil || !strings.Contains(err.Error(), "SSL") {
		t.Errorf("api tenant list without sslmode = %v; want lib/pq's TLS refusal (the test would prove nothing)", err)
	}
}

// TestCommandsFindTheDevelopmentDatabase: without DATABASE_URL, the
// administrative commands use the database that 'api serve' recorded in
// .devdb/ when it brought up the development database; when that does not
// answer, the error says what to set.
func TestCommandsFindTheDevelopmentDatabase(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	migs.NewTenant(t, cfg, "devtenant")
	dir := t.TempDir()
	if err := devdb.RecordURL(dir, tenanttest.URL(cfg)); err != nil {
		t.Fatal(err)
	}
	out, _, err := cli{t: t, devDir: dir}.run("tenant", "list")
	if err != nil || !strings.Contains(out, "devtenant") {
		t.Errorf("api tenant list without DATABASE_URL = %v\n%s; want the recorded database's tenants", err, out)
	}
	// DATABASE_URL wins over the record.
	other := migs.NewDatabase(t)
	out, _, err = cli{t: t, devDir: dir, vars: map[string]string{"DATABASE_URL": tenanttest.URL(other)}}.run("tenant", "list")
	if err != nil || strings.Contains(out, "devtenant") {
		t.Errorf("api tenant list with DATABASE_URL = %v\n%s; want the other database", err, out)
	}
	// A record of a server that has stopped.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stopped := "postgres://postgres@" + l.Addr().String() + "/multitenant?sslmode=disable"
	l.Close()
	if err := devdb.RecordURL(dir, stopped); err != nil {
		t.Fatal(err)
	}
	_, _, err = cli{t: t, devDir: dir}.run("status")
	for _, want := range []string{"DATABASE_URL", "scripts/dev", ".devdb/" + devdb.URLFile, stopped} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("api status with a stopped development database = %v; want it to mention %q", err, want)
		}
	}
	// --database-url wins over both.
	out, _, err = cli{t: t, devDir: dir}.run("tenant", "list", "--database-url", tenanttest.URL(cfg))
	if err != nil || !strings.Contains(out, "devtenant") {
		t.Errorf("api tenant list --database-url = %v\n%s", err, out)
	}
}

// TestCommandsOnAnUnmigratedDatabase: a command that needs the public
// migrations says that the database is not migrated and what to run,
// instead of only the driver's "relation does not exist".
func TestCommandsOnAnUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	cfg := tenanttest.NewDatabase(t)
	c := cli{t: t, vars: map[string]string{"DATABASE_URL": tenanttest.URL(cfg)}}
	for _, args := range [][]string{{"tenant", "list"}, {"tenant", "create", "acme"}, {"tenant", "drop", "acme", "--force"}} {
		_, _, err := c.run(args...)
		if err == nil || !strings.Contains(err.Error(), "not migrated") || !strings.Contains(err.Error(), "api migrate --all") {
			t.Errorf("api %q on an unmigrated database = %v; want it to say so and name 'api migrate --all'", args, err)
		}
		if pq.As(err, pqerror.UndefinedTable) == nil {
			t.Errorf("api %q: the error no longer wraps the driver's 42P01: %v", args, err)
		}
	}
	if out, _, err := c.run("migrate", "--all"); err != nil {
		t.Fatalf("migrate --all: %v\n%s", err, out)
	}
	if _, _, err := c.run("tenant", "list"); err != nil {
		t.Errorf("api tenant list after migrate --all = %v", err)
	}
}

// TestMigrateConcurrencyIsCappedByTheBudget: --concurrency never asks for
// more connections than DB_MAX_CONNS allows.
func TestMigrateConcurrencyIsCappedByTheBudget(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	migs.NewTenant(t, cfg, "acme")
	c := cli{t: t, vars: map[string]string{"DATABASE_URL": tenanttest.URL(cfg), "DB_MAX_CONNS": "5"}}
	out, stderr, err := c.run("migrate", "--all", "--concurrency", "50")
	if err != nil || !strings.Contains(stderr, "--concurrency 50 capped to 4 by the connection budget (DB_MAX_CONNS=5)") {
		t.Errorf("migrate --concurrency 50 with DB_MAX_CONNS=5 = %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
	}
	if !strings.Contains(out, "1 tenant: 1 succeeded") {
		t.Errorf("migrate summary:\n%s; want \"1 tenant: 1 succeeded\"", out)
	}
	c.vars["DB_MAX_CONNS"] = "many"
	if _, _, err := c.run("migrate", "--all"); err == nil || !strings.Contains(err.Error(), "DB_MAX_CONNS") {
		t.Errorf("migrate with DB_MAX_CONNS=many = %v; want an error naming it", err)
	}
}

// TestServeWarnsAboutTenantsBehind: at start-up, api serve logs how many
// tenants are behind its migrations and the command that fixes it; such a
// tenant is answered 503, /ready reports the count, and the listening line
// shows effective values with durations as strings.
func TestServeWarnsAboutTenantsBehind(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	migs.NewTenant(t, cfg, "acme")
	migs.NewTenant(t, cfg, "late")
	if _, err := tenanttest.Open(t, cfg).ExecContext(t.Context(), "UPDATE public.tenants SET revision = '20000101000000_old' WHERE id = 'late'"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := startE2E(t, ctx, map[string]string{"DATABASE_URL": tenanttest.URL(cfg)})
	rev, _ := migrate.LatestRevision(migrations.Tenant())
	if n := s.logs.count("tenants behind this release's migrations are answered 503 until migrated",
		map[string]any{"tenants_behind": 1.0, "fix": "api migrate --all", "revision": rev}); n != 1 {
		t.Errorf("%d warnings about the tenant behind; want 1", n)
	}
	s.call(t, "GET", "/users", "acme", "", 200, nil)
	var e struct{ Error string }
	s.call(t, "GET", "/users", "late", "", 503, &e)
	if !strings.Contains(e.Error, "not migrated") {
		t.Errorf("GET /users of a tenant behind: %q", e.Error)
	}
	var ready struct {
		TenantsBehind int
		Revision      string
	}
	s.call(t, "GET", "/ready", "", "", 200, &ready)
	if ready.TenantsBehind != 1 || ready.Revision != rev {
		t.Errorf("GET /ready = %+v; want 1 tenant behind, revision %s", ready, rev)
	}
	s.logs.mu.Lock()
	var listening map[string]any
	for _, l := range s.logs.lines {
		if l["msg"] == "listening" {
			listening, _ = l["config"].(map[string]any)
		}
	}
	var request map[string]any
	for _, l := range s.logs.lines {
		if l["msg"] == "request" {
			request = l
		}
	}
	s.logs.mu.Unlock()
	if listening["max_pools"] != 50.0 || listening["db_max_conns"] != 80.0 || listening["pool_ttl"] != "1h0m0s" || listening["request_timeout"] != "10s" {
		t.Errorf("listening config = %v; want effective max_pools 50, db_max_conns 80, durations as strings", listening)
	}
	if d, ok := request["duration"].(string); !ok || d == "" {
		t.Errorf("request log line duration = %#v; want a string", request["duration"])
	}
	cancel()
	if err := <-s.done; err != nil {
		t.Fatal(err)
	}
}

// TestDevelopmentDatabaseMigratesEveryTenant: with the development
// database, api serve migrates every tenant of the directory, not only the
// demo one.
func TestDevelopmentDatabaseMigratesEveryTenant(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	db := tenanttest.Open(t, cfg)
	// A tenant that an older binary listed but never migrated.
	if _, err := db.ExecContext(t.Context(), "INSERT INTO public.tenants (id, schema_name, status) VALUES ('older', 'tenant_older', 'active')"); err != nil {
		t.Fatal(err)
	}
	mig := newMigrator(db, migrate.Options{})
	if n, _ := mig.TenantsBehind(t.Context()); n != 1 {
		t.Fatalf("TenantsBehind = %d before; want 1", n)
	}
	if err := prepareDevDatabase(t.Context(), mig, newLogger(env{stderr: t.Output()}, Config{})); err != nil {
		t.Fatal(err)
	}
	if n, err := mig.TenantsBehind(t.Context()); n != 0 || err != nil {
		t.Errorf("TenantsBehind after preparing the development database = %d, %v; want 0", n, err)
	}
	st, err := mig.Status(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum := st.Summary(); sum[migrate.StateOK] != 2 || len(st.Tenants) != 2 {
		t.Errorf("status after preparing = %v over %d tenants; want acme and older ok", sum, len(st.Tenants))
	}
}

// TestServeOnAnOlderPublicSchema: with AUTO_MIGRATE=false on a database
// whose public schema an older release migrated, api serve warns with the
// missing migrations and the command to run, and /ready answers 503.
func TestServeOnAnOlderPublicSchema(t *testing.T) {
	t.Parallel()
	cfg := tenanttest.NewDatabase(t)
	// An older release: the directory, without this release's public
	// migrations.
	if err := migrate.New(tenanttest.Open(t, cfg), migrate.Options{Tenant: migrations.Tenant()}).MigratePublic(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := startE2E(t, ctx, map[string]string{"DATABASE_URL": tenanttest.URL(cfg), "AUTO_MIGRATE": "false"})
	if n := s.logs.count("the public schema lacks this release's migrations", map[string]any{"fix": "api migrate --all"}); n != 1 {
		t.Errorf("%d warnings about the public schema; want 1", n)
	}
	var e struct{ Error string }
	s.call(t, "GET", "/ready", "", "", 503, &e)
	if e.Error != "Database not migrated" {
		t.Errorf("GET /ready = %q; want Database not migrated", e.Error)
	}
	cancel()
	if err := <-s.done; err != nil {
		t.Fatal(err)
	}
}
