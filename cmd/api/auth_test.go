package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

func TestAuthChoiceIsExplicit(t *testing.T) {
	const dsn = "postgres://u:pw@db:5432/app"
	tests := []struct {
		name string
		env  map[string]string
		args []string
		mode string // "" when parseConfig must refuse
	}{
		{"development default", nil, nil, "header"},
		{"database on all interfaces", map[string]string{"DATABASE_URL": dsn}, nil, ""},
		{"database on a public address", map[string]string{"DATABASE_URL": dsn}, []string{"-addr", "192.0.2.1:80"}, ""},
		{"database on loopback", map[string]string{"DATABASE_URL": dsn}, []string{"-addr", "127.0.0.1:3000"}, "header"},
		{"database on localhost", map[string]string{"DATABASE_URL": dsn}, []string{"-addr", "localhost:3000"}, "header"},
		{"database on ::1", map[string]string{"DATABASE_URL": dsn}, []string{"-addr", "[::1]:3000"}, "header"},
		{"explicit header", map[string]string{"DATABASE_URL": dsn, "TENANT_AUTH": "header"}, nil, "header"},
		{"explicit apikey", map[string]string{"DATABASE_URL": dsn, "TENANT_AUTH": "apikey"}, nil, "apikey"},
		{"flag", map[string]string{"DATABASE_URL": dsn}, []string{"-auth", "apikey"}, "apikey"},
	}
	for _, tc := range tests {
		c, err := parseConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		switch {
		case tc.mode == "" && err == nil:
			t.Errorf("%s: parseConfig = %q, nil; want a refusal", tc.name, c.Auth)
		case tc.mode == "":
			if msg := err.Error(); !strings.Contains(msg, "TENANT_AUTH") || strings.Contains(msg, "\n") || strings.Contains(msg, "pw") {
				t.Errorf("%s: refusal %q; want one line naming TENANT_AUTH, without the password", tc.name, msg)
			}
		case err != nil || c.Auth != tc.mode:
			t.Errorf("%s: parseConfig = %q, %v; want %q", tc.name, c.Auth, err, tc.mode)
		}
	}
}

func TestJWTConfig(t *testing.T) {
	base := map[string]string{"TENANT_AUTH": "jwt", "JWT_ISSUER": "https://idp/", "JWT_AUDIENCE": "api"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for name, env := range map[string]map[string]string{
		"no key":          with(),
		"two keys":        with("JWT_JWKS_URL", "http://127.0.0.1/jwks", "JWT_HMAC_SECRET", "s3cret-hmac-value"),
		"no issuer":       with("JWT_ISSUER", "", "JWT_HMAC_SECRET", "s3cret-hmac-value"),
		"no audience":     with("JWT_AUDIENCE", "", "JWT_HMAC_SECRET", "s3cret-hmac-value"),
		"bad mode":        with("TENANT_AUTH", "basic", "JWT_HMAC_SECRET", "s3cret-hmac-value"),
		"empty claim":     with("JWT_TENANT_CLAIM", " ", "JWT_HMAC_SECRET", "s3cret-hmac-value"),
		"negative leeway": with("JWT_LEEWAY", "-1s", "JWT_HMAC_SECRET", "s3cret-hmac-value"),
	} {
		_, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
		if name == "empty claim" {
			// A blank claim name is a claim name; the authenticator reads it.
			continue
		}
		if err == nil {
			t.Errorf("%s: parseConfig = nil error", name)
		} else if strings.Contains(err.Error(), "s3cret-hmac-value") {
			t.Errorf("%s: error %q holds the secret", name, err)
		}
	}
	env := with("JWT_HMAC_SECRET", "s3cret-hmac-value")
	var help bytes.Buffer
	parseConfig([]string{"-h"}, func(k string) string { return env[k] }, &help)
	if strings.Contains(help.String(), "s3cret-hmac-value") || !strings.Contains(help.String(), "-jwt-hmac-secret") {
		t.Errorf("-h shows the HMAC secret or lacks the flag:\n%s", help.String())
	}
	c, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	newLogger(env2(&logged), c).Info("listening", "config", c)
	if strings.Contains(logged.String(), "s3cret-hmac-value") || !strings.Contains(logged.String(), `"auth":"jwt"`) {
		t.Errorf("config log line shows the secret or lacks the mode: %s", logged.String())
	}
}

func env2(w io.Writer) env {
	return env{stderr: w, stdout: io.Discard, getenv: func(string) string { return "" }}
}

// TestAPIKeyEndToEnd creates a key with the CLI, uses it on two servers
// (two processes sharing the database), revokes it with the CLI, and checks
// that both servers refuse it afterwards, without waiting for their caches
// to expire.
func TestAPIKeyEndToEnd(t *testing.T) {
	cfg := migs.NewDatabase(t)
	migs.NewTenant(t, cfg, "acme")
	migs.NewTenant(t, cfg, "globex")
	dsn := tenanttest.URL(cfg)
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return dsn
		}
		return ""
	}
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"tenant", "key", "create", "acme", "--name", "e2e", "--expires", "24h"}, getenv, &out, &errOut); err != nil {
		t.Fatalf("tenant key create: %v (%s)", err, errOut.String())
	}
	key := strings.TrimSpace(out.String())
	if !strings.HasPrefix(key, "pgt_") || strings.Contains(errOut.String(), key) {
		t.Fatalf("tenant key create printed %q on stdout, %q on stderr", key, errOut.String())
	}
	prefix := key[4:12]

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	env := map[string]string{"DATABASE_URL": dsn, "TENANT_AUTH": "apikey", "ADMIN_TOKEN": "t0ken-of-the-admin-t0ken-of-the-admin"}
	servers := []*e2eServer{startE2E(t, ctx, env), startE2E(t, ctx, env)}
	for _, s := range servers {
		if s.logs.count("authentication", map[string]any{"mode": "apikey"}) != 1 {
			t.Error("no start-up log line with the authentication mode")
		}
		s.callAuth(t, "GET", "/users", "", key, "", 200, nil)
		s.callAuth(t, "GET", "/users", "acme", key, "", 200, nil)
		s.callAuth(t, "GET", "/users", "globex", key, "", 403, nil)
		s.call(t, "GET", "/users", "acme", "", 401, nil)
	}
	// The admin routes list the key by prefix.
	var keys []struct {
		Prefix string `json:"prefix"`
	}
	servers[1].callAuth(t, "GET", "/admin/tenants/acme/keys", "", "t0ken-of-the-admin-t0ken-of-the-admin", "", 200, &keys)
	if len(keys) != 1 || keys[0].Prefix != prefix {
		t.Errorf("GET /admin/tenants/acme/keys = %+v; want prefix %s", keys, prefix)
	}

	out.Reset()
	if err := run(t.Context(), []string{"tenant", "key", "list", "acme"}, getenv, &out, io.Discard); err != nil || !strings.Contains(out.String(), prefix) || strings.Contains(out.String(), key) {
		t.Errorf("tenant key list = %q, %v; want the prefix and not the key", out.String(), err)
	}
	if err := run(t.Context(), []string{"tenant", "key", "revoke", prefix}, getenv, io.Discard, io.Discard); err != nil {
		t.Fatalf("tenant key revoke: %v", err)
	}
	for i, s := range servers {
		if !refusedSoon(t, s, key) {
			t.Errorf("server %d still accepts the revoked key", i+1)
		}
	}
	for _, s := range servers {
		// Two before the revocation; a poll may have come before its notification.
		if n := s.logs.count("request", map[string]any{"principal": prefix, "status": 200.0}); n < 2 {
			t.Errorf("%d request log lines with principal %s; want at least 2", n, prefix)
		}
		s.logs.mu.Lock()
		b, _ := json.Marshal(s.logs.lines)
		s.logs.mu.Unlock()
		if bytes.Contains(b, []byte(key[13:])) || bytes.Contains(b, []byte("t0ken-of-the-admin-t0ken-of-the-admin")) {
			t.Error("a secret is in the server log")
		}
	}
}

// refusedSoon polls s until it answers 401 to key, for at most 10s: the
// revocation reaches the server through a notification, which the cache TTL
// (30s) would not explain.
func refusedSoon(t *testing.T, s *e2eServer, key string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return poll(ctx, func() bool {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", s.base+"/users", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	})
}

// TestJWTEndToEnd serves with TENANT_AUTH=jwt and a shared secret: a token
// of acme reads acme, another tenant in X-Tenant-ID is 403, a token for a
// suspended tenant is 403, a bad token 401.
func TestJWTEndToEnd(t *testing.T) {
	cfg := migs.NewDatabase(t)
	migs.NewTenant(t, cfg, "acme")
	migs.NewTenant(t, cfg, "paused")
	db := tenanttest.Open(t, cfg)
	if _, err := db.ExecContext(t.Context(), `UPDATE tenants SET status = 'suspended' WHERE id = 'paused'`); err != nil {
		t.Fatal(err)
	}
	const secret = "a-shared-secret-of-at-least-32-bytes"
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := startE2E(t, ctx, map[string]string{
		"DATABASE_URL": tenanttest.URL(cfg), "TENANT_AUTH": "jwt", "JWT_HMAC_SECRET": secret,
		"JWT_ISSUER": "https://idp.test/", "JWT_AUDIENCE": "pgtenant",
	})
	sign := func(tenantID, aud string) string {
		tok, err := jwt.NewBuilder().Issuer("https://idp.test/").Audience([]string{aud}).Subject("alice").
			Expiration(time.Now().Add(time.Hour)).Claim("tenant_id", tenantID).Build()
		if err != nil {
			t.Fatal(err)
		}
		b, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256(), []byte(secret)))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	s.callAuth(t, "GET", "/users", "", sign("acme", "pgtenant"), "", 200, nil)
	s.callAuth(t, "GET", "/users", "paused", sign("acme", "pgtenant"), "", 403, nil)
	s.callAuth(t, "GET", "/users", "", sign("paused", "pgtenant"), "", 403, nil)
	s.callAuth(t, "GET", "/users", "", sign("acme", "other-api"), "", 401, nil)
	s.callAuth(t, "GET", "/users", "acme", "", "", 401, nil)
	if n := s.logs.count("request", map[string]any{"principal": "alice", "tenant": "acme", "status": 200.0}); n != 1 {
		t.Errorf("%d request log lines with principal alice; want 1", n)
	}
}
