package migrate_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// DropTenant reaches a running registry through the directory notification:
// the tenant's live pool is evicted and the tenant is no longer served, in
// both isolation modes, while other tenants are.
func TestDropTenantEvictsLivePools(t *testing.T) { forEachLevel(t, testDropTenantEvictsLivePools) }

func testDropTenantEvictsLivePools(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	for _, mode := range []tenant.Mode{tenant.SearchPath, tenant.Qualified} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			cfg := migs.NewDatabase(t, tenanttest.DefaultIsolation(level))
			evicted := make(chan string, 8)
			reg, err := tenant.New(t.Context(), tenanttest.URL(cfg), ent.ClientForTenant, tenant.Options{
				Mode:  mode,
				Hooks: tenant.Hooks{OnClientEvicted: func(id string, _ tenant.EvictReason) { evicted <- id }},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close(context.Background())
			m := migrate.New(reg.DB(), migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
			for _, id := range []string{"acme", "keep"} {
				if _, err := m.CreateTenant(t.Context(), id, migrate.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			client, release, err := reg.Acquire(t.Context(), "acme")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := client.User.Create().SetEmail("a@example.com").SetName("A").Save(t.Context()); err != nil {
				t.Fatal(err)
			}
			release()

			if err := m.DropTenant(t.Context(), "acme"); err != nil {
				t.Fatal(err)
			}
			select {
			case id := <-evicted:
				if id != "acme" {
					t.Fatalf("evicted %q; want acme", id)
				}
			case <-t.Context().Done():
				t.Fatal("the registry never evicted the dropped tenant")
			}
			if _, _, err := reg.Acquire(t.Context(), "acme"); !errors.Is(err, tenant.ErrNotFound) {
				t.Errorf("Acquire(acme) after drop = %v; want ErrNotFound", err)
			}
			client, release, err = reg.Acquire(t.Context(), "keep")
			if err != nil {
				t.Fatalf("Acquire(keep): %v", err)
			}
			defer release()
			if n, err := client.User.Query().Count(t.Context()); err != nil || n != 0 {
				t.Errorf("keep's users = %d, %v; want 0, nil", n, err)
			}
		})
	}
}

// A change to the directory made by hand, outside the migrator, reaches a
// running registry through the directory's trigger: a tenant suspended with
// a plain UPDATE, or deleted with a plain DELETE, is evicted and no longer
// served, in both isolation modes.
func TestManualDirectoryChangesReachRegistries(t *testing.T) {
	forEachLevel(t, testManualDirectoryChangesReachRegistries)
}

func testManualDirectoryChangesReachRegistries(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	for _, mode := range []tenant.Mode{tenant.SearchPath, tenant.Qualified} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			cfg := migs.NewDatabase(t, tenanttest.DefaultIsolation(level))
			for _, id := range []string{"acme", "globex", "keep"} {
				migs.NewTenant(t, cfg, id)
			}
			evicted := make(chan string, 8)
			reg, err := tenant.New(t.Context(), tenanttest.URL(cfg), ent.ClientForTenant, tenant.Options{
				Mode:  mode,
				Hooks: tenant.Hooks{OnClientEvicted: func(id string, _ tenant.EvictReason) { evicted <- id }},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close(context.Background())
			for _, id := range []string{"acme", "globex", "keep"} {
				_, release, err := reg.Acquire(t.Context(), id)
				if err != nil {
					t.Fatalf("Acquire(%s): %v", id, err)
				}
				release()
			}
			admin := tenanttest.Open(t, cfg)
			for _, c := range []struct {
				id, stmt string
				want     error
			}{
				{"acme", "UPDATE public.tenants SET status = 'suspended' WHERE id = 'acme'", tenant.ErrSuspended},
				{"globex", "DELETE FROM public.tenants WHERE id = 'globex'", tenant.ErrNotFound},
			} {
				began := time.Now()
				if _, err := admin.ExecContext(t.Context(), c.stmt); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				select {
				case id := <-evicted:
					if id != c.id {
						t.Errorf("after %q the registry evicted %q; want %q", c.stmt, id, c.id)
					}
					t.Logf("%q: evicted %s after %s", c.stmt, id, time.Since(began))
				case <-ctx.Done():
					t.Errorf("no eviction within 5 s of %q", c.stmt)
				}
				cancel()
				_, release, err := reg.Acquire(t.Context(), c.id)
				if err == nil {
					release()
				}
				if !errors.Is(err, c.want) {
					t.Errorf("Acquire(%s) after %q = %v; want %v", c.id, c.stmt, err, c.want)
				}
			}
			if st := reg.Stats(); !st.Resident("keep") {
				t.Error("an unchanged tenant was evicted")
			}
		})
	}
}
