package main

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/internal/devdb"
	"github.com/pgtenant/pgtenant/tenant"
)

func TestParseConfigDefaults(t *testing.T) {
	c, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		DatabaseURL: defaultDatabaseURL, Addr: ":3000", Isolation: tenant.SearchPath,
		MaxPools: 0, PoolTTL: time.Hour, SweepInterval: time.Minute, PoolMaxConns: 10, PoolMaxIdle: 0,
		PoolIdleTimeout: 30 * time.Second, ConnMaxLifetime: 30 * time.Minute, ConnMaxTenants: 1000, DBMaxConns: 80, RetryMaxAttempts: 3,
		RetryInitialDelay: 100 * time.Millisecond, RetryMaxDelay: 5 * time.Second,
		LogLevel: slog.LevelInfo, LogFormat: "json", RequestTimeout: 10 * time.Second,
		ShutdownTimeout: 30 * time.Second, AutoMigrate: true,
		Auth: "header", JWT: jwtConfig{TenantClaim: "tenant_id", Leeway: 30 * time.Second},
	}
	if c != want {
		t.Errorf("parseConfig() = %+v; want %+v", c, want)
	}
}

func TestParseConfigPrecedence(t *testing.T) {
	env := map[string]string{
		"DATABASE_URL": "postgres://u:pw@db:5432/app", "PORT": "8080", "TENANT_MAX_POOLS": "7",
		"TENANT_ISOLATION": "qualified", "LOG_LEVEL": "debug", "AUTO_MIGRATE": "false", "TENANT_POOL_TTL": "0",
		"TENANT_AUTH": "apikey",
	}
	c, err := parseConfig([]string{"-max-pools", "9", "-log-format", "text"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxPools != 9 {
		t.Errorf("MaxPools = %d; want 9 (flag over env)", c.MaxPools)
	}
	if c.Addr != ":8080" || c.Isolation != tenant.Qualified || c.LogLevel != slog.LevelDebug || c.AutoMigrate || c.LogFormat != "text" {
		t.Errorf("config from env = %+v", c)
	}
	if !c.DatabaseURLSet || c.DatabaseURL != env["DATABASE_URL"] {
		t.Errorf("DatabaseURL = %q (set %v); want the env value", c.DatabaseURL, c.DatabaseURLSet)
	}
	if opts := c.registryOptions(nil); opts.ClientTTL >= 0 || opts.Mode != tenant.Qualified || !opts.LogQueries {
		t.Errorf("registryOptions with TENANT_POOL_TTL=0 = %+v; want TTL disabled (negative), qualified, query logging", opts)
	}
	c, err = parseConfig([]string{"-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.Addr != "127.0.0.1:0" {
		t.Errorf("-addr over PORT: Addr = %q, err %v", c.Addr, err)
	}
}

func TestParseConfigErrorsNameTheSource(t *testing.T) {
	tests := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"TENANT_MAX_POOLS": "many"}, nil, "TENANT_MAX_POOLS"},
		{map[string]string{"TENANT_MAX_POOLS": "5"}, []string{"-max-pools", "-1"}, "-max-pools"},
		{map[string]string{"PORT": "99999"}, nil, "PORT"},
		{map[string]string{"TENANT_POOL_TTL": "1 hour"}, nil, "TENANT_POOL_TTL"},
		{map[string]string{"REQUEST_TIMEOUT": "-1s"}, nil, "REQUEST_TIMEOUT"},
		{map[string]string{"TENANT_ISOLATION": "schema"}, nil, "TENANT_ISOLATION"},
		{map[string]string{"LOG_LEVEL": "loud"}, nil, "LOG_LEVEL"},
		{map[string]string{"LOG_FORMAT": "xml"}, nil, "LOG_FORMAT"},
		{map[string]string{"AUTO_MIGRATE": "maybe"}, nil, "AUTO_MIGRATE"},
		{map[string]string{"DB_MAX_CONNS": "1"}, nil, "DB_MAX_CONNS"},
		{map[string]string{"RETRY_INITIAL_DELAY": "10s", "RETRY_MAX_DELAY": "1s"}, nil, "RETRY_MAX_DELAY"},
		{nil, []string{"extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		_, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseConfig(%v, env %v) = %v; want an error naming %s", tt.args, tt.env, err, tt.want)
		}
	}
}

func TestConfigLogValueRedacts(t *testing.T) {
	for _, dsn := range []string{
		"postgres://app:hunter2@db:5432/app?sslmode=disable",
		"postgres://app@db/app?password=hunter2",
		"host=db user=app password=hunter2 dbname=app",
		"host=db password='hun ter2' dbname=app",
	} {
		var b strings.Builder
		log := slog.New(slog.NewJSONHandler(&b, nil))
		log.Info("config", "config", Config{DatabaseURL: dsn, AdminToken: "hunter2"})
		if strings.Contains(b.String(), "hunter2") || strings.Contains(b.String(), "hun ter2") {
			t.Errorf("logged config with %q leaks a secret: %s", dsn, b.String())
		}
		if !strings.Contains(b.String(), "xxxxx") {
			t.Errorf("logged config with %q: password not shown as redacted: %s", dsn, b.String())
		}
	}
}

func TestServeHelp(t *testing.T) {
	var stderr strings.Builder
	if err := run(t.Context(), []string{"serve", "-h"}, func(string) string { return "" }, io.Discard, &stderr); err != nil {
		t.Fatalf("serve -h = %v; want nil", err)
	}
	for _, want := range []string{"DATABASE_URL", "TENANT_ISOLATION", "ADMIN_TOKEN", "SHUTDOWN_TIMEOUT"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("serve -h does not mention %s", want)
		}
	}
}

func TestWithBinaryParameters(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:p@db:5432/app", "postgres://u:p@db:5432/app?binary_parameters=yes"},
		{"postgresql://db/app?sslmode=disable", "postgresql://db/app?binary_parameters=yes&sslmode=disable"},
		{"postgres://db/app?binary_parameters=no", "postgres://db/app?binary_parameters=no"},
		{"host=db dbname=app", "host=db dbname=app binary_parameters=yes"},
		{"host=db binary_parameters=no", "host=db binary_parameters=no"},
	} {
		got := withBinaryParameters(tc.in)
		if got != tc.want {
			t.Errorf("withBinaryParameters(%q) = %q; want %q", tc.in, got, tc.want)
		}
		if _, err := pq.NewConfig(got); err != nil {
			t.Errorf("pq.NewConfig(%q): %v", got, err)
		}
	}
}

// TestServeStartsPrivateDevelopmentDatabase: without DATABASE_URL, and with
// no server answering at the probe, serve starts a private cluster from the
// PostgreSQL binaries on the machine, warns that its data is throwaway,
// serves the demo tenant from it, and stops it when serve stops.
func TestServeStartsPrivateDevelopmentDatabase(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	probe := "postgres://postgres@" + l.Addr().String() + "/postgres?sslmode=disable&connect_timeout=2"
	l.Close()
	dir := t.TempDir()
	t.Cleanup(func() {
		// As root the cluster lives outside dir, which the user postgres
		// cannot reach; dir/cluster links to it.
		if target, err := os.Readlink(filepath.Join(dir, "cluster")); err == nil {
			os.RemoveAll(target)
			os.Remove(filepath.Dir(target))
		}
	})

	logs := newLineLog()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	e := env{getenv: func(string) string { return "" }, stdin: strings.NewReader(""), stdout: io.Discard, stderr: logs.pw, devDir: dir, devProbe: probe}
	go func() {
		err := runIn(ctx, e, []string{"serve", "-addr", "127.0.0.1:0"})
		logs.pw.Close()
		done <- err
	}()
	var base string
	select {
	case addr := <-logs.addr:
		base = "http://" + addr
	case err := <-done:
		ci, _ := strconv.ParseBool(os.Getenv("CI"))
		if (errors.Is(err, devdb.ErrNoBinaries) || errors.Is(err, devdb.ErrNoUser)) && !ci {
			t.Skipf("no private cluster on this machine: %v", err)
		}
		t.Fatalf("serve returned before listening: %v", err)
	}

	if n := logs.count(devClusterWarning, map[string]any{"level": "WARN"}); n != 1 {
		t.Errorf("%d warnings %q; want 1", n, devClusterWarning)
	}
	dbURL, err := devdb.RecordedURL(dir)
	if err != nil || dbURL == "" {
		t.Fatalf("RecordedURL = %q, %v; want the private cluster's database", dbURL, err)
	}
	if u, _ := url.Parse(dbURL); u == nil || u.Hostname() != "127.0.0.1" || u.Port() == "5432" {
		t.Errorf("development database %s; want a private cluster on loopback", dbURL)
	}
	s := &e2eServer{base: base}
	s.call(t, http.MethodGet, "/users", demoTenant, "", http.StatusOK, nil)

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve = %v; want nil after a graceful shutdown", err)
	}
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PingContext(t.Context()); err == nil {
		t.Error("the private cluster still answers after serve stopped")
	}
}
