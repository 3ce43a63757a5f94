package tenant

import (
	"context"
	"time"
)

// RetryPolicy is an exponential backoff policy for transient connection
// errors. Zero fields take the defaults given in their comments, which match
// the original library's.
type RetryPolicy struct {
	// MaxAttempts counts all tries, the first included. Default 3.
	MaxAttempts int
	// InitialDelay is the delay before the first retry. Default 100ms.
	InitialDelay time.Duration
	// MaxDelay caps every delay, jitter included. Default 5s.
	MaxDelay time.Duration
	// Multiplier grows the delay after each retry. Default 2.
	Multiplier float64
	// NoJitter disables jitter. With jitter (the default) each delay is drawn
	// uniformly from [d/2, d], where d is the capped exponential delay, so a
	// delay never exceeds MaxDelay.
	NoJitter bool
}

// Do calls op until it succeeds, returns a non-transient error (see
// IsTransient), MaxAttempts tries were made, or ctx is done. Before each retry
// it calls onRetry (if not nil) with the 1-based attempt that failed, its
// error and the delay about to be slept. It returns op's last error, or ctx's
// error wrapped with op's last error when ctx ended the wait.
func (p RetryPolicy) Do(ctx context.Context, op func(context.Context) error, onRetry func(attempt int, err error, delay time.Duration)) error {
	panic("unimplemented")
}

// IsTransient reports whether err is worth retrying: a connection exception
// (SQLSTATE class 08), admin/crash shutdown or cannot-connect-now (57P01,
// 57P02, 57P03), too many connections (53300), driver.ErrBadConn, or a net
// error. Errors are classified by type and SQLSTATE, never by message text;
// authentication failures and a missing schema are not transient.
func IsTransient(err error) bool {
	panic("unimplemented")
}
