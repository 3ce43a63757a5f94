package tenant

import (
	"errors"
	"fmt"
)

// Sentinel errors returned by this package. Callers test them with errors.Is;
// the returned errors wrap them with the operation and the (quoted) tenant id.
var (
	// ErrInvalidID is returned when a tenant id or the schema name built from it
	// is not acceptable. Such an id never reaches a DSN, a cache key or SQL.
	ErrInvalidID = errors.New("tenant: invalid id")

	// ErrNotFound is returned when the tenant directory has no active tenant
	// with the given id, or when the tenant's schema does not exist.
	ErrNotFound = errors.New("tenant: not found")

	// ErrSuspended is returned when the tenant directory lists the tenant as
	// suspended: it exists and its data is kept, but it is not served.
	ErrSuspended = errors.New("tenant: suspended")

	// ErrUnavailable is returned when the database cannot be reached (after
	// retries, where the operation retries) or when no connection could be had
	// within the caller's deadline because the connection budget is exhausted.
	ErrUnavailable = errors.New("tenant: database unavailable")

	// ErrClosed is returned by a Registry after Close.
	ErrClosed = errors.New("tenant: registry closed")

	// ErrSchemaBehind is returned for a tenant whose schema has not been
	// migrated to Options.Revision: the directory row's revision is older or
	// missing. It wraps ErrUnavailable: the tenant is served again, without
	// a restart, as soon as its schema is migrated.
	ErrSchemaBehind = fmt.Errorf("%w: tenant schema not migrated to this release", ErrUnavailable)
)
