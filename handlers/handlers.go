package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-playground/validator/v10"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/apikey"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// Default values of Options.
const (
	DefaultMaxBodyBytes   = 1 << 20
	DefaultRequestTimeout = 10 * time.Second
)

// Options configure an API. The zero value serves everything except the
// state-changing admin routes.
type Options struct {
	// AdminToken enables the admin routes (pools, tenants, plans, keys);
	// they then require "Authorization: Bearer <AdminToken>". When it is
	// empty those routes answer 404, as if they did not exist.
	AdminToken string

	// Authenticator binds each tenant request to its tenant (see
	// tenant.MiddlewareOptions.Authenticator). Nil: the X-Tenant-ID header
	// alone, as tenant.HeaderAuth.
	Authenticator tenant.Authenticator

	// Keys serves the API key admin routes (/admin/tenants/{id}/keys).
	// When nil, those routes answer 404.
	Keys *apikey.Store

	// Migrator provisions and drops tenants for POST/DELETE /admin/tenants
	// and lists them for GET /admin/tenants. When nil, those routes answer
	// 404.
	Migrator *migrate.Migrator

	// BatchConcurrency is how many tenants POST /admin/tenants/batch
	// provisions at once, each on one connection of the Migrator's pool.
	// Zero or less means DefaultBatchConcurrency.
	BatchConcurrency int

	// MaxBodyBytes limits request bodies; a larger body is answered 413.
	// Default DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64

	// RequestTimeout bounds every request through its context, so a request
	// waiting for a connection answers 503 instead of hanging. Default
	// DefaultRequestTimeout (10s); negative disables it.
	RequestTimeout time.Duration
}

// API serves the HTTP API of a Registry. It is safe for concurrent use; build
// it with New.
type API struct {
	log      *slog.Logger
	reg      *tenant.Registry[*ent.Client]
	opts     Options
	maxBody  int64
	validate *validator.Validate
	metrics  *metrics
}

// New returns the API serving reg. logger receives one line per request
// and the causes of 5xx responses; nil discards them. reg must not be nil and
// must outlive the API's use.
func New(logger *slog.Logger, reg *tenant.Registry[*ent.Client], opts Options) *API {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	return &API{
		log:      logger,
		reg:      reg,
		opts:     opts,
		maxBody:  opts.MaxBodyBytes,
		validate: newValidator(),
		metrics:  newMetrics(reg),
	}
}

// Metrics returns the Prometheus registry that GET /metrics exposes, so a
// program can add its own collectors.
func (a *API) Metrics() *prometheus.Registry { return a.metrics.reg }

// Routes returns the handler of the whole API: every route is listed here.
func (a *API) Routes() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, a.logRequests, middleware.Recoverer)
	r.NotFound(a.wrap(func(http.ResponseWriter, *http.Request) error { return errorf(http.StatusNotFound, "Not found") }))
	r.MethodNotAllowed(a.wrap(func(http.ResponseWriter, *http.Request) error {
		return errorf(http.StatusMethodNotAllowed, "Method not allowed")
	}))

	// No tenant.
	r.Get("/health", a.wrap(a.health))
	r.Get("/ready", a.wrap(a.ready))
	r.Get("/metrics", a.metrics.handler(a.log).ServeHTTP)
	r.Get("/plans", a.wrap(a.listPlans))
	r.Get("/plans/{id}", a.wrap(a.getPlan))

	// Admin: bearer token; 404 when no token is configured.
	r.Group(func(r chi.Router) {
		r.Use(a.requireAdmin)
		// It names the resident tenants.
		r.Get("/admin/pools", a.wrap(a.pools))
		r.Post("/admin/plans", a.wrap(a.createPlan))
		r.Put("/admin/plans/{id}", a.wrap(a.updatePlan))
		r.Delete("/admin/plans/{id}", a.wrap(a.deletePlan))
		if a.opts.Migrator != nil {
			r.Get("/admin/tenants", a.wrap(a.listTenants))
			r.Post("/admin/tenants", a.wrap(a.createTenant))
			r.Post("/admin/tenants/batch", a.wrap(a.createTenants))
			r.Delete("/admin/tenants/{id}", a.wrap(a.dropTenant))
			r.Post("/admin/tenants/{id}/suspend", a.wrap(a.suspendTenant))
			r.Post("/admin/tenants/{id}/resume", a.wrap(a.resumeTenant))
		}
		if a.opts.Keys != nil {
			r.Get("/admin/tenants/{id}/keys", a.wrap(a.listKeys))
			r.Post("/admin/tenants/{id}/keys", a.wrap(a.createKey))
			r.Delete("/admin/tenants/{id}/keys/{prefix}", a.wrap(a.revokeKey))
		}
	})

	// Tenant routes: X-Tenant-ID resolves the tenant's client.
	r.Group(func(r chi.Router) {
		r.Use(tenant.Middleware(a.reg, a.tenantOptions(false)))
		r.Get("/users", a.wrap(a.listUsers))
		r.Post("/users", a.wrap(a.createUser))
		r.Get("/users/{id}", a.wrap(a.getUser))
		r.Put("/users/{id}", a.wrap(a.updateUser))
		r.Delete("/users/{id}", a.wrap(a.deleteUser))
		r.Get("/users/{id}/posts", a.wrap(a.listUserPosts))
		r.Get("/posts", a.wrap(a.listPosts))
		r.Post("/posts", a.wrap(a.createPost))
		r.Get("/posts/{id}", a.wrap(a.getPost))
		r.Put("/posts/{id}", a.wrap(a.updatePost))
		r.Delete("/posts/{id}", a.wrap(a.deletePost))
	})
	r.Group(func(r chi.Router) {
		// The original's getDbAsync path: ping the tenant's schema with retry.
		r.Use(tenant.Middleware(a.reg, a.tenantOptions(true)))
		r.Get("/users-async", a.wrap(a.listUsers))
	})
	return r
}

// tenantOptions makes tenant.Middleware authenticate with
// Options.Authenticator, report its errors through writeError and record the
// tenant and the principal on the request log line.
func (a *API) tenantOptions(verified bool) tenant.MiddlewareOptions {
	return tenant.MiddlewareOptions{
		Verified:      verified,
		Authenticator: a.opts.Authenticator,
		OnResolved: func(r *http.Request, id string) {
			p, _ := tenant.PrincipalFromContext(r.Context())
			setLogTenant(r.Context(), id, p.Subject)
		},
		ErrorHandler: a.tenantError,
	}
}

// tenantError writes the response of a request the tenant middleware
// refused. When the registry refused a valid tenant id (unknown, behind,
// unavailable), the request's log lines name that tenant.
func (a *API) tenantError(w http.ResponseWriter, r *http.Request, err error) {
	if vs := r.Header.Values(tenant.Header); len(vs) == 1 && tenant.ValidateID(vs[0]) == nil &&
		!errors.Is(err, tenant.ErrMissingID) && !errors.Is(err, tenant.ErrForbidden) {
		setLogTenant(r.Context(), vs[0], "")
	}
	a.writeError(w, r, err)
}

// tenantClient returns the client of the request's tenant, which the
// tenant middleware put in ctx.
func tenantClient(ctx context.Context) *ent.Client {
	c, _ := tenant.ClientFromContext[*ent.Client](ctx)
	return c
}
