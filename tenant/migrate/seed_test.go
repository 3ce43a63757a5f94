package migrate_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// SeedAll runs the Ent seed in every tenant; the tenant where it fails is
// rolled back alone, and the report and the error name it.
func TestSeedAll(t *testing.T) {
	forEachLevel(t, testSeedAll)
}

func testSeedAll(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	for _, id := range []string{"a", "b", "c", "d"} {
		if _, err := m.CreateTenant(t.Context(), id, migrate.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.SuspendTenant(t.Context(), "d", ""); err != nil {
		t.Fatal(err)
	}
	// c already has the seed's user: its seed fails on the unique e-mail.
	if _, err := db.ExecContext(t.Context(), "INSERT INTO tenant_c.users (email, name) VALUES ('admin@example.com', 'Pre')"); err != nil {
		t.Fatal(err)
	}
	var progress []migrate.Progress
	rep, err := m.SeedAll(t.Context(), func(ctx context.Context, drv dialect.Driver) error {
		client := ent.ClientForTenant(drv, "")
		u, err := client.User.Create().SetEmail("helper@example.com").SetName("Helper").Save(ctx)
		if err != nil {
			return err
		}
		if _, err := client.Post.Create().SetTitle("Welcome").SetAuthor(u).Save(ctx); err != nil {
			return err
		}
		_, err = client.User.Create().SetEmail("admin@example.com").SetName("Admin").Save(ctx)
		return err
	}, migrate.SeedOptions{Concurrency: 2, Progress: func(p migrate.Progress) { progress = append(progress, p) }})
	if err == nil || !strings.Contains(err.Error(), `"c"`) {
		t.Errorf("SeedAll error = %v; want one naming c", err)
	}
	if rep.Failed() != 1 || len(rep.Tenants) != 4 {
		t.Fatalf("report: %d tenants, %d failed; want 4, 1", len(rep.Tenants), rep.Failed())
	}
	if last := progress[len(progress)-1]; len(progress) != 4 || last.Done != 4 || last.Failed != 1 {
		t.Errorf("progress = %+v", progress)
	}
	for _, tt := range []struct {
		id    string
		users int
	}{{"a", 2}, {"b", 2}, {"c", 1}, {"d", 2}} {
		if n := len(tableText(t, db, "tenant_"+tt.id, "users")); n != tt.users {
			t.Errorf("tenant %s has %d users; want %d", tt.id, n, tt.users)
		}
	}
	if n := len(tableText(t, db, "tenant_c", "posts")); n != 0 {
		t.Errorf("the failed tenant kept %d posts of its seed; want 0", n)
	}

	// Selected ids: a hostile one fails before any SQL, an unknown one gets
	// its own error.
	if _, err := m.SeedSQL(t.Context(), "SELECT 1", migrate.SeedOptions{IDs: []string{"a", "x;y"}}); !errors.Is(err, tenant.ErrInvalidID) {
		t.Errorf("seed with a hostile id: err = %v; want ErrInvalidID", err)
	}
	rep, err = m.SeedSQL(t.Context(), "INSERT INTO users (email, name) VALUES ('sql@example.com', 'S')", migrate.SeedOptions{IDs: []string{"b", "nobody"}})
	if err == nil || rep.Failed() != 1 || rep.Tenants[0].ID != "b" || rep.Tenants[0].Err != nil {
		t.Errorf("SeedSQL(b, nobody) = %+v, %v", rep.Tenants, err)
	}
	if n := len(tableText(t, db, "tenant_b", "users")); n != 3 {
		t.Errorf("b has %d users after the SQL seed; want 3", n)
	}
}
