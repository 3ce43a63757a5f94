package tenant_test

import (
	"errors"
	"testing"

	"github.com/pgtenant/pgtenant/tenant"
)

// TestRegistryRefusesATenantBehindTheRevision: with Options.Revision, a
// tenant whose directory row records an older revision (or none) is refused
// with ErrSchemaBehind, which is an ErrUnavailable, instead of being served
// by a client whose queries would fail; once its row records the revision,
// its next Acquire is served, without a restart.
func TestRegistryRefusesATenantBehindTheRevision(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode tenant.Mode) {
		f := newFixture(t, "current", "behind", "never")
		ctx := t.Context()
		for id, rev := range map[string]any{"current": "20270101000000_b", "behind": "20270101000000_a", "never": nil} {
			if _, err := f.admin.ExecContext(ctx, "UPDATE public.tenants SET revision = $2 WHERE id = $1", id, rev); err != nil {
				t.Fatal(err)
			}
		}
		reg := f.newRegistry(t, tenant.Options{Mode: mode, Revision: "20270101000000_b"})
		_, release := acquire(t, reg, "current")
		release()
		for _, id := range []string{"behind", "never"} {
			_, _, err := reg.Acquire(ctx, id)
			if !errors.Is(err, tenant.ErrSchemaBehind) || !errors.Is(err, tenant.ErrUnavailable) {
				t.Errorf("Acquire(%s) = %v; want ErrSchemaBehind, an ErrUnavailable", id, err)
			}
			if resident(reg, id) {
				t.Errorf("a pool was opened for %s, which is behind", id)
			}
		}
		if _, err := f.admin.ExecContext(ctx, "UPDATE public.tenants SET revision = '20270101000000_b' WHERE id = 'behind'"); err != nil {
			t.Fatal(err)
		}
		_, release = acquire(t, reg, "behind")
		release()

		// Without Options.Revision every active tenant is served.
		reg = f.newRegistry(t, tenant.Options{Mode: mode})
		_, release = acquire(t, reg, "never")
		release()
	})
}
