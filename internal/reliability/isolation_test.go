package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// isolationTally counts what the isolation stress saw.
type isolationTally struct {
	requests, lists, creates, gets, probes, churned atomic.Int64
	rows                                            atomic.Int64 // user rows checked against their tenant
	crossTenant                                     atomic.Int64 // rows or users of another tenant
	serverErrors                                    atomic.Int64 // 5xx answers
	closedDB                                        atomic.Int64 // bodies mentioning a closed database
	unexpected                                      atomic.Int64 // any other wrong status or transport error

	mu     sync.Mutex
	first  []string
	writes map[string][]string // tenant → ids of users acknowledged with 201
}

func (ta *isolationTally) fail(format string, args ...any) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	if len(ta.first) < 10 {
		ta.first = append(ta.first, fmt.Sprintf(format, args...))
	}
}

// check records resp against the status want, counting 5xx and closed
// databases; it reports whether the status was the wanted one.
func (ta *isolationTally) check(op, id string, resp response, err error, want int) bool {
	ta.requests.Add(1)
	switch {
	case err != nil:
		ta.unexpected.Add(1)
		ta.fail("%s %s: %v", op, id, err)
		return false
	case strings.Contains(string(resp.body), "database is closed"):
		ta.closedDB.Add(1)
	}
	if resp.status >= 500 {
		ta.serverErrors.Add(1)
		ta.fail("%s %s: status %d body %s", op, id, resp.status, resp.body)
		return false
	}
	if resp.status != want {
		ta.unexpected.Add(1)
		ta.fail("%s %s: status %d; want %d; body %s", op, id, resp.status, want, resp.body)
		return false
	}
	return true
}

// TestIsolationUnderChurn is the isolation stress of issue 7, in both
// isolation modes: 200 tenants with marker users, an LRU ten times smaller,
// 16 concurrent HTTP clients mixing lists, writes, reads and cross-tenant
// probes while another client provisions and drops tenants. Every response is
// checked against its tenant.
func TestIsolationUnderChurn(t *testing.T) {
	const (
		tenants = 200
		markers = 5
	)
	// Both modes serve the same 200 tenants: provisioning them is the
	// expensive part of the setup.
	d := newDatabase(t)
	ids := make([]string, tenants)
	for i := range ids {
		ids[i] = fmt.Sprintf("iso%03d", i)
	}
	start := time.Now()
	d.provision(t.Context(), t, markers, ids...)
	t.Logf("provisioned %d tenants with %d marker users each in %v", tenants, markers, time.Since(start).Round(time.Millisecond))
	for _, mode := range []tenant.Mode{tenant.SearchPath, tenant.Qualified} {
		t.Run(mode.String(), func(t *testing.T) { testIsolation(t, d, ids, mode) })
	}
}

func testIsolation(t *testing.T, d *database, ids []string, mode tenant.Mode) {
	const (
		maxPools = 20
		clients  = 16
		requests = 2000
		budget   = 60 * time.Second // a cap for a very slow machine, not a goal
	)
	ctx := t.Context()
	s := newServer(t, tenanttest.URL(d.cfg), tenant.Options{Mode: mode, MaxClients: maxPools})
	c := s.srv.Client()
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = clients + 2

	ta := &isolationTally{writes: map[string][]string{}}
	var next atomic.Int64
	deadline := time.Now().Add(budget)
	loadCtx, cancel := context.WithDeadline(ctx, deadline.Add(30*time.Second))
	defer cancel()

	start := time.Now()
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for n := next.Add(1); n <= requests && time.Now().Before(deadline); n = next.Add(1) {
				isolationStep(loadCtx, ta, c, s.srv.URL, ids, rng, fmt.Sprintf("m%d-w%d-%d", mode, w, n))
			}
		})
	}
	stopChurn := make(chan struct{})
	var churnWG sync.WaitGroup
	churnWG.Go(func() { churn(loadCtx, ta, d, c, s.srv.URL, "churn_"+mode.String(), stopChurn) })
	wg.Wait()
	close(stopChurn)
	churnWG.Wait()
	elapsed := time.Since(start)

	// Every acknowledged write is in its own tenant's schema, once.
	ta.mu.Lock()
	acked, missing := 0, 0
	for id, users := range ta.writes {
		schema, err := tenant.Namer(nil).Schema(id)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		q := fmt.Sprintf(`SELECT count(*) FROM %s.users WHERE id = ANY($1::uuid[])`, pq.QuoteIdentifier(schema))
		if err := d.db.QueryRowContext(ctx, q, pq.Array(users)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		acked += len(users)
		missing += len(users) - n
	}
	first := ta.first
	ta.mu.Unlock()

	st := s.reg.Stats()
	logErrors, logClosed, logFirst := s.log.counts()
	total := ta.requests.Load()
	t.Logf("mode=%s: %d requests by %d clients in %v (%.0f req/s): %d lists, %d creates, %d gets, %d cross-tenant probes, %d tenants provisioned+dropped",
		mode, total, clients, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(),
		ta.lists.Load(), ta.creates.Load(), ta.gets.Load(), ta.probes.Load(), ta.churned.Load())
	t.Logf("mode=%s: %d rows checked, %d cross-tenant, %d 5xx, %d 'database is closed' bodies, %d log lines, %d other failures; %d writes acknowledged, %d missing",
		mode, ta.rows.Load(), ta.crossTenant.Load(), ta.serverErrors.Load(), ta.closedDB.Load()+int64(logClosed), logErrors, ta.unexpected.Load(), acked, missing)
	t.Logf("mode=%s: registry pools=%d/%d hits=%d misses=%d evictions=%v conns=%d/%d waits=%d",
		mode, st.Clients, st.MaxClients, st.Hits, st.Misses, st.Evictions, st.Conns, st.MaxConns, st.ConnWaits)
	for _, f := range first {
		t.Log("first failures:", f)
	}
	for _, f := range logFirst {
		t.Log("log:", f)
	}

	if ta.crossTenant.Load() != 0 {
		t.Errorf("%d responses carried another tenant's data; want 0", ta.crossTenant.Load())
	}
	if ta.serverErrors.Load() != 0 {
		t.Errorf("%d responses were 5xx; want 0", ta.serverErrors.Load())
	}
	if n := ta.closedDB.Load() + int64(logClosed); n != 0 {
		t.Errorf("%d 'database is closed' errors; want 0", n)
	}
	if logErrors != 0 {
		t.Errorf("%d error log lines; want 0", logErrors)
	}
	if ta.unexpected.Load() != 0 {
		t.Errorf("%d requests had an unexpected status or failed; want 0", ta.unexpected.Load())
	}
	if missing != 0 {
		t.Errorf("%d of %d acknowledged writes are missing from their tenant", missing, acked)
	}
	if total < 1000 {
		t.Errorf("only %d of %d requests ran within %v; want at least 1000", total, requests, budget)
	}
	if st.Clients > maxPools {
		t.Errorf("registry holds %d pools; MaxPools is %d", st.Clients, maxPools)
	}
}

// isolationStep sends one request of the mix; key makes a written email unique.
func isolationStep(ctx context.Context, ta *isolationTally, c *http.Client, base string, ids []string, rng *rand.Rand, key string) {
	id := ids[rng.IntN(len(ids))]
	switch r := rng.IntN(100); {
	case r < 45:
		ta.list(ctx, c, base, id)
	case r < 75: // create
		ta.creates.Add(1)
		email := key + "@" + id + ".test"
		resp, err := do(ctx, c, http.MethodPost, base+"/users", id, map[string]string{"email": email, "name": "Writer"})
		if !ta.check("create", id, resp, err, http.StatusCreated) {
			return
		}
		var u user
		if err := json.Unmarshal(resp.body, &u); err != nil || u.Email != email {
			ta.crossTenant.Add(1)
			ta.fail("create %s: got %s (%v); want %s", id, resp.body, err, email)
			return
		}
		ta.mu.Lock()
		ta.writes[id] = append(ta.writes[id], u.ID)
		ta.mu.Unlock()
	default: // read back a write, from its tenant (200) or from another (404)
		ta.mu.Lock()
		owner, uid := "", ""
		if users := ta.writes[id]; len(users) > 0 {
			owner, uid = id, users[rng.IntN(len(users))]
		}
		ta.mu.Unlock()
		if uid == "" {
			ta.list(ctx, c, base, id)
			return
		}
		if r < 88 {
			ta.gets.Add(1)
			resp, err := do(ctx, c, http.MethodGet, base+"/users/"+uid, owner, nil)
			if !ta.check("get", owner, resp, err, http.StatusOK) {
				return
			}
			var u user
			if err := json.Unmarshal(resp.body, &u); err != nil || markerOf(u.Email) != owner || u.ID != uid {
				ta.crossTenant.Add(1)
				ta.fail("get %s/%s: got %s", owner, uid, resp.body)
			}
			ta.rows.Add(1)
			return
		}
		ta.probes.Add(1)
		other := ids[rng.IntN(len(ids))]
		if other == owner {
			return
		}
		resp, err := do(ctx, c, http.MethodGet, base+"/users/"+uid, other, nil)
		if err == nil && resp.status == http.StatusOK {
			ta.requests.Add(1)
			ta.crossTenant.Add(1)
			ta.fail("probe: tenant %s read user %s of tenant %s: %s", other, uid, owner, resp.body)
			return
		}
		ta.check("probe", other, resp, err, http.StatusNotFound)
	}
}

// list lists tenant id's users and checks that every row is the tenant's.
func (ta *isolationTally) list(ctx context.Context, c *http.Client, base, id string) {
	ta.lists.Add(1)
	resp, err := do(ctx, c, http.MethodGet, base+"/users", id, nil)
	if !ta.check("list", id, resp, err, http.StatusOK) {
		return
	}
	var users []user
	if err := json.Unmarshal(resp.body, &users); err != nil {
		ta.unexpected.Add(1)
		ta.fail("list %s: %v", id, err)
		return
	}
	if len(users) == 0 {
		ta.unexpected.Add(1)
		ta.fail("list %s: no users; want at least the markers", id)
	}
	for _, u := range users {
		ta.rows.Add(1)
		if markerOf(u.Email) != id {
			ta.crossTenant.Add(1)
			ta.fail("list %s: row %s belongs to %s", id, u.Email, markerOf(u.Email))
		}
	}
}

// churn provisions a tenant, uses it, drops it and checks that it is no
// longer served, over and over until stop is closed.
func churn(ctx context.Context, ta *isolationTally, d *database, c *http.Client, base, prefix string, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		id := fmt.Sprintf("%s_%03d", prefix, i)
		if err := d.create(ctx, id, 3); err != nil {
			ta.unexpected.Add(1)
			ta.fail("churn: %v", err)
			return
		}
		resp, err := do(ctx, c, http.MethodGet, base+"/users", id, nil)
		if ta.check("churn list", id, resp, err, http.StatusOK) {
			var users []user
			if err := json.Unmarshal(resp.body, &users); err != nil || len(users) != 3 {
				ta.unexpected.Add(1)
				ta.fail("churn list %s: got %s; want its 3 markers", id, resp.body)
			}
			for _, u := range users {
				ta.rows.Add(1)
				if markerOf(u.Email) != id {
					ta.crossTenant.Add(1)
					ta.fail("churn list %s: row %s", id, u.Email)
				}
			}
		}
		if err := d.drop(ctx, id); err != nil {
			ta.unexpected.Add(1)
			ta.fail("churn: %v", err)
			return
		}
		// The drop is announced to the registry asynchronously; the tenant
		// must be refused (404) soon, and never answered with a 5xx.
		gone := false
		for limit := time.Now().Add(5 * time.Second); !gone && time.Now().Before(limit); {
			resp, err := do(ctx, c, http.MethodGet, base+"/users", id, nil)
			ta.requests.Add(1)
			switch {
			case err != nil:
				ta.unexpected.Add(1)
				ta.fail("churn after drop %s: %v", id, err)
				return
			case resp.status >= 500:
				ta.serverErrors.Add(1)
				ta.fail("churn after drop %s: status %d body %s", id, resp.status, resp.body)
			case resp.status == http.StatusNotFound:
				gone = true
			case resp.status == http.StatusOK:
				ta.unexpected.Add(1)
				ta.fail("churn after drop %s: still served: %s", id, resp.body)
				return
			}
		}
		if !gone {
			ta.unexpected.Add(1)
			ta.fail("churn: dropped tenant %s still not refused after 5s", id)
		}
		ta.churned.Add(1)
	}
}
