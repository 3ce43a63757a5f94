package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pgtenant/pgtenant/tenant"
)

// batchBody is the JSON of POST /admin/tenants/batch for ids.
func batchBody(t *testing.T, plan string, ids ...string) string {
	t.Helper()
	b, err := json.Marshal(createTenantsRequest{IDs: ids, Plan: plan})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func batchReq(body string) req {
	return req{method: "POST", path: "/admin/tenants/batch", token: testAdminToken, body: body}
}

func TestAdminTenantsBatch(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		ctx := t.Context()
		// stuck was left provisioning by a create that failed midway.
		if _, err := e.db.ExecContext(ctx, "INSERT INTO public.tenants (id, schema_name, status) VALUES ('stuck', 'tenant_stuck', 'provisioning')"); err != nil {
			t.Fatal(err)
		}
		hostile := `x"; DROP SCHEMA public CASCADE; --`
		w := e.expect(t, batchReq(batchBody(t, "", "gamma", "delta", hostile, "gamma", "alpha", "stuck")), http.StatusMultiStatus)
		got := body[batchResponse](t, w)
		if want := (batchSummary{Total: 5, Created: 4, Failed: 1}); got.Summary != want {
			t.Errorf("summary = %+v; want %+v", got.Summary, want)
		}
		var ids []string
		for _, r := range got.Results {
			ids = append(ids, r.ID)
			switch {
			case r.ID == hostile:
				if r.Status != batchFailed || r.Code != http.StatusUnprocessableEntity || r.Fields["id"] == "" {
					t.Errorf("result of the hostile id = %+v; want failed, 422 naming the id", r)
				}
			case r.Status != batchCreated || r.Code != 0 || r.Error != "":
				t.Errorf("result of %s = %+v; want created", r.ID, r)
			}
		}
		if want := []string{"gamma", "delta", hostile, "alpha", "stuck"}; fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Errorf("results for %q; want %q (request order, each once)", ids, want)
		}
		for _, id := range []string{"gamma", "delta", "alpha", "stuck"} {
			e.expect(t, req{method: "GET", path: "/users", tenant: id}, http.StatusOK)
		}
		var public int
		if err := e.db.QueryRowContext(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = 'public'").Scan(&public); err != nil || public != 1 {
			t.Fatalf("public schema: %d, %v", public, err)
		}

		// All created: 200.
		got = body[batchResponse](t, e.expect(t, batchReq(batchBody(t, "", "gamma", "epsilon")), http.StatusOK))
		if got.Summary.Created != 2 || len(got.Results) != 2 {
			t.Errorf("all-good batch = %+v", got)
		}

		// A tenant named batch is still a tenant of the {id} routes.
		e.expect(t, req{method: "POST", path: "/admin/tenants", token: testAdminToken, body: `{"id":"batch"}`}, http.StatusCreated)
		e.expect(t, req{method: "POST", path: "/admin/tenants/batch/suspend", token: testAdminToken}, http.StatusOK)
		e.expect(t, req{method: "DELETE", path: "/admin/tenants/batch", token: testAdminToken}, http.StatusNoContent)
	}, withAdmin)
}

// The limits and the mistakes of the request as a whole: nothing is
// created.
func TestAdminTenantsBatchRefused(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, tenant.SearchPath, withAdmin)
	many := make([]string, MaxBatchIDs+1)
	for i := range many {
		many[i] = fmt.Sprintf("Bad-%d", i)
	}
	for _, tt := range []struct {
		name, body string
		want       int
		field      string
	}{
		{"too many ids", batchBody(t, "", many...), http.StatusRequestEntityTooLarge, ""},
		{"no ids", `{"ids":[]}`, http.StatusUnprocessableEntity, "ids"},
		{"missing ids", `{"plan":"pro"}`, http.StatusUnprocessableEntity, "ids"},
		{"ids not a list", `{"ids":"gamma"}`, http.StatusBadRequest, ""},
		{"unknown field", `{"ids":["gamma"],"Ids":["delta"]}`, http.StatusBadRequest, ""},
		{"duplicate field", `{"ids":["gamma"],"ids":["delta"]}`, http.StatusBadRequest, ""},
		{"trailing data", `{"ids":["gamma"]} {}`, http.StatusBadRequest, ""},
		{"unknown plan", batchBody(t, "no-such-plan", "gamma", "delta"), http.StatusUnprocessableEntity, "plan"},
		{"NUL in plan", batchBody(t, "a\x00b", "gamma"), http.StatusUnprocessableEntity, "plan"},
	} {
		w := e.expect(t, batchReq(tt.body), tt.want)
		if got := body[errorBody](t, w); tt.field != "" && got.Fields[tt.field] == "" {
			t.Errorf("%s: body %+v; want fields.%s", tt.name, got, tt.field)
		}
	}
	// At the limit: answered, each id refused alone, before any SQL.
	got := body[batchResponse](t, e.expect(t, batchReq(batchBody(t, "", many[:MaxBatchIDs]...)), http.StatusMultiStatus))
	if got.Summary.Failed != MaxBatchIDs || got.Results[0].Code != http.StatusUnprocessableEntity {
		t.Errorf("batch of %d bad ids: summary %+v, first %+v", MaxBatchIDs, got.Summary, got.Results[0])
	}
	var n int
	if err := e.db.QueryRowContext(t.Context(), "SELECT count(*) FROM public.tenants WHERE id NOT IN ('alpha', 'beta')").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d tenants created by refused batches (%v); want none", n, err)
	}
}

// A request whose context has ended starts no tenant, and says so.
func TestAdminTenantsBatchNotStarted(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, tenant.SearchPath, withAdmin)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := newRequest(t, batchReq(batchBody(t, "", "gamma", "Bad")))
	w := serve(e.h, r.WithContext(ctx))
	if w.Code != http.StatusMultiStatus {
		t.Fatalf("status = %d; want 207; body %s", w.Code, w.Body)
	}
	got := body[batchResponse](t, w)
	if got.Summary != (batchSummary{Total: 2, Failed: 1, NotStarted: 1}) || got.Results[0].Status != batchNotStarted {
		t.Errorf("answer = %+v; want gamma not started, Bad failed", got)
	}
	if !strings.Contains(w.Body.String(), `"status":"notStarted"`) {
		t.Errorf("body %s", w.Body)
	}
	e.expect(t, req{method: "GET", path: "/users", tenant: "gamma"}, http.StatusNotFound)
}
