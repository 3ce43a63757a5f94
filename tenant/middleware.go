package tenant

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/pgtenant/pgtenant/ent"
)

// Header is the request header from which Middleware reads the tenant id by
// default. It is in canonical form, so looking it up allocates nothing.
const Header = "X-Tenant-Id"

// MiddlewareOptions configure Middleware. The zero value reads X-Tenant-ID
// and writes the default error responses. The functions may be called from
// many goroutines at once.
type MiddlewareOptions struct {
	// Extract returns the tenant id of r, "" when it has none. Default: the
	// X-Tenant-ID header, which must appear at most once (else
	// ErrMultipleIDs). Whatever the source, an id holding a comma is a list
	// of ids and is refused with ErrMultipleIDs.
	Extract func(r *http.Request) string

	// Authorize, if set, is called with the valid id before the client is
	// acquired; a non-nil error answers 403 {"error":"Invalid tenant"} (or is
	// passed to ErrorHandler wrapped with ErrForbidden).
	Authorize func(r *http.Request, id string) error

	// OnResolved, if set, is called with the request whose context now holds
	// the tenant id and client, before the next handler.
	OnResolved func(r *http.Request, id string)

	// Verified makes the middleware acquire through Registry.AcquireVerified
	// (ping with retry) instead of Registry.Acquire.
	Verified bool

	// ErrorHandler, if set, writes the response for every error instead of the
	// default mapping (see Middleware). It receives ErrMissingID,
	// ErrMultipleIDs, an error wrapping ErrForbidden and Authorize's error,
	// or the error of ValidateID or of the registry, which wraps
	// ErrInvalidID, ErrNotFound, ErrUnavailable, ErrClosed or another error
	// (ErrSuspended too).
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// ErrMissingID is passed to MiddlewareOptions.ErrorHandler when the request
// names no tenant.
var ErrMissingID = errors.New("tenant: missing id")

// ErrMultipleIDs is passed to MiddlewareOptions.ErrorHandler when the
// request names more than one tenant: two X-Tenant-ID headers, or one whose
// value is a comma-separated list (as a proxy that appends the header
// instead of replacing it may send). No id of such a request is used.
var ErrMultipleIDs = errors.New("tenant: more than one id")

// ErrForbidden wraps the error of MiddlewareOptions.Authorize.
var ErrForbidden = errors.New("tenant: forbidden")

// Middleware returns HTTP middleware that resolves the request's tenant,
// acquires its client from reg, stores the id (NewContext) and the client
// (ent.NewContext) in the request context, calls next, and releases the lease
// when next returns or panics (the panic then goes on up, to a recoverer such
// as chi's). Handlers get the client with ent.FromContext and the id with
// FromContext; neither must be used after the handler returns.
//
// The steps are: Extract the id (refusing a request that names several);
// validate it (ValidateID; Authorize never
// sees an invalid id); Authorize; acquire (Registry.Acquire, or
// Registry.AcquireVerified when opts.Verified); OnResolved; next. When a step
// fails, no later step runs and, unless opts.ErrorHandler is set, the
// response (written by WriteError) is a JSON body {"error": message} with
// these statuses:
//
//	no tenant id                        400 Tenant ID is required
//	ErrMultipleIDs                      400 X-Tenant-ID must name exactly one tenant
//	ErrInvalidID                        400 Invalid tenant ID
//	Authorize returned an error         403 Invalid tenant
//	ErrNotFound                         404 Tenant not found
//	ErrSuspended                        403 Tenant suspended
//	ErrUnavailable, ErrClosed,
//	context.DeadlineExceeded            503 Service unavailable (Retry-After: 1)
//	anything else                       500 Internal server error
//
// Error texts are never sent to the client. Middleware panics if reg is nil.
func Middleware(reg *Registry, opts MiddlewareOptions) func(http.Handler) http.Handler {
	if reg == nil {
		panic("tenant: Middleware with nil Registry")
	}
	m := &middleware{opts: opts, acquire: reg.Acquire}
	if opts.Verified {
		m.acquire = reg.AcquireVerified
	}
	if m.opts.ErrorHandler == nil {
		m.opts.ErrorHandler = WriteError
	}
	return func(next http.Handler) http.Handler {
		return &handler{m: m, next: next}
	}
}

// middleware is the part of Middleware shared by every handler it wraps.
type middleware struct {
	opts    MiddlewareOptions
	acquire func(context.Context, string) (*ent.Client, func(), error)
}

type handler struct {
	m    *middleware
	next http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.m
	var id string
	if m.opts.Extract != nil {
		id = m.opts.Extract(r)
	} else if ids := r.Header[Header]; len(ids) > 1 {
		m.opts.ErrorHandler(w, r, ErrMultipleIDs)
		return
	} else if len(ids) == 1 {
		id = ids[0]
	}
	if id == "" {
		m.opts.ErrorHandler(w, r, ErrMissingID)
		return
	}
	if strings.IndexByte(id, ',') >= 0 {
		m.opts.ErrorHandler(w, r, ErrMultipleIDs)
		return
	}
	// Without Authorize, the id reaches only the registry, which validates
	// it first thing; the regexp need not run twice.
	if m.opts.Authorize != nil {
		if err := ValidateID(id); err != nil {
			m.opts.ErrorHandler(w, r, err)
			return
		}
		if err := m.opts.Authorize(r, id); err != nil {
			m.opts.ErrorHandler(w, r, fmt.Errorf("%w: tenant %q: %w", ErrForbidden, id, err))
			return
		}
	}
	client, release, err := m.acquire(r.Context(), id)
	if err != nil {
		m.opts.ErrorHandler(w, r, err)
		return
	}
	// A deferred call, not a closure, and no recover: the lease ends on
	// return and on panic alike, and the panic keeps going.
	defer release()
	r = r.WithContext(ent.NewContext(NewContext(r.Context(), id), client))
	if m.opts.OnResolved != nil {
		m.opts.OnResolved(r, id)
	}
	h.next.ServeHTTP(w, r)
}

// Bodies of the default error responses, the original library's texts.
var (
	bodyMissingID   = []byte(`{"error":"Tenant ID is required"}` + "\n")
	bodyMultipleIDs = []byte(`{"error":"X-Tenant-ID must name exactly one tenant"}` + "\n")
	bodyInvalidID   = []byte(`{"error":"Invalid tenant ID"}` + "\n")
	bodyForbidden   = []byte(`{"error":"Invalid tenant"}` + "\n")
	bodyNotFound    = []byte(`{"error":"Tenant not found"}` + "\n")
	bodySuspended   = []byte(`{"error":"Tenant suspended"}` + "\n")
	bodyUnavailable = []byte(`{"error":"Service unavailable"}` + "\n")
	bodyInternal    = []byte(`{"error":"Internal server error"}` + "\n")
)

// WriteError writes the default response of Middleware for err, as listed in
// Middleware's documentation. A custom MiddlewareOptions.ErrorHandler may call
// it for the errors it does not handle itself.
func WriteError(w http.ResponseWriter, _ *http.Request, err error) {
	status, body := errorResponse(err)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	w.Write(body)
}

func errorResponse(err error) (int, []byte) {
	switch {
	case errors.Is(err, ErrMissingID):
		return http.StatusBadRequest, bodyMissingID
	case errors.Is(err, ErrMultipleIDs):
		return http.StatusBadRequest, bodyMultipleIDs
	case errors.Is(err, ErrForbidden):
		// Before the others: whatever Authorize's error wraps, it is a refusal.
		return http.StatusForbidden, bodyForbidden
	case errors.Is(err, ErrInvalidID):
		return http.StatusBadRequest, bodyInvalidID
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, bodyNotFound
	case errors.Is(err, ErrSuspended):
		return http.StatusForbidden, bodySuspended
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrClosed),
		errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, bodyUnavailable
	}
	return http.StatusInternalServerError, bodyInternal
}
