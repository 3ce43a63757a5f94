package handlers

import (
	"net/http"
	"testing"

	"github.com/pgtenant/pgtenant/tenant"
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
		if !e.reg.HasPool("gamma") {
			t.Fatalf("gamma has no pool after a request")
		}
		e.expect(t, req{method: "DELETE", path: "/admin/tenants/gamma", token: testAdminToken}, http.StatusNoContent)
		if e.reg.HasPool("gamma") {
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
