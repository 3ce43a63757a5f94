package bulk

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pgtenant/pgtenant/tenant"
)

func TestRunEachDistinctValidIDOnce(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := map[string]int{}
	var running, most atomic.Int32
	boom := errors.New("boom")
	do := func(_ context.Context, id string) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		mu.Lock()
		calls[id]++
		mu.Unlock()
		if id == "bad" {
			return boom
		}
		return nil
	}
	ids := []string{"a", "b", "Hostile;DROP", "a", "bad", "c", "d", "e", "b"}
	var done []string
	rs := Run(t.Context(), ids, do, Options{Concurrency: 2, Done: func(r Result) { done = append(done, r.ID) }})
	want := []string{"a", "b", "Hostile;DROP", "bad", "c", "d", "e"}
	if got := idsOf(rs); !slices.Equal(got, want) {
		t.Errorf("Run results for %v; want %v", got, want)
	}
	slices.Sort(done)
	if sorted := slices.Sorted(slices.Values(want)); !slices.Equal(done, sorted) {
		t.Errorf("Done called for %v; want each of %v once", done, sorted)
	}
	for _, r := range rs {
		switch r.ID {
		case "Hostile;DROP":
			if !errors.Is(r.Err, tenant.ErrInvalidID) || calls[r.ID] != 0 {
				t.Errorf("invalid id: err %v, %d calls; want ErrInvalidID and none", r.Err, calls[r.ID])
			}
		case "bad":
			if !errors.Is(r.Err, boom) {
				t.Errorf("bad: err %v; want boom", r.Err)
			}
		default:
			if r.Err != nil || calls[r.ID] != 1 {
				t.Errorf("%s: err %v, %d calls; want nil and 1", r.ID, r.Err, calls[r.ID])
			}
		}
	}
	if most.Load() > 2 {
		t.Errorf("%d ids ran at once; want at most 2", most.Load())
	}
}

func idsOf(rs []Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// Once the context is done no id starts, and Run waits for the ones running.
func TestRunStopsStartingWhenCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	aStarted, aRelease := make(chan struct{}), make(chan struct{})
	var aFinished atomic.Bool
	do := func(_ context.Context, id string) error {
		switch id {
		case "a":
			close(aStarted)
			<-aRelease
			aFinished.Store(true)
		case "b":
			<-aStarted
			cancel()
			close(aRelease)
		}
		return nil
	}
	// "a" and "b" start at once (two workers); "b" cancels and lets "a"
	// go; "c" and "d" come after the cancellation.
	rs := Run(ctx, []string{"a", "b", "c", "d"}, do, Options{Concurrency: 2})
	if !aFinished.Load() || rs[0].Err != nil || rs[1].Err != nil {
		t.Errorf("running ids: %+v, a finished %v; want both done, without error", rs[:2], aFinished.Load())
	}
	for _, r := range rs[2:] {
		if !errors.Is(r.Err, ErrNotStarted) || r.Duration != 0 {
			t.Errorf("%s: %+v; want ErrNotStarted", r.ID, r)
		}
	}
}

// A Done that cancels the context keeps the next id of its worker from
// starting.
func TestRunDoneCancels(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var started []string
	do := func(_ context.Context, id string) error { started = append(started, id); return nil }
	rs := Run(ctx, []string{"a", "b", "c"}, do, Options{Concurrency: 1, Done: func(Result) { cancel() }})
	if !slices.Equal(started, []string{"a"}) || rs[0].Err != nil || !errors.Is(rs[1].Err, ErrNotStarted) || !errors.Is(rs[2].Err, ErrNotStarted) {
		t.Errorf("started %v, results %+v; want a alone", started, rs)
	}
}
