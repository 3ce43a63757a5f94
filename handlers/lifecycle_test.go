package handlers

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

func TestAdminSuspendResume(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		e.createUser(t, "alpha", "a@example.com", "A")
		admin := func(path, payload string, want int) tenantResponse {
			t.Helper()
			w := e.expect(t, req{method: "POST", path: path, token: testAdminToken, body: payload}, want)
			if want != http.StatusOK {
				return tenantResponse{}
			}
			return body[tenantResponse](t, w)
		}
		if got := admin("/admin/tenants/alpha/suspend", `{"reason":"unpaid"}`, http.StatusOK); got.Status != "suspended" {
			t.Errorf("suspend: status %q; want suspended", got.Status)
		}
		w := e.expect(t, req{method: "GET", path: "/users", tenant: "alpha"}, http.StatusForbidden)
		if got := body[errorBody](t, w); got.Error != "Tenant suspended" {
			t.Errorf("GET /users of a suspended tenant: error %q; want Tenant suspended", got.Error)
		}
		if resident(e.reg, "alpha") {
			t.Error("the suspended tenant still has a pool")
		}
		e.expect(t, req{method: "GET", path: "/users", tenant: "beta"}, http.StatusOK)
		// Without a body, twice: suspending a suspended tenant is fine.
		admin("/admin/tenants/alpha/suspend", "", http.StatusOK)
		admin("/admin/tenants/alpha/suspend", `{"reason":"x","other":1}`, http.StatusBadRequest)
		admin("/admin/tenants/nobody/suspend", "", http.StatusNotFound)
		admin("/admin/tenants/Bad;id/suspend", "", http.StatusBadRequest)
		e.expect(t, req{method: "POST", path: "/admin/tenants/alpha/suspend"}, http.StatusUnauthorized)

		if got := admin("/admin/tenants/alpha/resume", "", http.StatusOK); got.Status != "active" {
			t.Errorf("resume: status %q; want active", got.Status)
		}
		users := body[[]userResponse](t, e.expect(t, req{method: "GET", path: "/users", tenant: "alpha"}, http.StatusOK))
		if len(users) != 1 {
			t.Errorf("users after resume = %d; want 1 (data kept)", len(users))
		}
		admin("/admin/tenants/nobody/resume", "", http.StatusNotFound)
	}, withAdmin)
}

// TestSuspendUnderLoad suspends a tenant, from another Migrator as another
// process would, while clients keep requesting it: once this process's
// registry has seen the directory notification (its pool is evicted), no
// request that starts afterwards succeeds, and every one is answered 403.
// It logs how long the notification and the last success took.
func TestSuspendUnderLoad(t *testing.T) {
	t.Parallel()
	seen := make(chan struct{})
	var seenAt atomic.Int64
	var once sync.Once
	hook := func(_ *Options, to *tenant.Options) {
		to.Hooks.OnClientEvicted = func(id string, _ tenant.EvictReason) {
			if id == "alpha" {
				once.Do(func() { seenAt.Store(time.Now().UnixNano()); close(seen) })
			}
		}
	}
	e := newTestEnv(t, tenant.SearchPath, withAdmin, hook)
	e.createUser(t, "alpha", "a@example.com", "A")
	other := migrate.New(e.db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})

	const workers = 8
	var (
		warm      sync.WaitGroup
		wg        sync.WaitGroup
		violation atomic.Int64
		lastOK    atomic.Int64 // unix nanos of the end of the last 200
		first403  atomic.Int64
	)
	warm.Add(workers)
	for range workers {
		wg.Go(func() {
			warmed := false
			refused := 0
			for refused < 20 && t.Context().Err() == nil {
				var after bool
				select {
				case <-seen:
					after = true
				default:
				}
				w := serve(e.h, newRequest(t, req{method: "GET", path: "/users", tenant: "alpha"}))
				switch w.Code {
				case http.StatusOK:
					lastOK.Store(time.Now().UnixNano())
					if after {
						violation.Add(1)
					}
					if !warmed {
						warmed = true
						warm.Done()
					}
				case http.StatusForbidden:
					first403.CompareAndSwap(0, time.Now().UnixNano())
					refused++
				default:
					t.Errorf("GET /users status %d; body %s", w.Code, w.Body)
					return
				}
			}
		})
	}
	warm.Wait()
	start := time.Now()
	if _, err := other.SuspendTenant(t.Context(), "alpha", "load test"); err != nil {
		t.Fatal(err)
	}
	committed := time.Since(start)
	wg.Wait()
	if n := violation.Load(); n > 0 {
		t.Errorf("%d requests started after the notification was seen and succeeded", n)
	}
	if first403.Load() == 0 {
		t.Fatal("no request was refused")
	}
	since := func(ns int64) time.Duration { return time.Unix(0, ns).Sub(start) }
	t.Logf("suspend committed after %v; notification seen after %v; last success ended %v, first 403 %v after the suspend began",
		committed, since(seenAt.Load()), since(lastOK.Load()), since(first403.Load()))
}
