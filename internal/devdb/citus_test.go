package devdb

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// startCitus starts a private Citus cluster for t and removes it when t
// ends. Without Citus it skips t, unless CitusRequired, where it fails.
func startCitus(t *testing.T) *Citus {
	t.Helper()
	c, err := StartCitus(t.Context(), CitusOptions{Dir: t.TempDir(), Dist: os.Getenv("CITUS_DIST"), Logger: testLogger(t)})
	if errors.Is(err, ErrNoCitus) && !CitusRequired(os.Getenv) {
		t.Skipf("no Citus cluster: %v", err)
	}
	if err != nil {
		t.Fatalf("StartCitus: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Remove(ctx); err != nil {
			t.Errorf("Citus.Remove: %v", err)
		}
	})
	return c
}

func TestCitusCluster(t *testing.T) {
	needBinaries(t)
	c := startCitus(t)
	t.Logf("citus cluster (coordinator and %d workers) started in %v", len(c.Workers), c.Startup.Round(time.Millisecond))

	for _, database := range []string{"postgres", randomName("citus_")} {
		if database != "postgres" {
			if err := c.CreateDatabase(t.Context(), database); err != nil {
				t.Fatalf("CreateDatabase(%q): %v", database, err)
			}
		}
		db := open(t, c.URL(database))
		var workers int
		if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM pg_dist_node WHERE groupid <> 0 AND isactive").Scan(&workers); err != nil || workers != 2 {
			t.Fatalf("%s: %d active workers (err %v); want 2", database, workers, err)
		}
		if got := queryString(t, c.URL(database), "SHOW wal_level"); got != "logical" {
			t.Errorf("wal_level = %q; want logical", got)
		}
		for _, w := range c.Workers {
			if got := queryString(t, w.URL(database), "SHOW synchronous_commit"); got != "on" {
				t.Errorf("worker %s: synchronous_commit = %q; want on (online moves)", w.Addr(), got)
			}
		}
		ctx := t.Context()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{
			"SET citus.enable_schema_based_sharding = on",
			"CREATE SCHEMA tenant_a",
			"CREATE TABLE tenant_a.items (id int PRIMARY KEY)",
			"INSERT INTO tenant_a.items VALUES (1)",
		} {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				t.Fatalf("%s: %s: %v", database, s, err)
			}
		}
		conn.Close()
		var node string
		err = db.QueryRowContext(ctx, "SELECT nodename || ':' || nodeport FROM citus_shards WHERE table_name = 'tenant_a.items'::regclass").Scan(&node)
		if err != nil || (node != c.Workers[0].Addr() && node != c.Workers[1].Addr()) {
			t.Fatalf("%s: tenant_a.items lives on %q (err %v); want a worker", database, node, err)
		}
	}
}
