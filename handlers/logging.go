package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// logInfo is filled in while a request is served and read by logRequests
// when it ends; only the request's own goroutine touches it.
type logInfo struct {
	tenant string
}

type logInfoKey struct{}

// setLogTenant records the request's tenant for its log line.
func setLogTenant(ctx context.Context, id string) {
	if li, ok := ctx.Value(logInfoKey{}).(*logInfo); ok {
		li.tenant = id
	}
}

// logRequests writes one log line per request (request_id, tenant, method,
// route pattern, status, bytes, duration) and records the request's metrics.
func (a *API) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		li := &logInfo{}
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		defer func() {
			d := time.Since(start)
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			route := routePattern(r)
			a.metrics.observe(r.Method, route, status, d)
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			a.log.LogAttrs(r.Context(), level, "request",
				slog.String("request_id", middleware.GetReqID(r.Context())),
				slog.String("tenant", li.tenant),
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int("bytes", ww.BytesWritten()),
				slog.Duration("duration", d),
			)
		}()
		next.ServeHTTP(ww, r.WithContext(context.WithValue(r.Context(), logInfoKey{}, li)))
	})
}

// routePattern is the chi pattern that served r ("/users/{id}"), or
// "unmatched": metric labels must not grow with arbitrary paths.
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return "unmatched"
}
