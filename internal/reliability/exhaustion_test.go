package reliability

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/handlers"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// newLimitedRole creates a login role, with a random password, that
// PostgreSQL allows at most limit connections, with read and write access to every schema, and drops it when
// t ends (after the servers started later in t have stopped).
func newLimitedRole(t *testing.T, d *database, limit int) (role, password string) {
	t.Helper()
	b := make([]byte, 12)
	crand.Read(b)
	role, password = "reliability_"+hex.EncodeToString(b[:6]), hex.EncodeToString(b[6:])
	q := fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD %s CONNECTION LIMIT %d`, pq.QuoteIdentifier(role), pq.QuoteLiteral(password), limit)
	if _, err := d.db.ExecContext(t.Context(), q); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, role)
		if _, err := d.db.ExecContext(ctx, "DROP ROLE "+pq.QuoteIdentifier(role)); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	if _, err := d.db.ExecContext(t.Context(), fmt.Sprintf(`GRANT pg_read_all_data, pg_write_all_data TO %s`, pq.QuoteIdentifier(role))); err != nil {
		t.Fatal(err)
	}
	return role, password
}

// TestExhaustion runs 3× more concurrently active tenants than a role's
// CONNECTION LIMIT admits, through a registry whose connection budget fits
// under that limit: every request is served (2xx) or refused with 503 within
// the API's request deadline, none is a 500, and the role never holds more
// backends than the budget (sampled from pg_stat_activity throughout).
//
// The last case misconfigures the budget above the role's limit, so that
// PostgreSQL itself refuses connections (53300 too many connections): users
// must still get 503, never 500.
func TestExhaustion(t *testing.T) {
	const limit = 10 // the role's CONNECTION LIMIT
	tests := []struct {
		name     string
		mode     tenant.Mode
		maxConns int // the registry's budget
	}{
		{"search_path", tenant.SearchPath, limit - 2},
		{"qualified", tenant.Qualified, limit - 2},
		{"search_path budget over limit", tenant.SearchPath, 3 * limit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testExhaustion(t, tt.mode, limit, tt.maxConns) })
	}
}

func testExhaustion(t *testing.T, mode tenant.Mode, limit, maxConns int) {
	tenants := 3 * limit
	const (
		clients  = 24
		requests = 600
		deadline = time.Second      // the API's request deadline
		timeout  = 10 * time.Second // the client's, to catch a hang
	)
	ctx := t.Context()
	d := newDatabase(t)
	ids := make([]string, tenants)
	for i := range ids {
		ids[i] = fmt.Sprintf("ex%02d", i)
	}
	d.provision(ctx, t, 3, ids...)
	role, password := newLimitedRole(t, d, limit)
	cfg := d.cfg.Clone()
	cfg.User, cfg.Password = role, password

	s := newServerWith(t, tenanttest.URL(cfg), tenant.Options{Mode: mode, MaxClients: tenants, MaxConns: maxConns, MaxOpenConns: 2},
		handlers.Options{RequestTimeout: deadline})
	c := s.srv.Client()
	c.Timeout = timeout
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = clients

	// Sample the role's backends until the load is over.
	var peak, samples atomic.Int64
	sampleCtx, stopSampling := context.WithCancel(ctx)
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var n int64
			if err := d.db.QueryRowContext(sampleCtx, `SELECT count(*) FROM pg_stat_activity WHERE usename = $1`, role).Scan(&n); err == nil {
				samples.Add(1)
				if n > peak.Load() {
					peak.Store(n)
				}
			}
			select {
			case <-sampleCtx.Done():
				return
			case <-tick.C:
			}
		}
	})

	var ok, unavailable, bad atomic.Int64
	var mu sync.Mutex
	var latencies []time.Duration
	var first []string
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			for n := next.Add(1); n <= requests; n = next.Add(1) {
				id := ids[rng.IntN(len(ids))]
				t0 := time.Now()
				var resp response
				var err error
				if n%4 == 0 {
					resp, err = do(ctx, c, http.MethodPost, s.srv.URL+"/users", id, map[string]string{"email": fmt.Sprintf("x%d@%s.test", n, id), "name": "X"})
				} else {
					resp, err = do(ctx, c, http.MethodGet, s.srv.URL+"/users", id, nil)
				}
				lat := time.Since(t0)
				switch {
				case err == nil && resp.status >= 200 && resp.status < 300:
					ok.Add(1)
				case err == nil && resp.status == http.StatusServiceUnavailable:
					unavailable.Add(1)
				default:
					bad.Add(1)
					mu.Lock()
					if len(first) < 5 {
						first = append(first, fmt.Sprintf("%s: status %d err %v body %.200s", id, resp.status, err, resp.body))
					}
					mu.Unlock()
				}
				mu.Lock()
				latencies = append(latencies, lat)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopSampling()
	sampler.Wait()

	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		return latencies[int(p*float64(len(latencies)-1))].Round(time.Microsecond)
	}
	st := s.reg.Stats()
	t.Logf("mode=%s: %d requests over %d tenants by %d clients in %v, request deadline %v: %d ok, %d 503, %d other; latency p50=%v p99=%v max=%v",
		mode, len(latencies), tenants, clients, elapsed.Round(time.Millisecond), deadline, ok.Load(), unavailable.Load(), bad.Load(), pct(0.5), pct(0.99), pct(1))
	t.Logf("mode=%s: role connection limit %d, registry budget %d: peak %d backends over %d samples; registry conn waits %d",
		mode, limit, maxConns, peak.Load(), samples.Load(), st.ConnWaits)
	for _, f := range first {
		t.Log("failure:", f)
	}
	if bad.Load() != 0 {
		t.Errorf("%d requests were neither 2xx nor 503 within %v", bad.Load(), timeout)
	}
	if slowest := latencies[len(latencies)-1]; slowest > deadline+2*time.Second {
		t.Errorf("slowest answer took %v; the request deadline is %v", slowest, deadline)
	}
	if bound := min(maxConns, limit); peak.Load() > int64(bound) {
		t.Errorf("role held %d backends at peak; the budget is %d and the role's limit %d", peak.Load(), maxConns, limit)
	}
	if samples.Load() == 0 {
		t.Error("pg_stat_activity was never sampled")
	}
	if ok.Load() == 0 {
		t.Error("no request was served")
	}
}
