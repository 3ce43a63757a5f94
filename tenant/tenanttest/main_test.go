package tenanttest_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"testing"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	_ "github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// migs are the reference service's migrations.
var migs = tenanttest.Migrations{Public: migrations.Public(), Tenant: migrations.Tenant()}

// TestMain uses Main as the other packages do, so that TestMainDatabase can
// check what Main provides and the examples skip without a server.
func TestMain(m *testing.M) {
	os.Exit(tenanttest.Main(m, tenanttest.MainOptions{Migrations: migs,
		Tenants: []string{"acme", "globex"},
		Setup: func(ctx context.Context, db *sql.DB) error {
			_, err := db.ExecContext(ctx, "INSERT INTO public.plans (name) VALUES ('pro')")
			return err
		},
	}))
}

func TestMainDatabase(t *testing.T) {
	tenanttest.ServerConfig(t) // skip (or fail under CI) without a server
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		t.Fatal("DATABASE_URL is not set")
	}
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tenants, plans int
	err = db.QueryRowContext(t.Context(),
		"SELECT (SELECT count(*) FROM public.tenants WHERE status = 'active' AND id IN ('acme', 'globex')), (SELECT count(*) FROM public.plans WHERE name = 'pro')").
		Scan(&tenants, &plans)
	if err != nil || tenants != 2 || plans != 1 {
		t.Fatalf("DATABASE_URL has %d of the active tenants acme and globex and %d plans pro (err %v); want 2 and 1", tenants, plans, err)
	}
	var schemas int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM pg_namespace WHERE nspname IN ('tenant_acme', 'tenant_globex')").Scan(&schemas); err != nil || schemas != 2 {
		t.Fatalf("%d tenant schemas (err %v); want 2", schemas, err)
	}
}

// A database for code that has no testing.TB, such as a command's own
// integration check: the caller drops it.
func ExampleMigrations_CreateDatabase() {
	ctx := context.Background()
	cfg, drop, err := migs.CreateDatabase(ctx)
	if err != nil {
		log.Fatal(err) // errors.Is(err, tenanttest.ErrNoServer) when no server answers
	}
	defer func() {
		if err := drop(); err != nil {
			log.Print(err)
		}
	}()

	db, err := sql.Open("postgres", tenanttest.URL(cfg))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM public.tenants").Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "tenants")
	// Output: 0 tenants
}
