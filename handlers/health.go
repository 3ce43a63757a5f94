package handlers

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

type healthResponse struct {
	Status string `json:"status"`
	Pools  int    `json:"pools"`
}

// health serves GET /health: liveness only, no database access.
func (a *API) health(w http.ResponseWriter, r *http.Request) error {
	return a.encode(w, r, http.StatusOK, healthResponse{Status: "ok", Pools: a.reg.Len()})
}

// readyTimeout bounds the database ping of GET /ready.
const readyTimeout = 2 * time.Second

// readyResponse is the body of GET /ready.
type readyResponse struct {
	Status string `json:"status"`
	Pools  int    `json:"pools"`
	// Revision is the latest tenant migration of this release, and
	// TenantsBehind the number of tenants whose schema has not been
	// migrated to it (answered 503 until 'api migrate --all' has run);
	// both are absent without Options.Migrator.
	Revision      string `json:"revision,omitempty"`
	TenantsBehind *int   `json:"tenantsBehind,omitempty"`
	// PublicPending lists the public migrations of this release that the
	// database lacks; absent without Options.Migrator.
	PublicPending []string `json:"publicPending,omitempty"`
}

// ready serves GET /ready: 200 when the shared pool answers a ping, with
// the public migrations the database lacks and the number of tenants behind
// this release's migrations (one query each, whatever the number of
// tenants); 503 when the database does not answer or lacks public
// migrations of this release.
func (a *API) ready(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := a.reg.DB().PingContext(ctx); err != nil {
		return &statusError{status: http.StatusServiceUnavailable, msg: "Database unavailable",
			err: fmt.Errorf("ping shared pool: %w", err)}
	}
	body := readyResponse{Status: "ready", Pools: a.reg.Len()}
	if m := a.opts.Migrator; m != nil {
		pending, err := m.PublicPending(ctx)
		if err != nil {
			return &statusError{status: http.StatusServiceUnavailable, msg: "Database unavailable", err: err}
		}
		if len(pending) > 0 {
			return &statusError{status: http.StatusServiceUnavailable, msg: "Database not migrated",
				err: fmt.Errorf("public migrations pending: %v", pending)}
		}
		n, err := m.TenantsBehind(ctx)
		if err != nil {
			return &statusError{status: http.StatusServiceUnavailable, msg: "Database not migrated", err: err}
		}
		body.Revision, body.TenantsBehind, body.PublicPending = m.Revision(), &n, pending
	}
	return a.encode(w, r, http.StatusOK, body)
}
