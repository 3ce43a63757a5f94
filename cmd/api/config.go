package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/internal/cmdline"
	"github.com/pgtenant/pgtenant/internal/redact"
	"github.com/pgtenant/pgtenant/tenant"
)

// defaultDatabaseURL is the built-in default of --database-url: the original
// app's database on the local server, without TLS (sslmode=disable), which a
// stock local PostgreSQL does not offer and which protects nothing on the
// loopback interface; lib/pq would otherwise require it. When neither
// DATABASE_URL nor --database-url is given, serve uses the development
// database instead (see serve), and the other commands the one serve
// recorded (see adminDatabaseURL).
const defaultDatabaseURL = "postgresql://postgres:postgres@localhost:5432/multitenant?sslmode=disable"

// minAdminToken is the shortest ADMIN_TOKEN accepted, in bytes: 32 random
// bytes (or 64 hex digits) cannot be guessed, a word can.
const minAdminToken = 32

// Config is the configuration of 'api serve'. Its zero value is not
// meaningful; parseConfig fills every field.
type Config struct {
	DatabaseURL string
	// DatabaseURLSet is true when DATABASE_URL or --database-url named the
	// database; otherwise serve brings up a development database.
	DatabaseURLSet bool

	Addr string // host:port to listen on; from --addr, else ":" + PORT

	Isolation         tenant.Mode
	MaxPools          int
	PoolTTL           time.Duration
	SweepInterval     time.Duration
	PoolMaxConns      int
	PoolMaxIdle       int
	PoolIdleTimeout   time.Duration
	ConnMaxLifetime   time.Duration
	ConnMaxTenants    int
	DBMaxConns        int
	RetryMaxAttempts  int
	RetryInitialDelay time.Duration
	RetryMaxDelay     time.Duration

	AdminToken      string
	Auth            string // header, apikey or jwt (see authModes)
	JWT             jwtConfig
	LogLevel        slog.Level
	LogFormat       string // json or text
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration
	AutoMigrate     bool
	PprofAddr       string // host:port of the net/http/pprof listener; empty: none
	// PprofAllowRemote lets PprofAddr name an address that is not on
	// loopback.
	PprofAllowRemote bool
}

// setting is one configuration value: a flag whose default comes from an
// environment variable, else from a built-in default.
type setting struct {
	flag, env, def, usage string
	parse                 func(string) error
}

// secretSettings are the settings whose values -h and errors never print
// as given, by variable: the function returns what is printed instead.
var secretSettings = map[string]func(string) string{
	"DATABASE_URL":    redact.DSN,
	"ADMIN_TOKEN":     hideToken,
	"JWT_HMAC_SECRET": hideToken,
}

// shown is v as -h and errors print the value of s.
func (s setting) shown(v string) string {
	if hide := secretSettings[s.env]; hide != nil {
		return hide(v)
	}
	return v
}

// hideToken prints a token as "(set)" or "".
func hideToken(v string) string {
	if v == "" {
		return ""
	}
	return "(set)"
}

// parseConfig reads the flags of 'api serve' from args with defaults from
// getenv. Precedence is flag > environment > built-in default. A bad value
// is an error naming the flag or the variable it came from.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	var port int
	var addr string
	settings := []setting{
		{"database-url", "DATABASE_URL", defaultDatabaseURL, "PostgreSQL URL or key=value DSN (prefer the variable: flags show in ps)", func(s string) error {
			if err := checkDSN(s); err != nil {
				return err
			}
			c.DatabaseURL = s
			return nil
		}},
		{"port", "PORT", "3000", "port to listen on (all interfaces)", intIn(&port, 0, 65535)},
		{"addr", "ADDR", "", "host:port to listen on; overrides PORT", func(s string) error { addr = s; return nil }},
		{"isolation", "TENANT_ISOLATION", "search_path", "search_path (a pool per tenant) or qualified (one shared pool, schema-qualified SQL)", func(s string) error {
			m, err := tenant.ParseMode(s)
			c.Isolation = m
			return err
		}},
		{"max-pools", "TENANT_MAX_POOLS", "0", "tenant clients kept open (LRU); 0: the mode's default, 50 for search_path and 1000 for qualified", intIn(&c.MaxPools, 0, 1<<20)},
		{"pool-ttl", "TENANT_POOL_TTL", "1h", "evict a tenant client unused this long (0 or negative: never)", duration(&c.PoolTTL, true)},
		{"sweep-interval", "TENANT_SWEEP_INTERVAL", "1m", "how often idle tenant clients are checked against the TTL", duration(&c.SweepInterval, false)},
		{"pool-max-conns", "TENANT_POOL_MAX_CONNS", "10", "open connections per tenant pool (search_path mode)", intIn(&c.PoolMaxConns, 1, 1<<20)},
		{"pool-max-idle", "TENANT_POOL_MAX_IDLE", "0", "idle connections per tenant pool (search_path mode); 0: the pool's open limit (idle connections are then bounded by the budget alone)", intIn(&c.PoolMaxIdle, 0, 1<<20)},
		{"pool-idle-timeout", "TENANT_POOL_IDLE_TIMEOUT", "30s", "close connections idle this long", duration(&c.PoolIdleTimeout, false)},
		{"conn-max-lifetime", "DB_CONN_MAX_LIFETIME", "30m", "close a connection this long after it was opened; 0 or less: never", duration(&c.ConnMaxLifetime, true)},
		{"conn-max-tenants", "DB_CONN_MAX_TENANTS", "1000", "close a connection once it served this many tenants, bounding the catalog its backend caches (about 35 KB a tenant); 0: never", intIn(&c.ConnMaxTenants, 0, 1<<30)},
		{"db-max-conns", "DB_MAX_CONNS", "80", "connection budget across all pools", intIn(&c.DBMaxConns, 2, 1<<20)},
		{"retry-attempts", "RETRY_MAX_ATTEMPTS", "3", "attempts of the verified acquisition (/users-async)", intIn(&c.RetryMaxAttempts, 1, 100)},
		{"retry-initial", "RETRY_INITIAL_DELAY", "100ms", "first retry delay", duration(&c.RetryInitialDelay, false)},
		{"retry-max", "RETRY_MAX_DELAY", "5s", "longest retry delay", duration(&c.RetryMaxDelay, false)},
		{"admin-token", "ADMIN_TOKEN", "", "bearer token of the admin routes, at least 32 bytes; empty disables them (prefer the variable)", func(s string) error {
			if s != "" && len(s) < minAdminToken {
				return fmt.Errorf("too short (%d bytes; at least %d, so that it cannot be guessed: generate one with 'openssl rand -hex 32')", len(s), minAdminToken)
			}
			c.AdminToken = s
			return nil
		}},
		{"auth", "TENANT_AUTH", "", "how a request proves its tenant: header (X-Tenant-ID alone, for use behind a gateway that authenticates), apikey (per-tenant API keys) or jwt (JWTs of an identity provider); must be set when DATABASE_URL is set and the address is not loopback, else header", func(s string) error {
			if s != "" && !slices.Contains(authModes, s) {
				return errors.New("want header, apikey or jwt")
			}
			c.Auth = s
			return nil
		}},
		{"jwt-jwks-url", "JWT_JWKS_URL", "", "jwt: the identity provider's JWKS URL", func(s string) error { c.JWT.JWKSURL = s; return nil }},
		{"jwt-key-file", "JWT_KEY_FILE", "", "jwt: PEM public key file verifying tokens, instead of a JWKS", func(s string) error { c.JWT.KeyFile = s; return nil }},
		{"jwt-hmac-secret", "JWT_HMAC_SECRET", "", "jwt: shared HS256 secret, instead of a JWKS, for tests and small setups (prefer the variable)", func(s string) error { c.JWT.HMACSecret = s; return nil }},
		{"jwt-issuer", "JWT_ISSUER", "", "jwt: required iss", func(s string) error { c.JWT.Issuer = s; return nil }},
		{"jwt-audience", "JWT_AUDIENCE", "", "jwt: required aud", func(s string) error { c.JWT.Audience = s; return nil }},
		{"jwt-tenant-claim", "JWT_TENANT_CLAIM", "tenant_id", "jwt: the claim holding the tenant id", func(s string) error { c.JWT.TenantClaim = s; return nil }},
		{"jwt-algorithms", "JWT_ALGORITHMS", "", "jwt: comma-separated accepted algorithms; default HS256 with a secret, else RS256,ES256 (never none)", func(s string) error { c.JWT.Algorithms = s; return nil }},
		{"jwt-leeway", "JWT_LEEWAY", "30s", "jwt: clock skew allowed on exp and nbf", duration(&c.JWT.Leeway, false)},
		{"log-level", "LOG_LEVEL", "info", "debug, info, warn or error", func(s string) error { return c.LogLevel.UnmarshalText([]byte(s)) }},
		{"log-format", "LOG_FORMAT", "json", "json or text", func(s string) error {
			if s != "json" && s != "text" {
				return errors.New("want json or text")
			}
			c.LogFormat = s
			return nil
		}},
		{"request-timeout", "REQUEST_TIMEOUT", "10s", "deadline of every request (503 when exceeded)", duration(&c.RequestTimeout, false)},
		{"shutdown-timeout", "SHUTDOWN_TIMEOUT", "30s", "how long shutdown waits for in-flight requests", duration(&c.ShutdownTimeout, false)},
		{"auto-migrate", "AUTO_MIGRATE", "true", "apply the public migrations at start", func(s string) error {
			b, err := strconv.ParseBool(s)
			c.AutoMigrate = b
			return err
		}},
		{"pprof-addr", "PPROF_ADDR", "", "host:port serving net/http/pprof, on loopback unless PPROF_ALLOW_REMOTE=true; empty disables it", func(s string) error {
			if s != "" {
				if _, _, err := net.SplitHostPort(s); err != nil {
					return errors.New("want host:port, e.g. 127.0.0.1:6060")
				}
			}
			c.PprofAddr = s
			return nil
		}},
		{"pprof-allow-remote", "PPROF_ALLOW_REMOTE", "false", "let PPROF_ADDR listen on an address that is not loopback (profiles show the code and data of the process)", func(s string) error {
			b, err := strconv.ParseBool(s)
			c.PprofAllowRemote = b
			return err
		}},
	}

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	values := make([]*string, len(settings))
	for i, s := range settings {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		values[i] = new(string)
		*values[i] = def
		fs.Var(cmdline.StringValue{P: values[i], Shown: s.shown(def)}, s.flag, s.usage+" ($"+s.env+")")
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: api serve [flags]\n\nEvery flag defaults to its environment variable, shown in parentheses.\n\n")
		cmdline.PrintFlags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, usagef("serve: unexpected arguments %q", fs.Args())
	}
	visited := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { visited[f.Name] = true })
	// source names where a setting's value came from.
	source := func(s setting) string {
		switch {
		case visited[s.flag]:
			return "--" + s.flag
		case getenv(s.env) != "":
			return s.env
		}
		return "default of --" + s.flag
	}
	for i, s := range settings {
		if err := s.parse(*values[i]); err != nil {
			if secretSettings[s.env] != nil {
				return Config{}, fmt.Errorf("%s: invalid value %s: %w", source(s), s.shown(*values[i]), err)
			}
			return Config{}, fmt.Errorf("%s: invalid value %q: %w", source(s), *values[i], err)
		}
	}
	if c.PprofAddr != "" && !c.PprofAllowRemote {
		if err := loopbackOnly(c.PprofAddr); err != nil {
			src := "PPROF_ADDR"
			if visited["pprof-addr"] {
				src = "--pprof-addr"
			}
			return Config{}, fmt.Errorf("%s: %w: profiles expose the process's code and memory; listen on loopback (e.g. 127.0.0.1:6060) or set PPROF_ALLOW_REMOTE=true", src, err)
		}
	}
	c.DatabaseURLSet = visited["database-url"] || getenv("DATABASE_URL") != ""
	c.Addr = addr
	if c.Addr == "" {
		c.Addr = ":" + strconv.Itoa(port)
	}
	if err := c.checkAuth(); err != nil {
		return Config{}, err
	}
	if c.RetryMaxDelay < c.RetryInitialDelay {
		return Config{}, fmt.Errorf("RETRY_MAX_DELAY (%v) is shorter than RETRY_INITIAL_DELAY (%v)", c.RetryMaxDelay, c.RetryInitialDelay)
	}
	return c, nil
}

func intIn(p *int, lo, hi int) func(string) error {
	return func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil {
			return errors.New("not an integer")
		}
		if n < lo || n > hi {
			return fmt.Errorf("out of range [%d, %d]", lo, hi)
		}
		*p = n
		return nil
	}
}

// duration parses a time.ParseDuration value; it must be positive unless
// nonPositive allows zero and negative values (meaning "disabled").
func duration(p *time.Duration, nonPositive bool) func(string) error {
	return func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			return errors.New("not a duration (e.g. 30s, 5m, 1h)")
		}
		if d <= 0 && !nonPositive {
			return errors.New("must be positive")
		}
		*p = d
		return nil
	}
}

// registryOptions are the tenant.Options of c.
func (c Config) registryOptions(log *slog.Logger) tenant.Options {
	ttl := c.PoolTTL
	if ttl == 0 {
		ttl = -1 // disabled; zero would mean the default
	}
	return tenant.Options{
		Mode:            c.Isolation,
		MaxClients:      c.MaxPools,
		ClientTTL:       ttl,
		SweepInterval:   c.SweepInterval,
		MaxOpenConns:    c.PoolMaxConns,
		MaxIdleConns:    c.PoolMaxIdle,
		ConnMaxIdleTime: c.PoolIdleTimeout,
		ConnMaxLifetime: c.connMaxLifetime(),
		ConnMaxTenants:  c.connMaxTenants(),
		MaxConns:        c.DBMaxConns,
		Retry: tenant.RetryPolicy{
			MaxAttempts:  c.RetryMaxAttempts,
			InitialDelay: c.RetryInitialDelay,
			MaxDelay:     c.RetryMaxDelay,
		},
		Logger:     log,
		LogQueries: c.LogLevel <= slog.LevelDebug,
	}
}

// withBinaryParameters returns dsn with lib/pq's binary_parameters=yes
// unless dsn sets binary_parameters itself. lib/pq then sends a query with
// arguments in one round trip (Parse, Bind, Execute) instead of two (Parse
// and Describe, then Bind and Execute): GET /users/{id} went from 5,500-7,300
// to 8,900 requests/s. It also sends []byte arguments in binary format,
// which a jsonb column would refuse; the API's schema has none.
func withBinaryParameters(dsn string) string {
	if strings.Contains(dsn, "binary_parameters") {
		return dsn
	}
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("binary_parameters", "yes")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " binary_parameters=yes"
}

// checkDSN reports whether lib/pq accepts dsn, with an error that does not
// show its password.
func checkDSN(dsn string) error {
	if strings.TrimSpace(dsn) == "" {
		return errors.New("empty")
	}
	if _, err := pq.NewConfig(dsn); err != nil {
		return redact.Error(dsn, err)
	}
	return nil
}

// loopbackOnly returns an error unless the host of addr (host:port) is a
// loopback address or localhost. An empty host listens on every interface.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	switch {
	case err != nil:
		return err
	case host == "":
		return fmt.Errorf("%q listens on every interface", addr)
	case host == "localhost":
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address", addr)
	}
	return nil
}

// effective returns c with the limits the registry applies in place of
// their "0: the default" settings, read from its Stats.
func (c Config) effective(st tenant.Stats) Config {
	c.MaxPools, c.DBMaxConns = st.MaxClients, st.MaxConns
	return c
}

// LogValue logs c without secrets: the DSN's password and the admin token
// are redacted.
func (c Config) LogValue() slog.Value {
	token := ""
	if c.AdminToken != "" {
		token = "(set)"
	}
	return slog.GroupValue(
		slog.String("database_url", redact.DSN(c.DatabaseURL)),
		slog.Bool("database_url_set", c.DatabaseURLSet),
		slog.String("addr", c.Addr),
		slog.String("isolation", c.Isolation.String()),
		slog.Int("max_pools", c.MaxPools),
		slog.Duration("pool_ttl", c.PoolTTL),
		slog.Duration("sweep_interval", c.SweepInterval),
		slog.Int("pool_max_conns", c.PoolMaxConns),
		slog.Int("pool_max_idle", c.PoolMaxIdle),
		slog.Duration("pool_idle_timeout", c.PoolIdleTimeout),
		slog.Duration("conn_max_lifetime", c.ConnMaxLifetime),
		slog.Int("conn_max_tenants", c.ConnMaxTenants),
		slog.Int("db_max_conns", c.DBMaxConns),
		slog.Int("retry_max_attempts", c.RetryMaxAttempts),
		slog.Duration("retry_initial_delay", c.RetryInitialDelay),
		slog.Duration("retry_max_delay", c.RetryMaxDelay),
		slog.String("admin_token", token),
		slog.String("auth", c.Auth),
		slog.Any("jwt", c.JWT),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("log_format", c.LogFormat),
		slog.Duration("request_timeout", c.RequestTimeout),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Bool("auto_migrate", c.AutoMigrate),
		slog.String("pprof_addr", c.PprofAddr),
		slog.Bool("pprof_allow_remote", c.PprofAllowRemote),
	)
}

// connMaxLifetime is ConnMaxLifetime as tenant.Options takes it: 0 or less
// (never) becomes negative.
func (c Config) connMaxLifetime() time.Duration {
	if c.ConnMaxLifetime <= 0 {
		return -1
	}
	return c.ConnMaxLifetime
}

// connMaxTenants is ConnMaxTenants as tenant.Options takes it: 0 (never)
// becomes negative.
func (c Config) connMaxTenants() int {
	if c.ConnMaxTenants == 0 {
		return -1
	}
	return c.ConnMaxTenants
}
