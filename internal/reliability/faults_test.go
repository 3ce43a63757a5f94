package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/handlers"
	"github.com/pgtenant/pgtenant/internal/devdb"
	"github.com/pgtenant/pgtenant/tenant"
)

// ack is a write the API acknowledged with 201.
type ack struct{ tenant, id, email string }

// phase of the fault test.
const (
	phaseUp = iota
	phaseDown
	phaseRecovering
	phaseRecovered
	phases
)

// phaseNames name the phases by when a request started: "down" runs from
// the moment the cluster has stopped until its restart returns, so requests
// sent at its very end may be served.
var phaseNames = [phases]string{"before", "down", "recovering", "after"}

// faultTally counts answers per phase.
type faultTally struct {
	ok, unavailable, other [phases]atomic.Int64
	slowest                [phases]atomic.Int64 // nanoseconds

	mu    sync.Mutex
	acks  []ack
	first []string
}

func (ft *faultTally) record(phase int, resp response, err error, d time.Duration, what string) {
	if int64(d) > ft.slowest[phase].Load() {
		ft.slowest[phase].Store(int64(d))
	}
	switch {
	case err == nil && resp.status < 300:
		ft.ok[phase].Add(1)
	case err == nil && resp.status == http.StatusServiceUnavailable:
		ft.unavailable[phase].Add(1)
	default:
		ft.other[phase].Add(1)
		ft.mu.Lock()
		if len(ft.first) < 10 {
			ft.first = append(ft.first, fmt.Sprintf("%s %s: status %d err %v body %.200s", phaseNames[phase], what, resp.status, err, resp.body))
		}
		ft.mu.Unlock()
	}
}

// TestDatabaseRestart runs the API on a private PostgreSQL cluster of its
// own, loads it with reads and writes, stops the cluster mid-load and starts
// it again. While the database is down every request is answered 503 within
// the request deadline; afterwards the goroutine count returns to its
// baseline, the service recovers by itself within 2s of the restart, and
// every write acknowledged with 201 exists exactly once.
func TestDatabaseRestart(t *testing.T) {
	pg, err := devdb.Ensure(t.Context(), devdb.Options{Private: true, Dir: filepath.Join(t.TempDir(), "devdb")})
	if errors.Is(err, devdb.ErrNoBinaries) || errors.Is(err, devdb.ErrNoUser) {
		t.Skipf("no private PostgreSQL cluster: %v", err)
	}
	if err != nil {
		t.Fatalf("devdb.Ensure: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pg.Remove(ctx); err != nil {
			t.Errorf("remove private cluster: %v", err)
		}
	})
	for _, mode := range []tenant.Mode{tenant.SearchPath, tenant.Qualified} {
		t.Run(mode.String(), func(t *testing.T) { testRestart(t, pg, mode) })
	}
}

func testRestart(t *testing.T, pg *devdb.Server, mode tenant.Mode) {
	const (
		tenants         = 5
		clients         = 8
		requestDeadline = 2 * time.Second
		upFor           = 300 // acknowledged writes before the stop
		downFor         = 200 // answers while down
		afterFor        = 400 // answers after recovery
	)
	ctx := t.Context()
	name := "faults_" + mode.String()
	if err := pg.CreateDatabase(ctx, name); err != nil {
		t.Fatal(err)
	}
	url := pg.URL(name)
	cfg, err := pq.NewConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	d := openDatabase(t, cfg)
	d.migratePublic(ctx, t)
	ids := make([]string, tenants)
	for i := range ids {
		ids[i] = fmt.Sprintf("fault%d", i)
	}
	d.provision(ctx, t, 2, ids...)

	s := newServerWith(t, url, tenant.Options{Mode: mode, MaxClients: tenants}, handlers.Options{RequestTimeout: requestDeadline})
	c := s.srv.Client()
	c.Timeout = requestDeadline + 5*time.Second // a hang shows up as a client error
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = clients

	// Open every tenant's pool first, so that the baseline includes them.
	for _, id := range ids {
		if resp, err := do(ctx, c, http.MethodGet, s.srv.URL+"/users", id, nil); err != nil || resp.status != http.StatusOK {
			t.Fatalf("warm %s: %d %v", id, resp.status, err)
		}
	}
	c.CloseIdleConnections()
	baseline := runtime.NumGoroutine()
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()

	ft := &faultTally{}
	var phase atomic.Int32
	var counts [phases]atomic.Int64
	var acked atomic.Int64
	phaseDone := [phases]chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})}
	var closeOnce [phases]sync.Once
	var seq atomic.Int64
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()

	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			for loadCtx.Err() == nil {
				n := seq.Add(1)
				id := ids[int(n)%len(ids)]
				p := int(phase.Load())
				t0 := time.Now()
				var resp response
				var err error
				what := "GET /users"
				if n%2 == 0 {
					what = "POST /users"
					email := fmt.Sprintf("f%d-%d@%s.test", w, n, id)
					resp, err = do(ctx, c, http.MethodPost, s.srv.URL+"/users", id, map[string]string{"email": email, "name": "F"})
					if err == nil && resp.status == http.StatusCreated {
						var u user
						if jerr := json.Unmarshal(resp.body, &u); jerr == nil {
							ft.mu.Lock()
							ft.acks = append(ft.acks, ack{tenant: id, id: u.ID, email: email})
							ft.mu.Unlock()
							if p == phaseUp && acked.Add(1) == upFor {
								closeOnce[phaseUp].Do(func() { close(phaseDone[phaseUp]) })
							}
						}
					}
				} else {
					resp, err = do(ctx, c, http.MethodGet, s.srv.URL+"/users", id, nil)
				}
				lat := time.Since(t0)
				// A request that started in one phase and ended in another
				// belongs to the transition; judge it by where it started,
				// except that nothing may be a 5xx other than 503.
				ft.record(p, resp, err, lat, what)
				limits := [phases]int64{upFor * 4, downFor, 1 << 62, afterFor}
				if counts[p].Add(1) == limits[p] {
					closeOnce[p].Do(func() { close(phaseDone[p]) })
				}
			}
		})
	}

	wait := func(p int, within time.Duration) {
		t.Helper()
		select {
		case <-phaseDone[p]:
		case <-time.After(within):
			stopLoad()
			wg.Wait()
			t.Fatalf("phase %s did not complete within %v (ok=%d 503=%d other=%d)", phaseNames[p], within,
				ft.ok[p].Load(), ft.unavailable[p].Load(), ft.other[p].Load())
		}
	}
	wait(phaseUp, 60*time.Second)

	stopStart := time.Now()
	if err := pg.Stop(ctx); err != nil {
		t.Fatalf("stop cluster: %v", err)
	}
	t.Logf("cluster stopped in %v", time.Since(stopStart).Round(time.Millisecond))
	phase.Store(phaseDown)
	wait(phaseDown, 60*time.Second)

	startAt := time.Now()
	if err := pg.Start(ctx); err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	started := time.Now()
	phase.Store(phaseRecovering)
	// Recovered: a GET and a POST succeed for every tenant, in a row.
	var recovered time.Duration
	for {
		good := true
		for _, id := range ids {
			resp, err := do(ctx, c, http.MethodGet, s.srv.URL+"/users", id, nil)
			if err != nil || resp.status != http.StatusOK {
				good = false
				break
			}
		}
		if good {
			recovered = time.Since(started)
			break
		}
		if time.Since(started) > 10*time.Second {
			stopLoad()
			wg.Wait()
			t.Fatalf("service not recovered 10s after the database restarted")
		}
		<-poll.C
	}
	phase.Store(phaseRecovered)
	wait(phaseRecovered, 60*time.Second)
	stopLoad()
	wg.Wait()

	// Goroutines return to the baseline once the load is over.
	c.CloseIdleConnections()
	var goroutines int
	for limit := time.Now().Add(10 * time.Second); ; {
		goroutines = runtime.NumGoroutine()
		if goroutines <= baseline+2 || time.Now().After(limit) {
			break
		}
		<-poll.C
	}

	// Every acknowledged write exists exactly once.
	ft.mu.Lock()
	acks := ft.acks
	first := ft.first
	ft.mu.Unlock()
	lost, doubled := 0, 0
	for _, a := range acks {
		schema, err := tenant.Namer(nil).Schema(a.tenant)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		q := fmt.Sprintf(`SELECT count(*) FROM %s.users WHERE email = $1 AND id = $2`, pq.QuoteIdentifier(schema))
		if err := d.db.QueryRowContext(ctx, q, a.email, a.id).Scan(&n); err != nil {
			t.Fatalf("check write %s: %v", a.email, err)
		}
		switch {
		case n == 0:
			lost++
		case n > 1:
			doubled++
		}
	}

	t.Logf("mode=%s", mode)
	for p := range phases {
		t.Logf("%-10s ok=%d 503=%d other=%d slowest=%v", phaseNames[p], ft.ok[p].Load(), ft.unavailable[p].Load(), ft.other[p].Load(),
			time.Duration(ft.slowest[p].Load()).Round(time.Millisecond))
	}
	t.Logf("cluster restart took %v; service recovered %v after it was up; %d writes acknowledged, %d lost, %d duplicated; goroutines baseline=%d after=%d",
		started.Sub(startAt).Round(time.Millisecond), recovered.Round(time.Millisecond), len(acks), lost, doubled, baseline, goroutines)
	for _, f := range first {
		t.Log("failure:", f)
	}
	_, _, logFirst := s.log.counts()
	for _, f := range logFirst {
		t.Log("log:", f)
	}

	for p := range phases {
		if n := ft.other[p].Load(); n != 0 {
			t.Errorf("%s: %d answers were neither 2xx nor 503", phaseNames[p], n)
		}
	}
	if n := ft.unavailable[phaseRecovered].Load(); n != 0 {
		t.Errorf("after recovery: %d answers were 503; want all 2xx", n)
	}
	if n := ft.unavailable[phaseDown].Load(); n == 0 {
		t.Errorf("while down: no 503 answers")
	}
	if slow := time.Duration(ft.slowest[phaseDown].Load()); slow > requestDeadline+time.Second {
		t.Errorf("while down: slowest answer took %v; want within the %v request deadline", slow, requestDeadline)
	}
	if recovered > 2*time.Second {
		t.Errorf("service recovered %v after the database was up; want within 2s", recovered)
	}
	if lost != 0 || doubled != 0 {
		t.Errorf("%d acknowledged writes lost, %d duplicated; want 0 and 0", lost, doubled)
	}
	if goroutines > baseline+2 {
		t.Errorf("goroutines = %d after the load; baseline %d", goroutines, baseline)
	}
}
