package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"time"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"github.com/pgtenant/pgtenant/handlers"
	"github.com/pgtenant/pgtenant/internal/devdb"
	"github.com/pgtenant/pgtenant/internal/redact"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/apikey"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// Names of the development database and its demo tenant, used when no
// database is configured.
const (
	devDatabase = "multitenant"
	demoTenant  = "acme"
)

// devClusterWarning is logged at Warn level when serve starts (or reuses) a
// private development cluster.
const devClusterWarning = "throwaway development database: a private PostgreSQL cluster on loopback with fsync off, whose data may be lost; set DATABASE_URL to keep data"

// serve runs the API until ctx is canceled, then shuts down gracefully:
// it stops accepting connections, lets in-flight requests finish (at most
// SHUTDOWN_TIMEOUT), and closes the registry.
func serve(ctx context.Context, e env, args []string) error {
	cfg, err := parseConfig(args, e.getenv, e.stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	e.db.Use(&cfg.DatabaseURL, func() string {
		if cfg.DatabaseURLSet {
			return "DATABASE_URL or --database-url"
		}
		return "the development database"
	})
	log := newLogger(e, cfg)
	tuneGC(e.getenv)

	// Without a configured database, bring up (or find) a development
	// server and provision the demo tenant: the fresh-machine path.
	var dev *devdb.Server
	if !cfg.DatabaseURLSet {
		dev, err = devdb.Ensure(ctx, devdb.Options{Dir: e.devDir, Probe: e.devProbe, Logger: log})
		if err != nil {
			return fmt.Errorf("development database: %w", err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			if err := dev.Stop(ctx); err != nil {
				log.Error("stop development database", "err", err)
			}
		}()
		if err := dev.CreateDatabase(ctx, devDatabase); err != nil {
			return err
		}
		cfg.DatabaseURL = dev.URL(devDatabase)
		log.InfoContext(ctx, "using development database", "database_url", redact.DSN(cfg.DatabaseURL))
		if dev.Managed() {
			// Warn, so that it stands out among the start-up lines.
			log.WarnContext(ctx, devClusterWarning, "database_url", redact.DSN(cfg.DatabaseURL), "data", dev.DataDir())
		}
		// The other commands, run in this folder without DATABASE_URL,
		// find the database here: a private cluster's port is random.
		if err := devdb.RecordURL(e.devDir, cfg.DatabaseURL); err != nil {
			log.WarnContext(ctx, "record development database url", "err", err)
		}
	}

	opts := cfg.registryOptions(log)
	// Tenants whose schemas lack this binary's migrations are answered 503
	// instead of failing on missing columns.
	if opts.Revision, err = migrate.LatestRevision(migrations.Tenant()); err != nil {
		return err
	}
	reg, err := tenant.New(ctx, withBinaryParameters(cfg.DatabaseURL), ent.ClientForTenant, opts)
	if err != nil {
		return fmt.Errorf("open registry: %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := reg.Close(ctx); err != nil {
			log.Error("close registry", "err", err)
		}
	}()

	mig := newMigrator(reg.DB(), migrate.Options{Logger: log})
	if on, err := mig.Citus(ctx); err == nil && on {
		log.InfoContext(ctx, "citus coordinator: tenants are created as distributed schemas")
	}
	if cfg.AutoMigrate || dev != nil {
		if err := mig.MigratePublic(ctx); err != nil {
			return fmt.Errorf("migrate public: %w", err)
		}
	}
	if dev != nil {
		if err := prepareDevDatabase(ctx, mig, log); err != nil {
			return err
		}
	}
	warnTenantsBehind(ctx, mig, log)

	keys := apikey.NewStore(reg.DB())
	auth, closeAuth, err := newAuthenticator(ctx, cfg, keys, log)
	if err != nil {
		return err
	}
	defer closeAuth()
	log.InfoContext(ctx, "authentication", "mode", cfg.Auth)

	api := handlers.New(log, reg, handlers.Options{
		AdminToken:     cfg.AdminToken,
		Migrator:       mig,
		RequestTimeout: cfg.RequestTimeout,
		Authenticator:  auth,
		Keys:           keys,
	})
	srv := &http.Server{
		Handler:           api.Routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       cfg.RequestTimeout + 5*time.Second,
		WriteTimeout:      cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Requests do not inherit ctx: canceling it starts a graceful
		// shutdown, which must not cancel the requests it waits for.
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// The address comes first: tools read the first address of this line.
	log.InfoContext(ctx, "listening", "addr", ln.Addr().String(), "config", cfg.effective(reg.Stats()))

	if cfg.PprofAddr != "" {
		stop, err := servePprof(cfg.PprofAddr, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// prepareDevDatabase readies the development database: it provisions the
// demo tenant and migrates every tenant of the directory, so that a binary
// with a new migration serves the tenants created by an older one. A
// failing tenant is logged; the others are served.
func prepareDevDatabase(ctx context.Context, mig *migrate.Migrator, log *slog.Logger) error {
	if _, err := mig.CreateTenant(ctx, demoTenant, migrate.CreateOptions{}); err != nil {
		return fmt.Errorf("provision demo tenant: %w", err)
	}
	log.InfoContext(ctx, "demo tenant ready", "tenant", demoTenant)
	rep, err := mig.MigrateAll(ctx, migrate.RunOptions{})
	if rep.Public.Err != nil {
		return fmt.Errorf("migrate public: %w", rep.Public.Err)
	}
	for _, r := range rep.Tenants {
		if r.Err != nil {
			log.WarnContext(ctx, "development tenant not migrated", "tenant", r.ID, "err", r.Err)
		}
	}
	if err != nil && rep.Failed() == 0 {
		return fmt.Errorf("migrate tenants: %w", err)
	}
	log.InfoContext(ctx, "development tenants migrated", "tenants", len(rep.Tenants), "failed", rep.Failed(),
		"duration_ms", rep.Duration.Milliseconds())
	return nil
}

// warnTenantsBehind logs a warning, with the command that fixes it, when
// public or tenants of the directory are behind this binary's migrations
// (such tenants are answered 503), or when the database cannot tell. It is
// two queries, whatever the number of tenants.
func warnTenantsBehind(ctx context.Context, mig *migrate.Migrator, log *slog.Logger) {
	if pending, err := mig.PublicPending(ctx); err == nil && len(pending) > 0 {
		log.WarnContext(ctx, "the public schema lacks this release's migrations",
			"pending", pending, "fix", "api migrate --all")
	}
	n, err := mig.TenantsBehind(ctx)
	switch {
	case err != nil:
		log.WarnContext(ctx, "cannot check tenant migrations; the database may not be migrated for this release",
			"err", err, "fix", "api migrate --all")
	case n > 0:
		log.WarnContext(ctx, "tenants behind this release's migrations are answered 503 until migrated",
			"tenants_behind", n, "revision", mig.Revision(), "fix", "api migrate --all")
	}
}

// servePprof serves net/http/pprof's handlers on addr until stop is called.
// /debug/pprof/cmdline is not served: the command line may carry secrets
// (--admin-token, --database-url), and pprof.Index answers 404 for it.
func servePprof(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) // Close closes ln
	log.Info("pprof listening", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}

// The garbage collector's settings when GOGC and GOMEMLIMIT are unset. A
// request allocates far more than the server keeps (GET /users decodes and
// encodes 100 rows), so with Go's defaults (GOGC=100 over a live heap of a
// few megabytes) the collector ran dozens of times a second and took an
// eighth of the CPU. A larger GOGC collects less often; the soft memory
// limit makes it collect sooner again as the heap approaches the limit, so
// memory stays bounded. Measured with wrk -c32: GET /users on one tenant
// 3,200-3,400 -> 3,850-3,980 req/s, on 200 tenants in qualified mode 2,860
// -> 3,660 req/s; peak RSS 32-35 -> 44-49 MB.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 40 << 20
)

// tuneGC applies defaultGCPercent and defaultMemoryLimit unless the
// environment sets GOGC or GOMEMLIMIT, which the runtime has then applied.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}

// newLogger builds the process's logger on stderr. Durations are logged as
// strings ("1h0m0s", "2.5ms"), in JSON too, where slog would write
// nanoseconds.
func newLogger(e env, cfg Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel, ReplaceAttr: durationString}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(e.stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(e.stderr, opts))
}

// durationString is a slog ReplaceAttr that writes durations with
// time.Duration.String.
func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
