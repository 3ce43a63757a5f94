package handlers

import (
	"net/http"
	"strings"
	"testing"
)

func TestPlans(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		if w := e.expect(t, req{method: "GET", path: "/plans"}, http.StatusOK); strings.TrimSpace(w.Body.String()) != "[]" {
			t.Fatalf("GET /plans on a new database = %s; want []", w.Body)
		}
		w := e.expect(t, req{method: "POST", path: "/admin/plans", token: testAdminToken, body: `{"name":"pro","maxUsers":"100","price":"9.99"}`}, http.StatusCreated)
		p := body[planResponse](t, w)
		if p.Name != "pro" || p.MaxUsers == nil || *p.MaxUsers != "100" || p.Price == nil || *p.Price != "9.99" {
			t.Errorf("createPlan = %+v", p)
		}
		raw := body[map[string]any](t, w)
		for _, k := range []string{"id", "name", "maxUsers", "price"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("plan JSON %s lacks %q", w.Body, k)
			}
		}
		path := "/plans/" + p.ID.String()
		// Plans are readable without a tenant, and with one.
		e.expect(t, req{method: "GET", path: path}, http.StatusOK)
		e.expect(t, req{method: "GET", path: path, tenant: "alpha"}, http.StatusOK)
		list := body[[]planResponse](t, e.expect(t, req{method: "GET", path: "/plans"}, http.StatusOK))
		if len(list) != 1 || list[0].ID != p.ID {
			t.Errorf("GET /plans = %+v; want [pro]", list)
		}
		upd := body[planResponse](t, e.expect(t, req{method: "PUT", path: "/admin/plans/" + p.ID.String(), token: testAdminToken, body: `{"price":"19.99"}`}, http.StatusOK))
		if upd.Name != "pro" || *upd.Price != "19.99" || *upd.MaxUsers != "100" {
			t.Errorf("updatePlan(price) = %+v", upd)
		}
		e.expect(t, req{method: "POST", path: "/admin/plans", token: testAdminToken, body: `{"name":""}`}, http.StatusUnprocessableEntity)

		// A plan in use by a tenant is not deleted.
		e.expect(t, req{method: "POST", path: "/admin/tenants", token: testAdminToken, body: `{"id":"gamma","plan":"pro"}`}, http.StatusCreated)
		e.expect(t, req{method: "DELETE", path: "/admin/plans/" + p.ID.String(), token: testAdminToken}, http.StatusConflict)
		e.expect(t, req{method: "DELETE", path: "/admin/tenants/gamma", token: testAdminToken}, http.StatusNoContent)
		e.expect(t, req{method: "DELETE", path: "/admin/plans/" + p.ID.String(), token: testAdminToken}, http.StatusNoContent)
		if got := body[errorBody](t, e.expect(t, req{method: "GET", path: path}, http.StatusNotFound)); got.Error != "Plan not found" {
			t.Errorf("getPlan after delete: error = %q; want Plan not found", got.Error)
		}
		e.expect(t, req{method: "GET", path: "/plans/nope"}, http.StatusBadRequest)
		e.expect(t, req{method: "DELETE", path: "/admin/plans/" + p.ID.String(), token: testAdminToken}, http.StatusNotFound)
	}, withAdmin)
}
