package tenant

import "net/http"

// MiddlewareOptions configure Middleware. The zero value reads X-Tenant-ID
// and writes the default error responses.
type MiddlewareOptions struct {
	// Extract returns the tenant id of r, "" when it has none. Default: the
	// X-Tenant-ID header.
	Extract func(r *http.Request) string

	// Authorize, if set, is called with the valid id before the client is
	// acquired; a non-nil error answers 403 {"error":"Invalid tenant"} (or is
	// passed to ErrorHandler).
	Authorize func(r *http.Request, id string) error

	// OnResolved, if set, is called with the request whose context now holds
	// the tenant id and client, before the next handler.
	OnResolved func(r *http.Request, id string)

	// Verified makes the middleware acquire through Registry.AcquireVerified
	// (ping with retry) instead of Registry.Acquire.
	Verified bool

	// ErrorHandler, if set, writes the response for every error instead of the
	// default mapping: missing id → 400 {"error":"Tenant ID is required"},
	// ErrInvalidID → 400, authorization → 403, ErrNotFound → 404
	// {"error":"Tenant not found"}, ErrUnavailable → 503, other → 500.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// ErrMissingID is passed to MiddlewareOptions.ErrorHandler when the request
// names no tenant.
var ErrMissingID = errorf("missing tenant id")

// ErrForbidden wraps the error of MiddlewareOptions.Authorize.
var ErrForbidden = errorf("forbidden")

// Middleware returns HTTP middleware that resolves the request's tenant,
// acquires its client from reg, stores the id (NewContext) and the client
// (ent.NewContext) in the request context, calls next, and releases the lease
// when next returns or panics.
func Middleware(reg *Registry, opts MiddlewareOptions) func(http.Handler) http.Handler {
	panic("unimplemented")
}
