package tenant

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
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
	// of ids and is refused with ErrMultipleIDs. It is not used when
	// Authenticator is set.
	Extract func(r *http.Request) string

	// Authenticator, if set, binds the request to its tenant by a
	// credential: the tenant is the principal's, the X-Tenant-ID header is
	// optional and, when present, must name the same tenant (else 403), and
	// the principal is stored in the request context (NewPrincipalContext).
	// When the principal has a Subject (a credential was checked), a tenant
	// the directory does not serve is refused 403, not 404.
	Authenticator Authenticator

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

// ErrForbidden wraps the error of MiddlewareOptions.Authorize and the
// refusals of a valid credential (another tenant in X-Tenant-ID, a tenant
// that is not served).
var ErrForbidden = errors.New("tenant: forbidden")

// Middleware returns HTTP middleware that resolves the request's tenant,
// acquires its client from reg, stores the id and the client in the request
// context, calls next, and releases the lease when next returns or panics
// (the panic then goes on up, to a recoverer such as chi's). Handlers get the
// client with ClientFromContext[C] and the id with FromContext; neither must
// be used after the handler returns.
//
// The steps are: Extract the id (refusing a request that names several);
// validate it (ValidateID; Authorize never
// sees an invalid id); Authorize; acquire (Registry.Acquire, or
// Registry.AcquireVerified when opts.Verified); OnResolved; next. With
// opts.Authenticator, the first steps are instead: Authenticate; validate
// the principal's tenant; check X-Tenant-ID against it. When a step
// fails, no later step runs and, unless opts.ErrorHandler is set, the
// response is written by WriteError: the status and message of ErrorStatus.
// Middleware panics if reg is nil.
func Middleware[C any](reg *Registry[C], opts MiddlewareOptions) func(http.Handler) http.Handler {
	if reg == nil {
		panic("tenant: Middleware with nil Registry")
	}
	m := &middleware[C]{opts: opts, acquire: reg.Acquire}
	if opts.Verified {
		m.acquire = reg.AcquireVerified
	}
	if m.opts.ErrorHandler == nil {
		m.opts.ErrorHandler = WriteError
	}
	return func(next http.Handler) http.Handler {
		return &handler[C]{m: m, next: next}
	}
}

// middleware is the part of Middleware shared by every handler it wraps.
type middleware[C any] struct {
	opts    MiddlewareOptions
	acquire func(context.Context, string) (C, func(), error)
}

type handler[C any] struct {
	m    *middleware[C]
	next http.Handler
}

func (h *handler[C]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.m
	if m.opts.Authenticator != nil {
		h.serveAuthenticated(w, r)
		return
	}
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
	r = r.WithContext(&valueCtx{Context: r.Context(), id: id, client: client})
	if m.opts.OnResolved != nil {
		m.opts.OnResolved(r, id)
	}
	h.next.ServeHTTP(w, r)
}

// serveAuthenticated is ServeHTTP with an Authenticator: the credential is
// checked before anything else, so a refused one touches no tenant.
func (h *handler[C]) serveAuthenticated(w http.ResponseWriter, r *http.Request) {
	m := h.m
	p, err := m.opts.Authenticator.Authenticate(r)
	if err != nil {
		m.opts.ErrorHandler(w, r, err)
		return
	}
	if err := ValidateID(p.Tenant); err != nil {
		m.opts.ErrorHandler(w, r, err)
		return
	}
	if vs := r.Header.Values(Header); len(vs) > 1 || len(vs) == 1 && vs[0] != p.Tenant {
		m.opts.ErrorHandler(w, r, fmt.Errorf("%w: credential of tenant %q, %s names another", ErrForbidden, p.Tenant, Header))
		return
	}
	if m.opts.Authorize != nil {
		if err := m.opts.Authorize(r, p.Tenant); err != nil {
			m.opts.ErrorHandler(w, r, fmt.Errorf("%w: tenant %q: %w", ErrForbidden, p.Tenant, err))
			return
		}
	}
	client, release, err := m.acquire(r.Context(), p.Tenant)
	if err != nil {
		if p.Subject != "" && errors.Is(err, ErrNotFound) {
			// The credential is valid, so its tenant exists or existed:
			// it is not served (suspended, dropped), which is a refusal.
			err = fmt.Errorf("%w: %w", ErrForbidden, err)
		}
		m.opts.ErrorHandler(w, r, err)
		return
	}
	defer release()
	r = r.WithContext(&valueCtx{Context: r.Context(), id: p.Tenant, subject: p.Subject, client: client})
	if m.opts.OnResolved != nil {
		m.opts.OnResolved(r, p.Tenant)
	}
	h.next.ServeHTTP(w, r)
}
