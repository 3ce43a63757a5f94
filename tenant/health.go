package tenant

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// AcquireVerified is Acquire followed by a check that the tenant's schema
// exists, seen from the client's connections, under Options.Retry:
// transient errors are retried with backoff (ErrUnavailable once retries
// are exhausted), a missing schema is ErrNotFound. Each retry calls
// Hooks.OnRetry and logs a warning. On error no lease is held.
func (reg *Registry[C]) AcquireVerified(ctx context.Context, id string) (C, func(), error) {
	var zero C
	e, release, err := reg.acquire(ctx, id)
	if err != nil {
		return zero, nil, err
	}
	// The lease keeps e's connections open, resident or not.
	err = reg.opts.Retry.Do(ctx, func(ctx context.Context) error {
		return verify(ctx, id, e.conns)
	}, func(attempt int, err error, delay time.Duration) {
		reg.log.WarnContext(ctx, "retry", "tenant", id, "attempt", attempt, "delay", delay, "err", err)
		if h := reg.opts.Hooks.OnRetry; h != nil {
			h(attempt, err, delay)
		}
	})
	if err == nil {
		return e.client, release, nil
	}
	release()
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnavailable):
	case IsTransient(err):
		err = fmt.Errorf("%w: tenant %q: %w", ErrUnavailable, id, err)
	default:
		err = fmt.Errorf("verify tenant %q: %w", id, err)
	}
	reg.hookError(ctx, id, err)
	return zero, nil, err
}

// verify checks that the schema of tenant id exists, seen from conns.
func verify(ctx context.Context, id string, conns tenantConns) error {
	ok, err := conns.exists(ctx)
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("%w: tenant %q: schema does not exist", ErrNotFound, id)
	}
	return nil
}
