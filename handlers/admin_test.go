package handlers

import (
	"net/http"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

func TestAdminAuth(t *testing.T) {
	t.Parallel()
	enabled := newTestEnv(t, tenant.SearchPath, withAdmin)
	disabled := newTestEnv(t, tenant.SearchPath)
	routes := []req{
		{method: "POST", path: "/admin/plans", body: `{"name":"x"}`},
		{method: "PUT", path: "/admin/plans/3f2504e0-4f89-11d3-9a0c-0305e82c3301", body: `{}`},
		{method: "DELETE", path: "/admin/plans/3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
		{method: "GET", path: "/admin/tenants"},
		{method: "POST", path: "/admin/tenants", body: `{"id":"delta"}`},
		{method: "POST", path: "/admin/tenants/batch", body: `{"ids":["delta"]}`},
		{method: "DELETE", path: "/admin/tenants/alpha"},
	}
	for _, rq := range routes {
		for _, tt := range []struct {
			name string
			e    *testEnv
			auth string
			want int
		}{
			{"disabled, no token", disabled, "", http.StatusNotFound},
			{"disabled, some token", disabled, "Bearer " + testAdminToken, http.StatusNotFound},
			{"missing token", enabled, "", http.StatusUnauthorized},
			{"wrong token", enabled, "Bearer wrong", http.StatusUnauthorized},
			{"token prefix", enabled, "Bearer " + testAdminToken[:4], http.StatusUnauthorized},
			{"basic scheme", enabled, "Basic " + testAdminToken, http.StatusUnauthorized},
			{"bare token", enabled, testAdminToken, http.StatusUnauthorized},
		} {
			r := newRequest(t, rq)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := serve(tt.e.h, r)
			if w.Code != tt.want {
				t.Errorf("%s %s (%s) status = %d; want %d", rq.method, rq.path, tt.name, w.Code, tt.want)
			}
			if w.Code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s (%s): 401 without WWW-Authenticate", rq.method, rq.path, tt.name)
			}
		}
	}
	// Nothing above changed state: alpha is still served.
	enabled.expect(t, req{method: "GET", path: "/users", tenant: "alpha"}, http.StatusOK)
	// The pools route names tenants: it is an admin route.
	disabled.expect(t, req{method: "GET", path: "/admin/pools"}, http.StatusNotFound)
	enabled.expect(t, req{method: "GET", path: "/admin/pools"}, http.StatusUnauthorized)
	enabled.expect(t, req{method: "GET", path: "/admin/pools", token: testAdminToken}, http.StatusOK)
	// With the right token the same route works.
	enabled.expect(t, req{method: "GET", path: "/admin/tenants", token: testAdminToken}, http.StatusOK)
}

func TestAdminTenants(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		w := e.expect(t, req{method: "POST", path: "/admin/tenants", token: testAdminToken, body: `{"id":"gamma"}`}, http.StatusCreated)
		got := body[tenantResponse](t, w)
		if got.ID != "gamma" || got.SchemaName != "tenant_gamma" || got.Status != "active" || got.PlanID != nil {
			t.Errorf("createTenant = %+v", got)
		}
		// Idempotent.
		e.expect(t, req{method: "POST", path: "/admin/tenants", token: testAdminToken, body: `{"id":"gamma"}`}, http.StatusCreated)
		e.createUser(t, "gamma", "g@example.com", "G")
		list := body[[]tenantResponse](t, e.expect(t, req{method: "GET", path: "/admin/tenants", token: testAdminToken}, http.StatusOK))
		ids := map[string]bool{}
		for _, tr := range list {
			ids[tr.ID] = true
		}
		if len(list) != 3 || !ids["alpha"] || !ids["beta"] || !ids["gamma"] {
			t.Errorf("listTenants = %+v; want alpha, beta, gamma", list)
		}
		if !resident(e.reg, "gamma") {
			t.Fatalf("gamma has no pool after a request")
		}
		e.expect(t, req{method: "DELETE", path: "/admin/tenants/gamma", token: testAdminToken}, http.StatusNoContent)
		if resident(e.reg, "gamma") {
			t.Errorf("gamma still has a pool after DELETE /admin/tenants/gamma")
		}
		e.expect(t, req{method: "GET", path: "/users", tenant: "gamma"}, http.StatusNotFound)
		e.expect(t, req{method: "DELETE", path: "/admin/tenants/gamma", token: testAdminToken}, http.StatusNotFound)
		e.expect(t, req{method: "DELETE", path: "/admin/tenants/Bad;id", token: testAdminToken}, http.StatusBadRequest)

		for _, tt := range []struct{ body, field string }{
			{`{"id":"Bad Id"}`, "id"},
			{`{"id":""}`, "id"},
			{`{"id":"delta","plan":"no-such-plan"}`, "plan"},
		} {
			got := body[errorBody](t, e.expect(t, req{method: "POST", path: "/admin/tenants", token: testAdminToken, body: tt.body}, http.StatusUnprocessableEntity))
			if got.Fields[tt.field] == "" {
				t.Errorf("createTenant(%s): fields = %v; want %s", tt.body, got.Fields, tt.field)
			}
		}
		e.expect(t, req{method: "GET", path: "/users", tenant: "delta"}, http.StatusNotFound)
	}, withAdmin)
}

// TestCreateTenantBeingDropped: POST /admin/tenants for a tenant whose drop
// is under way answers 409 with a message saying so, and changes nothing;
// once the drop has finished the tenant can be created again.
func TestCreateTenantBeingDropped(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		ctx := t.Context()
		e.expect(t, req{method: "POST", path: "/admin/tenants", token: testAdminToken, body: `{"id":"gamma"}`}, http.StatusCreated)

		// Hold the drop between marking the row dropping and dropping the
		// schema: DROP SCHEMA waits for this transaction's table lock.
		lock, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Rollback()
		if _, err := lock.ExecContext(ctx, "LOCK TABLE tenant_gamma.users IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		l := pq.NewListener(tenanttest.URL(e.cfg), time.Second, time.Second, nil)
		defer l.Close()
		if err := l.Listen(tenant.DirectoryChannel); err != nil {
			t.Fatal(err)
		}
		dropped := make(chan int, 1)
		go func() {
			dropped <- e.do(t, req{method: "DELETE", path: "/admin/tenants/gamma", token: testAdminToken}).Code
		}()
		// The drop announces the dropping row once it is committed.
		select {
		case n := <-l.NotificationChannel():
			if n == nil || n.Extra != "gamma" {
				t.Fatalf("notification %+v; want gamma being dropped", n)
			}
		case <-ctx.Done():
			t.Fatal("no notification of the drop")
		}

		got := body[errorBody](t, e.expect(t, req{method: "POST", path: "/admin/tenants", token: testAdminToken, body: `{"id":"gamma"}`}, http.StatusConflict))
		if want := "Tenant is being dropped; finish the drop (DELETE /admin/tenants/{id}) before creating it again"; got.Error != want {
			t.Errorf("POST /admin/tenants for a tenant being dropped: error = %q; want %q", got.Error, want)
		}
		var status string
		if err := e.db.QueryRowContext(ctx, "SELECT status FROM public.tenants WHERE id = 'gamma'").Scan(&status); err != nil || status != "dropping" {
			t.Errorf("directory status after the refused create = %q, %v; want dropping", status, err)
		}
		e.expect(t, req{method: "GET", path: "/users", tenant: "gamma"}, http.StatusNotFound)

		if err := lock.Rollback(); err != nil {
			t.Fatal(err)
		}
		if code := <-dropped; code != http.StatusNoContent {
			t.Fatalf("DELETE /admin/tenants/gamma = %d; want 204", code)
		}
		e.expect(t, req{method: "POST", path: "/admin/tenants", token: testAdminToken, body: `{"id":"gamma"}`}, http.StatusCreated)
		e.expect(t, req{method: "GET", path: "/users", tenant: "gamma"}, http.StatusOK)
	}, withAdmin)
}
