package handlers

import (
	"net/http"
	"testing"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// withRevision makes the registry refuse tenants behind this release's
// migrations, as api serve does.
func withRevision(t testing.TB) envOption {
	rev, err := migrate.LatestRevision(migrations.Tenant())
	if err != nil {
		t.Fatal(err)
	}
	return func(o *Options, to *tenant.Options) { to.Revision = rev }
}

// TestTenantBehindTheReleaseIs503: a request to a tenant whose schema is
// behind this release's migrations is answered 503 with a message, not 500;
// the failure's log line names the tenant; GET /ready counts the tenants
// behind; once migrated, the tenant is served.
func TestTenantBehindTheReleaseIs503(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		if _, err := e.db.ExecContext(t.Context(), "UPDATE public.tenants SET revision = '20000101000000_old' WHERE id = 'beta'"); err != nil {
			t.Fatal(err)
		}
		e.expect(t, req{method: "GET", path: "/users", tenant: "alpha"}, http.StatusOK)
		got := body[errorBody](t, e.expect(t, req{method: "GET", path: "/users", tenant: "beta"}, http.StatusServiceUnavailable))
		if want := "Tenant unavailable: its data is not migrated to this release yet"; got.Error != want {
			t.Errorf("GET /users of a tenant behind: error %q; want %q", got.Error, want)
		}
		failed := e.logs.records(t, "request failed")
		if len(failed) != 1 || failed[0]["tenant"] != "beta" || failed[0]["status"] != 503.0 {
			t.Errorf("request failed log lines = %v; want one for tenant beta, status 503", failed)
		}
		ready := body[readyResponse](t, e.expect(t, req{method: "GET", path: "/ready"}, http.StatusOK))
		if ready.TenantsBehind == nil || *ready.TenantsBehind != 1 || ready.Revision == "" || len(ready.PublicPending) != 0 {
			t.Errorf("GET /ready = %+v; want 1 tenant behind, the revision, public up to date", ready)
		}
		if _, err := e.api.opts.Migrator.MigrateTenant(t.Context(), "beta"); err != nil {
			t.Fatal(err)
		}
		e.expect(t, req{method: "GET", path: "/users", tenant: "beta"}, http.StatusOK)
		ready = body[readyResponse](t, e.expect(t, req{method: "GET", path: "/ready"}, http.StatusOK))
		if ready.TenantsBehind == nil || *ready.TenantsBehind != 0 {
			t.Errorf("GET /ready after migrating = %+v; want 0 tenants behind", ready)
		}
	}, withAdmin, withRevision(t))
}
