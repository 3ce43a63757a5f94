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
	return a.encode(w, r, http.StatusOK, healthResponse{Status: "ok", Pools: a.reg.PoolCount()})
}

// readyTimeout bounds the database ping of GET /ready.
const readyTimeout = 2 * time.Second

// ready serves GET /ready: 200 when the shared pool answers a ping, 503
// otherwise.
func (a *API) ready(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := a.reg.DB().PingContext(ctx); err != nil {
		return &statusError{status: http.StatusServiceUnavailable, msg: "Database unavailable",
			err: fmt.Errorf("ping shared pool: %w", err)}
	}
	return a.encode(w, r, http.StatusOK, healthResponse{Status: "ready", Pools: a.reg.PoolCount()})
}
