package migrate_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// A suspended tenant is refused by a running registry (ErrSuspended, its
// pool evicted through the directory notification), keeps its data, is still
// migrated, and is served again once resumed, in both isolation modes.
func TestSuspendResume(t *testing.T) {
	forEachLevel(t, testSuspendResume)
}

func testSuspendResume(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	for _, mode := range []tenant.Mode{tenant.SearchPath, tenant.Qualified} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			cfg := migs.NewDatabase(t, tenanttest.DefaultIsolation(level))
			evicted := make(chan string, 8)
			reg, err := tenant.New(t.Context(), tenanttest.URL(cfg), ent.ClientForTenant, tenant.Options{
				Mode: mode,
				// Without the negative cache, the resumed tenant is served
				// at once, without waiting for the notification.
				NotFoundTTL: -1,
				Hooks:       tenant.Hooks{OnClientEvicted: func(id string, _ tenant.EvictReason) { evicted <- id }},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close(context.Background())
			m := migrate.New(reg.DB(), migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
			if _, err := m.CreateTenant(t.Context(), "acme", migrate.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			client, release, err := reg.Acquire(t.Context(), "acme")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := client.User.Create().SetEmail("a@example.com").SetName("A").Save(t.Context()); err != nil {
				t.Fatal(err)
			}
			release()

			ten, err := m.SuspendTenant(t.Context(), "acme", "unpaid\x00 invoice")
			if err != nil {
				t.Fatal(err)
			}
			if ten.Status != "suspended" || ten.StatusReason != "unpaid\uFFFD invoice" {
				t.Errorf("SuspendTenant = status %s, reason %v", ten.Status, ten.StatusReason)
			}
			select {
			case id := <-evicted:
				if id != "acme" {
					t.Fatalf("evicted %q; want acme", id)
				}
			case <-t.Context().Done():
				t.Fatal("the registry never evicted the suspended tenant")
			}
			if _, _, err := reg.Acquire(t.Context(), "acme"); !errors.Is(err, tenant.ErrSuspended) {
				t.Fatalf("Acquire(acme) after suspend = %v; want ErrSuspended", err)
			}
			// Migrations still apply to a suspended tenant.
			m2 := migrate.New(reg.DB(), migrate.Options{Public: migrations.Public(), Tenant: tenantTrack(t, true)})
			if _, err := m2.MigrateAll(t.Context(), migrate.RunOptions{}); err != nil {
				t.Fatalf("MigrateAll with a suspended tenant: %v", err)
			}
			_, all := m2.Versions()
			if rev := revisions(t, reg.DB(), "tenant_acme"); !slices.Equal(rev, all) {
				t.Errorf("suspended tenant's revisions = %v; want %v", rev, all)
			}

			ten, err = m.ResumeTenant(t.Context(), "acme")
			if err != nil {
				t.Fatal(err)
			}
			if ten.Status != "active" || ten.StatusReason != "" {
				t.Errorf("ResumeTenant = status %s, reason %v", ten.Status, ten.StatusReason)
			}
			client, release, err = reg.Acquire(t.Context(), "acme")
			if err != nil {
				t.Fatalf("Acquire(acme) after resume: %v", err)
			}
			defer release()
			if n, err := client.User.Query().Count(t.Context()); err != nil || n != 1 {
				t.Errorf("acme's users after resume = %d, %v; want 1, nil", n, err)
			}
		})
	}
}

func TestSuspendResumeErrors(t *testing.T) {
	forEachLevel(t, testSuspendResumeErrors)
}

func testSuspendResumeErrors(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	if _, err := m.CreateTenant(t.Context(), "acme", migrate.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), "INSERT INTO public.tenants (id, schema_name, status) VALUES ('half', 'tenant_half', 'provisioning')"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		call func() error
		want error
	}{
		{"suspend unknown", func() error { _, err := m.SuspendTenant(t.Context(), "nobody", ""); return err }, tenant.ErrNotFound},
		{"suspend hostile", func() error { _, err := m.SuspendTenant(t.Context(), "x'; DROP SCHEMA public--", ""); return err }, tenant.ErrInvalidID},
		{"resume hostile", func() error { _, err := m.ResumeTenant(t.Context(), "Acme"); return err }, tenant.ErrInvalidID},
		{"suspend provisioning", func() error { _, err := m.SuspendTenant(t.Context(), "half", ""); return err }, migrate.ErrWrongStatus},
		{"resume provisioning", func() error { _, err := m.ResumeTenant(t.Context(), "half"); return err }, migrate.ErrWrongStatus},
		{"resume active", func() error { _, err := m.ResumeTenant(t.Context(), "acme"); return err }, nil},
	} {
		if err := tt.call(); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: err = %v; want %v", tt.name, err, tt.want)
		}
	}
	// A long reason is cut, never refused.
	ten, err := m.SuspendTenant(t.Context(), "acme", strings.Repeat("é", 900))
	if err != nil {
		t.Fatal(err)
	}
	if got := len([]rune(ten.StatusReason)); got != migrate.MaxReasonLen {
		t.Errorf("reason kept %d characters; want %d", got, migrate.MaxReasonLen)
	}
	var status string
	db.QueryRowContext(t.Context(), "SELECT status FROM public.tenants WHERE id = 'half'").Scan(&status)
	if status != "provisioning" {
		t.Errorf("half's status = %s after refused changes; want provisioning", status)
	}
}
