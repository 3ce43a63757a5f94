package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// logInfo is filled in while a request is served and read by logRequests
// when it ends; only the request's own goroutine touches it. It is also the
// request's chi middleware.LogEntry, through which chi's Recoverer reports a
// panic.
type logInfo struct {
	tenant   string
	log      *slog.Logger
	r        *http.Request
	w        middleware.WrapResponseWriter
	panicked bool
}

// Write implements middleware.LogEntry; logRequests writes the request line.
func (li *logInfo) Write(int, int, http.Header, time.Duration, any) {}

// Panic implements middleware.LogEntry: chi's Recoverer calls it before it
// answers 500. The panic is logged here, once, and the response is prepared
// to carry the API's JSON error body.
func (li *logInfo) Panic(v any, stack []byte) {
	li.panicked = true
	li.log.ErrorContext(li.r.Context(), "panic",
		"request_id", middleware.GetReqID(li.r.Context()),
		"method", li.r.Method, "path", li.r.URL.Path,
		"err", fmt.Sprint(v), "stack", string(stack))
	if li.w.Status() == 0 {
		li.w.Header().Set("Content-Type", "application/json")
	}
}

type logInfoKey struct{}

// setLogTenant records the request's tenant for its log line.
func setLogTenant(ctx context.Context, id string) {
	if li, ok := ctx.Value(logInfoKey{}).(*logInfo); ok {
		li.tenant = id
	}
}

// logTenant returns the tenant recorded for the request's log line, or "".
func logTenant(ctx context.Context) string {
	if li, ok := ctx.Value(logInfoKey{}).(*logInfo); ok {
		return li.tenant
	}
	return ""
}

// logRequests writes one log line per request (request_id, tenant, method,
// route pattern, status, bytes, duration) and records the request's metrics.
func (a *API) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		li := &logInfo{log: a.log, r: r, w: ww}
		defer func() {
			if li.panicked && ww.BytesWritten() == 0 && ww.Status() == http.StatusInternalServerError {
				_ = json.NewEncoder(ww).Encode(errorBody{Error: "Internal server error"})
			}
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
		r = middleware.WithLogEntry(r.WithContext(context.WithValue(r.Context(), logInfoKey{}, li)), li)
		next.ServeHTTP(ww, r)
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
