package tenant

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// Defaults of RetryPolicy, those of the original library.
const (
	DefaultMaxAttempts  = 3                      // tries in all, the first included
	DefaultInitialDelay = 100 * time.Millisecond // before the first retry
	DefaultMaxDelay     = 5 * time.Second        // cap of every delay, jitter included
	DefaultMultiplier   = 2.0                    // growth of the delay per retry
)

// RetryPolicy is an exponential backoff policy for transient connection
// errors. Zero fields take the defaults given in their comments, which match
// the original library's. A RetryPolicy is a value: it is safe to copy and to
// use from several goroutines at once.
type RetryPolicy struct {
	// MaxAttempts counts all tries, the first included; 1 disables retries.
	// Zero or negative means the default, 3.
	MaxAttempts int
	// InitialDelay is the delay before the first retry. Zero or negative means
	// the default, 100ms.
	InitialDelay time.Duration
	// MaxDelay caps every delay, jitter included. Zero or negative means the
	// default, 5s.
	MaxDelay time.Duration
	// Multiplier grows the delay after each retry. Zero or negative means the
	// default, 2; a value between 0 and 1 is treated as 1 (constant delay).
	Multiplier float64
	// NoJitter disables jitter. With jitter (the default) each delay is drawn
	// uniformly from [d/2, d], where d is the capped exponential delay, so a
	// delay never exceeds MaxDelay.
	NoJitter bool
}

// withDefaults returns p with every zero field replaced by its default.
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.InitialDelay <= 0 {
		p.InitialDelay = DefaultInitialDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	switch {
	case p.Multiplier <= 0:
		p.Multiplier = DefaultMultiplier
	case p.Multiplier < 1:
		p.Multiplier = 1
	}
	return p
}

// backoff returns the capped delay before retry n (1 for the first retry),
// without jitter. p must have its defaults applied.
func (p RetryPolicy) backoff(n int) time.Duration {
	d := float64(p.InitialDelay)
	for i := 1; i < n && d < float64(p.MaxDelay); i++ {
		d *= p.Multiplier
	}
	if d >= float64(p.MaxDelay) {
		return p.MaxDelay
	}
	return time.Duration(d)
}

// delay returns the delay before retry n, jitter applied. It never exceeds
// p.MaxDelay.
func (p RetryPolicy) delay(n int) time.Duration {
	d := p.backoff(n)
	if p.NoJitter || d < 2 {
		return d
	}
	// Equal jitter: half fixed, half random, so the delay keeps growing
	// from retry to retry and stays within [d/2, d].
	half := d / 2
	return d - half + rand.N(half+1)
}

// Do calls op until it succeeds, returns a non-transient error (see
// IsTransient), MaxAttempts tries were made, or ctx is done. Before each retry
// it calls onRetry (if not nil) with the 1-based attempt that failed, its
// error and the delay about to be waited; the wait uses a timer and ends early
// when ctx is done. Do returns nil on success, otherwise op's last error
// unchanged, or, when ctx ended the wait (or was already done after a failed
// try), an error wrapping both ctx.Err() and op's last error, so that
// errors.Is works for either. op is called with ctx and always at least once.
func (p RetryPolicy) Do(ctx context.Context, op func(context.Context) error, onRetry func(attempt int, err error, delay time.Duration)) error {
	p = p.withDefaults()
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if attempt >= p.MaxAttempts || !IsTransient(err) {
			return err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return retryCanceled(ctxErr, attempt, err)
		}
		d := p.delay(attempt)
		if onRetry != nil {
			onRetry(attempt, err, d)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return retryCanceled(ctx.Err(), attempt, err)
		case <-t.C:
		}
	}
}

func retryCanceled(ctxErr error, attempt int, last error) error {
	return fmt.Errorf("tenant: retry after attempt %d: %w (last error: %w)", attempt, ctxErr, last)
}

// transientCodes are the SQLSTATEs outside class 08 that are worth retrying:
// the server is shutting down, restarting or out of connection slots.
var transientCodes = [...]pqerror.Code{
	pqerror.AdminShutdown,      // 57P01
	pqerror.CrashShutdown,      // 57P02
	pqerror.CannotConnectNow,   // 57P03
	pqerror.TooManyConnections, // 53300
}

// IsTransient reports whether err is worth retrying: a connection exception
// (SQLSTATE class 08), admin/crash shutdown or cannot-connect-now (57P01,
// 57P02, 57P03), too many connections (53300), driver.ErrBadConn, a refused,
// reset or aborted connection, a connection cut mid-message
// (io.ErrUnexpectedEOF), or another net.Error such as a dial or read timeout
// or a failed DNS lookup. Errors are classified by type, errno and SQLSTATE,
// never by message text, and are looked for through wrapping (errors.Is,
// errors.As).
//
// Not transient: nil, context.Canceled and context.DeadlineExceeded (the
// caller gave up, even when a net error reports it), every other SQLSTATE
// (authentication failures 28000/28P01, a missing database 3D000 or schema
// 3F000, a missing table 42P01, deadlocks 40P01, ...), malformed addresses
// (*net.AddrError, *net.ParseError) and any error of unknown type.
//
// io.ErrUnexpectedEOF counts because lib/pq reports a connection that the
// server or the network closed in the middle of a message that way; the
// operation retried is re-run whole, on a fresh connection. io.EOF does not
// count: it is also the ordinary end of many readers, so it says too little.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	// Checked first: context.DeadlineExceeded implements net.Error, and the
	// net package's dial errors wrap the context's errors.
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	// A server error is classified by its SQLSTATE alone, whatever it wraps.
	if e := pq.As(err); e != nil {
		return isTransientCode(e.Code)
	}
	switch {
	case errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED):
		return true
	}
	if _, ok := errors.AsType[*net.AddrError](err); ok {
		return false
	}
	if _, ok := errors.AsType[*net.ParseError](err); ok {
		return false
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return false
}

func isTransientCode(c pqerror.Code) bool {
	if len(c) == 5 && c.Class() == pqerror.ClassConnectionException {
		return true
	}
	for _, tc := range transientCodes {
		if c == tc {
			return true
		}
	}
	return false
}
