// Package bulk runs one operation, such as provisioning, on many tenants: a
// bounded number at once, past failures, and without starting new ones once
// its context is done. The CLI's 'api tenant create' with several ids and
// the admin API's batch route share it.
package bulk

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/pgtenant/pgtenant/tenant"
)

// ErrNotStarted is the error of an id that Run did not start because its
// context was done first.
var ErrNotStarted = errors.New("bulk: not started")

// Result is the outcome for one tenant id.
type Result struct {
	ID  string
	Err error // nil on success; wraps tenant.ErrInvalidID or ErrNotStarted where they apply
	// Duration is how long the operation ran; zero for an id it never ran
	// for.
	Duration time.Duration
}

// Options pace a Run.
type Options struct {
	// Concurrency is how many ids are worked on at once; less than one
	// means one.
	Concurrency int

	// Done, if not nil, is called once per id with its Result, as soon as
	// the id is settled, never concurrently; invalid ids first. The worker
	// that ran the id starts no other until Done returns, so a Done that
	// cancels Run's context keeps every id not yet started from starting.
	Done func(Result)
}

// Unique returns ids without repetitions, each at its first position.
func Unique(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// Run calls do once for each distinct id of ids, at most opts.Concurrency at
// once, and returns one Result per distinct id, in the order of ids. An id
// that tenant.ValidateID refuses is never passed to do: its Result has that
// error. A failing id does not stop the others. Once ctx is done Run starts
// no more ids (their Results have ErrNotStarted) and returns when the ones
// running have returned; do receives ctx, so a caller that wants those to
// finish their work passes a context that outlives the cancellation.
func Run(ctx context.Context, ids []string, do func(context.Context, string) error, opts Options) []Result {
	ids = Unique(ids)
	results := make([]Result, len(ids))
	var mu sync.Mutex // serializes opts.Done
	settle := func(i int, r Result) {
		results[i] = r
		if opts.Done != nil {
			mu.Lock()
			defer mu.Unlock()
			opts.Done(r)
		}
	}
	var valid []int
	for i, id := range ids {
		if err := tenant.ValidateID(id); err != nil {
			settle(i, Result{ID: id, Err: err})
			continue
		}
		valid = append(valid, i)
	}
	runOne := func(i int) Result {
		if ctx.Err() != nil {
			return Result{ID: ids[i], Err: ErrNotStarted}
		}
		start := time.Now()
		err := do(ctx, ids[i])
		return Result{ID: ids[i], Err: err, Duration: time.Since(start)}
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(max(opts.Concurrency, 1), len(valid)) {
		wg.Go(func() {
			for i := range jobs {
				settle(i, runOne(i))
			}
		})
	}
	for _, i := range valid {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return results
}
