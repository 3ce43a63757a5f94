package tenant_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

func pqErr(code pqerror.Code) error { return &pq.Error{Severity: pqerror.SeverityFatal, Code: code} }

func TestIsTransient(t *testing.T) {
	dialRefused := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection exception 08000", pqErr("08000"), true},
		{"connection does not exist 08003", pqErr(pqerror.ConnectionDoesNotExist), true},
		{"connection failure 08006", pqErr(pqerror.ConnectionFailure), true},
		{"cannot establish 08001", pqErr(pqerror.SQLClientUnableToEstablishSQLConnection), true},
		{"rejected 08004", pqErr(pqerror.SQLServerRejectedEstablishmentOfSQLConnection), true},
		{"protocol violation 08P01", pqErr(pqerror.ProtocolViolation), true},
		{"admin shutdown 57P01", pqErr(pqerror.AdminShutdown), true},
		{"crash shutdown 57P02", pqErr(pqerror.CrashShutdown), true},
		{"cannot connect now 57P03", pqErr(pqerror.CannotConnectNow), true},
		{"too many connections 53300", pqErr(pqerror.TooManyConnections), true},
		{"wrapped 57P03", fmt.Errorf("ping: %w", pqErr(pqerror.CannotConnectNow)), true},
		{"joined 53300", errors.Join(errors.New("other"), pqErr(pqerror.TooManyConnections)), true},
		{"auth failed 28P01", pqErr(pqerror.InvalidPassword), false},
		{"invalid authorization 28000", pqErr(pqerror.InvalidAuthorizationSpecification), false},
		{"missing database 3D000", pqErr(pqerror.InvalidCatalogName), false},
		{"missing schema 3F000", pqErr(pqerror.InvalidSchemaName), false},
		{"missing table 42P01", pqErr(pqerror.UndefinedTable), false},
		{"deadlock 40P01", pqErr(pqerror.TRDeadlockDetected), false},
		{"serialization 40001", pqErr(pqerror.TRSerializationFailure), false},
		{"query canceled 57014", pqErr(pqerror.QueryCanceled), false},
		{"disk full 53100", pqErr(pqerror.DiskFull), false},
		{"malformed code", pqErr("0"), false},
		{"wrapped auth", fmt.Errorf("open: %w", pqErr(pqerror.InvalidPassword)), false},
		// The SQLSTATE decides, even when the error also wraps a network error.
		{"pq error joined with net error", errors.Join(pqErr(pqerror.InvalidPassword), dialRefused), false},
		{"auth message text", errors.New("pq: too many connections for role; connection refused"), false},
		{"driver.ErrBadConn", driver.ErrBadConn, true},
		{"wrapped driver.ErrBadConn", fmt.Errorf("query: %w", driver.ErrBadConn), true},
		{"io.ErrUnexpectedEOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"io.EOF", io.EOF, false},
		{"ECONNREFUSED", syscall.ECONNREFUSED, true},
		{"ECONNRESET wrapped", fmt.Errorf("read: %w", &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}), true},
		{"ECONNABORTED", syscall.ECONNABORTED, true},
		{"dial refused", dialRefused, true},
		{"dial timeout", &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}, true},
		{"dns", &net.DNSError{Err: "no such host", Name: "db", IsNotFound: true}, true},
		{"net.Error", fmt.Errorf("x: %w", timeoutErr{}), true},
		{"address error", &net.AddrError{Err: "missing port", Addr: "db"}, false},
		{"parse error", &net.ParseError{Type: "IP address", Text: "x"}, false},
		{"context.Canceled", context.Canceled, false},
		{"context.DeadlineExceeded", context.DeadlineExceeded, false},
		{"wrapped DeadlineExceeded", fmt.Errorf("ping: %w", context.DeadlineExceeded), false},
		{"dial canceled by ctx", &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("operation was canceled: %w", context.Canceled)}, false},
		{"sql.ErrNoRows", sql.ErrNoRows, false},
		{"sql.ErrConnDone", sql.ErrConnDone, false},
		{"ErrNotFound", tenant.ErrNotFound, false},
		{"ErrInvalidID", tenant.ErrInvalidID, false},
		{"plain", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tenant.IsTransient(tt.err); got != tt.want {
				t.Errorf("IsTransient(%#v) = %v; want %v", tt.err, got, tt.want)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// retryCall is one call of onRetry.
type retryCall struct {
	attempt int
	err     error
	delay   time.Duration
}

// failing returns an op that fails with the transient errs in turn (the last
// one repeated) and records the fake time of each call relative to start.
func failing(start time.Time, calls *[]time.Duration, errs ...error) func(context.Context) error {
	return func(context.Context) error {
		*calls = append(*calls, time.Since(start))
		i := min(len(*calls), len(errs)) - 1
		return errs[i]
	}
}

func TestRetryPolicyDoDelaysNoJitter(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name     string
		policy   tenant.RetryPolicy
		attempts int
		maxDelay time.Duration
		want     []time.Duration // delays before retries 1, 2, ...; nil: only bounds checked
	}{
		{"defaults", tenant.RetryPolicy{NoJitter: true}, 3, 5 * time.Second, []time.Duration{100 * ms, 200 * ms}},
		{"negative means default", tenant.RetryPolicy{MaxAttempts: -1, InitialDelay: -1, MaxDelay: -1, Multiplier: -1, NoJitter: true},
			3, 5 * time.Second, []time.Duration{100 * ms, 200 * ms}},
		{"five attempts", tenant.RetryPolicy{MaxAttempts: 5, NoJitter: true}, 5, 5 * time.Second,
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms}},
		{"capped", tenant.RetryPolicy{MaxAttempts: 6, InitialDelay: time.Second, Multiplier: 3, MaxDelay: 5 * time.Second, NoJitter: true},
			6, 5 * time.Second, []time.Duration{time.Second, 3 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second}},
		{"max below initial", tenant.RetryPolicy{InitialDelay: time.Second, MaxDelay: 300 * ms, NoJitter: true},
			3, 300 * ms, []time.Duration{300 * ms, 300 * ms}},
		{"multiplier 1", tenant.RetryPolicy{MaxAttempts: 4, Multiplier: 1, NoJitter: true}, 4, 5 * time.Second,
			[]time.Duration{100 * ms, 100 * ms, 100 * ms}},
		{"multiplier below 1", tenant.RetryPolicy{Multiplier: 0.5, NoJitter: true}, 3, 5 * time.Second,
			[]time.Duration{100 * ms, 100 * ms}},
		{"one attempt", tenant.RetryPolicy{MaxAttempts: 1, NoJitter: true}, 1, 5 * time.Second, []time.Duration{}},
		{"huge attempts stay capped", tenant.RetryPolicy{MaxAttempts: 70, InitialDelay: ms, MaxDelay: time.Hour, NoJitter: true},
			70, time.Hour, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				errs := []error{pqErr(pqerror.CannotConnectNow), driver.ErrBadConn, pqErr(pqerror.AdminShutdown)}
				var calls []time.Duration
				var retries []retryCall
				start := time.Now()
				err := tt.policy.Do(t.Context(), failing(start, &calls, errs...), func(attempt int, err error, delay time.Duration) {
					retries = append(retries, retryCall{attempt, err, delay})
				})
				attempts := tt.attempts
				if len(calls) != attempts {
					t.Fatalf("Do called op %d times; want %d", len(calls), attempts)
				}
				if want := errs[min(attempts, len(errs))-1]; err != want {
					t.Errorf("Do() = %v; want op's last error %v, unwrapped", err, want)
				}
				if len(retries) != attempts-1 {
					t.Fatalf("Do called onRetry %d times; want %d", len(retries), attempts-1)
				}
				var at time.Duration
				for i, r := range retries {
					if r.attempt != i+1 || r.err != errs[min(i, len(errs)-1)] {
						t.Errorf("onRetry #%d got (%d, %v); want (%d, %v)", i+1, r.attempt, r.err, i+1, errs[min(i, len(errs)-1)])
					}
					if tt.want != nil && r.delay != tt.want[i] {
						t.Errorf("onRetry #%d delay = %v; want %v", i+1, r.delay, tt.want[i])
					}
					if r.delay > tt.maxDelay || r.delay <= 0 {
						t.Errorf("onRetry #%d delay = %v; want in (0, MaxDelay]", i+1, r.delay)
					}
					at += r.delay
					if calls[i+1] != at {
						t.Errorf("try %d started at %v; want %v (the announced delay after the previous one)", i+2, calls[i+1], at)
					}
				}
				if tt.want == nil && retries[len(retries)-1].delay != tt.maxDelay {
					t.Errorf("last delay = %v; want the cap %v", retries[len(retries)-1].delay, tt.maxDelay)
				}
				if calls[0] != 0 {
					t.Errorf("first try at %v; want at once", calls[0])
				}
			})
		})
	}
}

func TestRetryPolicyDoJitterWithinBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := tenant.RetryPolicy{MaxAttempts: 8, InitialDelay: 100 * time.Millisecond, MaxDelay: time.Second}
		distinct := map[time.Duration]bool{}
		for range 100 {
			var calls []time.Duration
			var delays []time.Duration
			start := time.Now()
			_ = p.Do(t.Context(), failing(start, &calls, driver.ErrBadConn), func(_ int, _ error, d time.Duration) {
				delays = append(delays, d)
			})
			if len(calls) != 8 || len(delays) != 7 {
				t.Fatalf("Do made %d tries and %d retries; want 8 and 7", len(calls), len(delays))
			}
			var at time.Duration
			for i, got := range delays {
				d := min(100*time.Millisecond<<i, time.Second)
				if got < d/2 || got > d {
					t.Errorf("retry %d delay = %v; want in [%v, %v]", i+1, got, d/2, d)
				}
				distinct[got] = true
				at += got
				if calls[i+1] != at {
					t.Errorf("try %d started at %v; want %v", i+2, calls[i+1], at)
				}
			}
		}
		// 700 draws from ranges of 50ms or more: equal values everywhere would
		// mean there is no jitter at all.
		if len(distinct) < 100 {
			t.Errorf("jittered delays took %d distinct values in 700 retries; want many more", len(distinct))
		}
	})
}

func TestRetryPolicyDoSucceedsAfterTransientErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := 0
		start := time.Now()
		err := tenant.RetryPolicy{NoJitter: true}.Do(t.Context(), func(context.Context) error {
			n++
			if n < 3 {
				return pqErr(pqerror.TooManyConnections)
			}
			return nil
		}, nil)
		if err != nil || n != 3 {
			t.Errorf("Do() = %v after %d tries; want nil after 3", err, n)
		}
		if got := time.Since(start); got != 300*time.Millisecond {
			t.Errorf("Do took %v; want 300ms", got)
		}
	})
}

func TestRetryPolicyDoPermanentError(t *testing.T) {
	for _, perm := range []error{
		pqErr(pqerror.InvalidPassword),
		pqErr(pqerror.InvalidSchemaName),
		fmt.Errorf("wrapped: %w", pqErr(pqerror.TRDeadlockDetected)),
		errors.New("boom"),
		context.Canceled,
	} {
		t.Run(perm.Error(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := 0
				start := time.Now()
				err := tenant.RetryPolicy{MaxAttempts: 10}.Do(t.Context(), func(context.Context) error {
					n++
					if n == 1 {
						return driver.ErrBadConn
					}
					return perm
				}, nil)
				if err != perm || n != 2 {
					t.Errorf("Do() = %v after %d tries; want %v unchanged after 2", err, n, perm)
				}
				if d := time.Since(start); d > 100*time.Millisecond {
					t.Errorf("Do took %v; want a single 100ms-at-most wait", d)
				}
			})
		})
	}
}

func TestRetryPolicyDoDeadlineMidWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
		defer cancel()
		var calls []time.Duration
		last := pqErr(pqerror.CannotConnectNow)
		start := time.Now()
		err := tenant.RetryPolicy{MaxAttempts: 5, NoJitter: true}.Do(ctx, failing(start, &calls, driver.ErrBadConn, last), nil)
		// Tries at 0 and 100ms; the 200ms wait is cut short at 150ms.
		if got := time.Since(start); got != 150*time.Millisecond {
			t.Errorf("Do returned after %v; want 150ms, when ctx expired", got)
		}
		if len(calls) != 2 {
			t.Errorf("Do made %d tries; want 2", len(calls))
		}
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, last) {
			t.Errorf("Do() = %v; want it to wrap context.DeadlineExceeded and the last error %v", err, last)
		}
	})
}

func TestRetryPolicyDoCancelMidWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		done := make(chan error)
		go func() {
			done <- tenant.RetryPolicy{}.Do(ctx, func(context.Context) error { return driver.ErrBadConn }, nil)
		}()
		synctest.Wait() // Do is waiting before its first retry.
		cancel()
		err := <-done
		if got := time.Since(start); got != 0 {
			t.Errorf("Do returned %v after cancel; want at once", got)
		}
		if !errors.Is(err, context.Canceled) || !errors.Is(err, driver.ErrBadConn) {
			t.Errorf("Do() = %v; want it to wrap context.Canceled and driver.ErrBadConn", err)
		}
	})
}

func TestRetryPolicyDoCanceledDuringTry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		n := 0
		var retried bool
		err := tenant.RetryPolicy{}.Do(ctx, func(context.Context) error {
			n++
			cancel()
			return driver.ErrBadConn
		}, func(int, error, time.Duration) { retried = true })
		if n != 1 || retried {
			t.Errorf("Do made %d tries (onRetry called: %v) with ctx canceled during the first; want 1, no retry", n, retried)
		}
		if !errors.Is(err, context.Canceled) || !errors.Is(err, driver.ErrBadConn) {
			t.Errorf("Do() = %v; want it to wrap context.Canceled and driver.ErrBadConn", err)
		}
	})
}

// TestIsTransientPostgreSQL classifies errors of real connection attempts.
func TestIsTransientPostgreSQL(t *testing.T) {
	t.Parallel()
	server := tenanttest.ServerConfig(t)

	ping := func(t *testing.T, cfg pq.Config) error {
		t.Helper()
		c, err := pq.NewConnectorConfig(cfg)
		if err != nil {
			t.Fatalf("NewConnectorConfig: %v", err)
		}
		db := sql.OpenDB(c)
		defer db.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		err = db.PingContext(ctx)
		if err == nil {
			t.Fatal("PingContext succeeded; want an error")
		}
		return err
	}

	t.Run("closed port", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		cfg := server.Clone()
		cfg.Host = "127.0.0.1"
		cfg.Port = uint16(port)
		err = ping(t, cfg)
		if !tenant.IsTransient(err) {
			t.Errorf("IsTransient(%v) = false for a refused connection; want true", err)
		}
	})
	t.Run("terminated backend", func(t *testing.T) {
		db := tenanttest.Open(t, server)
		conn, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var pid int
		if err := conn.QueryRowContext(t.Context(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(t.Context(), "SELECT pg_terminate_backend($1)", pid); err != nil {
			t.Fatal(err)
		}
		err = conn.PingContext(t.Context())
		if err == nil {
			t.Fatal("ping of a terminated backend succeeded; want an error")
		}
		if !tenant.IsTransient(err) {
			t.Errorf("IsTransient(%v) = false for a terminated backend; want true", err)
		}
	})
	t.Run("missing database", func(t *testing.T) {
		cfg := server.Clone()
		cfg.Database = "tenanttest_does_not_exist"
		err := ping(t, cfg)
		if pq.As(err, pqerror.InvalidCatalogName) == nil {
			t.Fatalf("ping of a missing database = %v; want SQLSTATE 3D000", err)
		}
		if tenant.IsTransient(err) {
			t.Errorf("IsTransient(%v) = true for a missing database; want false", err)
		}
	})
	t.Run("missing role", func(t *testing.T) {
		cfg := server.Clone()
		cfg.User = "tenanttest_no_such_role"
		err := ping(t, cfg)
		if tenant.IsTransient(err) {
			t.Errorf("IsTransient(%v) = true for a missing role; want false", err)
		}
	})
}
