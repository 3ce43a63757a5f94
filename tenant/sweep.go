package tenant

import (
	"context"
	"time"
)

// sweep evicts, every Options.SweepInterval, the clients without a lease that
// were last used longer than Options.ClientTTL ago and expired negative
// directory answers; and closes, every half Options.ConnMaxIdleTime, the
// spare connections idle longer than ConnMaxIdleTime, so that a spare lives
// about as long as an idle connection in a pool.
func (reg *Registry[C]) sweep() {
	t := time.NewTicker(reg.opts.SweepInterval)
	defer t.Stop()
	var spares <-chan time.Time
	if reg.budget.recycles() {
		st := time.NewTicker(max(reg.opts.ConnMaxIdleTime/2, time.Second))
		defer st.Stop()
		spares = st.C
	}
	for {
		select {
		case <-reg.stop:
			return
		case now := <-t.C:
			reg.sweepOnce(now)
		case now := <-spares:
			reg.budget.closeSpares(now.Add(-reg.opts.ConnMaxIdleTime))
		}
	}
}

func (reg *Registry[C]) sweepOnce(now time.Time) {
	var evs []eviction[C]
	reg.mu.Lock()
	for _, id := range reg.lru.Keys() {
		e, _ := reg.lru.Peek(id)
		if reg.opts.ClientTTL > 0 && e.leases == 0 && now.Sub(e.lastUsed) > reg.opts.ClientTTL {
			if ev, ok := reg.removeLocked(id, EvictTTL); ok {
				evs = append(evs, ev)
			}
		}
	}
	for id, n := range reg.negative {
		if now.After(n.until) {
			delete(reg.negative, id)
		}
	}
	reg.mu.Unlock()
	reg.finish(context.Background(), evs)
}
