package tenant

import (
	"context"
	"errors"
	"net/http"
)

// StatusClientClosedRequest is the status ErrorStatus gives a request whose
// client went away (nginx's 499): nobody reads the answer, and it is not a
// server error.
const StatusClientClosedRequest = 499

// statusRow is one row of the table of ErrorStatus.
type statusRow struct {
	is      func(error) bool
	status  int
	message string
	body    []byte // {"error": message} and a newline
}

func row(is func(error) bool, status int, message string) statusRow {
	return statusRow{is: is, status: status, message: message,
		body: []byte(`{"error":"` + message + `"}` + "\n")}
}

func isErr(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

// statusTable is the table of ErrorStatus, first match wins.
var statusTable = []statusRow{
	row(isErr(ErrUnauthenticated), http.StatusUnauthorized, "Unauthorized"),
	row(isErr(ErrMissingID), http.StatusBadRequest, "Tenant ID is required"),
	row(isErr(ErrMultipleIDs), http.StatusBadRequest, "X-Tenant-ID must name exactly one tenant"),
	// Before the others: whatever Authorize's error wraps, it is a refusal.
	row(isErr(ErrForbidden), http.StatusForbidden, "Invalid tenant"),
	row(isErr(ErrInvalidID), http.StatusBadRequest, "Invalid tenant ID"),
	row(isErr(ErrNotFound), http.StatusNotFound, "Tenant not found"),
	row(isErr(ErrSuspended), http.StatusForbidden, "Tenant suspended"),
	// Before ErrUnavailable, which it wraps: not an outage, and it lasts
	// until the tenant is migrated.
	row(isErr(ErrSchemaBehind), http.StatusServiceUnavailable, "Tenant unavailable: its data is not migrated to this release yet"),
	// A transient error (the database restarting, a connection reset, too
	// many clients) is the database being unavailable, not a bug.
	row(func(err error) bool {
		return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrClosed) ||
			errors.Is(err, context.DeadlineExceeded) || IsTransient(err)
	}, http.StatusServiceUnavailable, "Service unavailable"),
	row(isErr(context.Canceled), StatusClientClosedRequest, "Client closed request"),
}

var internalRow = row(nil, http.StatusInternalServerError, "Internal server error")

// ErrorStatus returns the HTTP status of err and the message a client may
// see, the same for Middleware's responses and a service's handlers:
//
//	ErrUnauthenticated                       401 Unauthorized (WWW-Authenticate: Bearer)
//	ErrMissingID                             400 Tenant ID is required
//	ErrMultipleIDs                           400 X-Tenant-ID must name exactly one tenant
//	ErrForbidden (Authorize refused, X-Tenant-ID
//	  not the credential's, credential of a
//	  tenant that is not served)             403 Invalid tenant
//	ErrInvalidID                             400 Invalid tenant ID
//	ErrNotFound                              404 Tenant not found
//	ErrSuspended                             403 Tenant suspended
//	ErrSchemaBehind                          503 Tenant unavailable: its data is not migrated to this release yet
//	ErrUnavailable, ErrClosed, a deadline,
//	  a transient error (IsTransient)        503 Service unavailable (Retry-After: 1)
//	context.Canceled                         499 Client closed request
//	anything else                            500 Internal server error
//
// The first matching row wins. Error texts are never part of the message.
func ErrorStatus(err error) (status int, message string) {
	r := lookupStatus(err)
	return r.status, r.message
}

func lookupStatus(err error) *statusRow {
	for i := range statusTable {
		if statusTable[i].is(err) {
			return &statusTable[i]
		}
	}
	return &internalRow
}

// WriteError writes the response ErrorStatus gives err, as a JSON body
// {"error": message}. It is Middleware's default error handler; a custom
// MiddlewareOptions.ErrorHandler may call it for the errors it does not
// handle itself.
func WriteError(w http.ResponseWriter, _ *http.Request, err error) {
	r := lookupStatus(err)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	switch r.status {
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "1")
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", "Bearer")
	}
	w.WriteHeader(r.status)
	w.Write(r.body)
}
