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
// when it ends; only the request's own goroutine touches its fields. It is
// also the request's chi middleware.LogEntry, through which chi's Recoverer
// reports a panic, and the request's context, which answers both logInfoKey
// and middleware.LogEntryCtxKey with it: one allocation and one copy of the
// request instead of two of each.
type logInfo struct {
	context.Context // the request's context, with its deadline

	tenant    string
	principal string
	log       *slog.Logger
	r         *http.Request
	w         middleware.WrapResponseWriter
	panicked  bool
}

// Value returns li for logInfoKey and middleware.LogEntryCtxKey, and the
// parent context's value for any other key.
func (li *logInfo) Value(key any) any {
	switch key {
	case logInfoKey{}, middleware.LogEntryCtxKey:
		return li
	}
	return li.Context.Value(key)
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

// setLogTenant records the request's tenant and principal (a key prefix, a
// JWT subject; never a secret) for its log line.
func setLogTenant(ctx context.Context, id, principal string) {
	if li, ok := ctx.Value(logInfoKey{}).(*logInfo); ok {
		li.tenant = id
		li.principal = principal
	}
}

// logTenant returns the tenant recorded for the request's log line, or "".
func logTenant(ctx context.Context) string {
	if li, ok := ctx.Value(logInfoKey{}).(*logInfo); ok {
		return li.tenant
	}
	return ""
}

// logRequests writes one log line per request (request_id, tenant, principal, method,
// route pattern, status, bytes, duration) and records the request's metrics.
// It also bounds the request's context by Options.RequestTimeout. Unlike
// chi's middleware.Timeout it writes nothing itself: a handler that runs out
// of time returns context.DeadlineExceeded (or tenant.ErrUnavailable) and
// writeError answers 503. Both share one context and one copy of the
// request.
func (a *API) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := r.Context()
		if a.opts.RequestTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, a.opts.RequestTimeout)
			defer cancel()
		}
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		li := &logInfo{Context: ctx, log: a.log, r: r, w: ww}
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
				slog.String("principal", li.principal),
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int("bytes", ww.BytesWritten()),
				slog.Duration("duration", d),
			)
		}()
		next.ServeHTTP(ww, r.WithContext(li))
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
