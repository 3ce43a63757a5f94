package migrate_test

import (
	"database/sql"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"github.com/pgtenant/pgtenant/tenant/migrate"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// The targets are measured with 1,000 tenants:
//
//	go test -run '^$' -bench MigrateAll -benchtime 1x ./tenant/migrate -args -migrate.tenants=1000
var benchTenants = flag.Int("migrate.tenants", 100, "tenants in BenchmarkMigrateAll")

// BenchmarkCreateTenant provisions one tenant per iteration (directory row,
// schema, migrations, activation, notify) into a database that already holds
// the tenants of earlier iterations.
func BenchmarkCreateTenant(b *testing.B) {
	cfg := migs.NewDatabase(b)
	db := tenanttest.Open(b, cfg)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	i := 0
	for b.Loop() {
		if _, err := m.CreateTenant(b.Context(), fmt.Sprintf("bench%d", i), migrate.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkMigrateAll runs MigrateAll over -migrate.tenants tenants, all
// fresh (in the directory, no schema yet) or all up to date.
func BenchmarkMigrateAll(b *testing.B) {
	n := *benchTenants
	setup := func(b *testing.B) *sql.DB {
		cfg := migs.NewDatabase(b)
		db := tenanttest.Open(b, cfg)
		db.SetMaxOpenConns(migrate.DefaultConcurrency + 1)
		_, err := db.ExecContext(b.Context(), `
INSERT INTO public.tenants (id, schema_name, status)
SELECT 't' || i, 'tenant_t' || i, 'active' FROM generate_series(1, $1) AS i`, n)
		if err != nil {
			b.Fatal(err)
		}
		return db
	}
	run := func(b *testing.B, db *sql.DB) time.Duration {
		start := time.Now()
		rep, err := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()}).MigrateAll(b.Context(), migrate.RunOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Tenants) != n {
			b.Fatalf("migrated %d tenants; want %d", len(rep.Tenants), n)
		}
		return time.Since(start)
	}
	report := func(b *testing.B, total time.Duration) {
		per := total / time.Duration(b.N)
		b.ReportMetric(float64(per.Milliseconds()), "ms/run")
		b.ReportMetric(float64(n)/per.Seconds(), "tenants/s")
	}
	b.Run(fmt.Sprintf("fresh-%d", n), func(b *testing.B) {
		var total time.Duration
		for range b.N {
			b.StopTimer()
			db := setup(b)
			b.StartTimer()
			total += run(b, db)
		}
		report(b, total)
	})
	b.Run(fmt.Sprintf("uptodate-%d", n), func(b *testing.B) {
		db := setup(b)
		run(b, db)
		b.ResetTimer()
		var total time.Duration
		for range b.N {
			total += run(b, db)
		}
		report(b, total)
	})
}
