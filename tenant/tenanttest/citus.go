package tenanttest

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/lib/pq"
)

// Citus. When the test server is a Citus coordinator (its maintenance
// database has the citus extension and lists worker nodes in pg_dist_node),
// every database the helpers create is a Citus database: it is created on
// the coordinator and on every worker, with the extension and the nodes
// registered, and dropped everywhere. The migrated template exists on every
// node, made once, so cloning it on each node gives a Citus database with
// its reference tables already in place. That lets a package's whole test
// suite run against a cluster by pointing TEST_DATABASE_URL at its
// coordinator.

// citusNodes returns the maintenance-database settings of the workers
// registered on the coordinator admin connects to, and the coordinator's
// own registered address; nil when admin is not a Citus coordinator.
func citusNodes(admin pq.Config) (coordinator string, workers []pq.Config, err error) {
	db, err := openDB(admin)
	if err != nil {
		return "", nil, err
	}
	defer db.Close()
	ctx := context.Background()
	var on bool
	if err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')").Scan(&on); err != nil || !on {
		return "", nil, err
	}
	rows, err := db.QueryContext(ctx, "SELECT groupid, nodename, nodeport FROM pg_dist_node WHERE noderole = 'primary' ORDER BY groupid")
	if err != nil {
		return "", nil, fmt.Errorf("citus nodes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			group int
			host  string
			port  int
		)
		if err := rows.Scan(&group, &host, &port); err != nil {
			return "", nil, fmt.Errorf("citus nodes: %w", err)
		}
		if group == 0 {
			coordinator = net.JoinHostPort(host, strconv.Itoa(port))
			continue
		}
		w := admin.Clone()
		w.Host, w.Port = host, uint16(port)
		workers = append(workers, w)
	}
	if err := rows.Err(); err != nil {
		return "", nil, fmt.Errorf("citus nodes: %w", err)
	}
	if len(workers) == 0 || coordinator == "" {
		return "", nil, nil // a single-node Citus: nothing to mirror
	}
	return coordinator, workers, nil
}

// onWorkers runs stmt in the maintenance database of every worker of the
// test server (none when it is not a Citus coordinator).
func onWorkers(ctx context.Context, stmts ...string) error {
	for _, w := range server.workers {
		db, err := openDB(w)
		if err != nil {
			return err
		}
		for _, s := range stmts {
			if _, err = db.ExecContext(ctx, s); err != nil {
				err = fmt.Errorf("worker %s:%d: %s: %w", w.Host, w.Port, s, err)
				break
			}
		}
		db.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// setupCitus makes the fresh database cfg (existing on every node) a Citus
// database: the extension on every node, the coordinator and the workers
// registered. It does nothing when the test server is not Citus.
func setupCitus(ctx context.Context, cfg pq.Config) error {
	if server.workers == nil {
		return nil
	}
	for _, w := range server.workers {
		w.Database = cfg.Database
		db, err := openDB(w)
		if err != nil {
			return err
		}
		_, err = db.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS citus")
		db.Close()
		if err != nil {
			return fmt.Errorf("worker %s:%d: create extension citus: %w", w.Host, w.Port, err)
		}
	}
	db, err := openDB(cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	host, port, _ := net.SplitHostPort(server.coordinator)
	stmts := []string{
		"CREATE EXTENSION IF NOT EXISTS citus",
		"SELECT citus_set_coordinator_host(" + pq.QuoteLiteral(host) + ", " + port + ")",
	}
	for _, w := range server.workers {
		stmts = append(stmts, "SELECT citus_add_node("+pq.QuoteLiteral(w.Host)+", "+strconv.Itoa(int(w.Port))+")")
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// sealTemplateOnWorkers marks the template name on every worker as a template
// without connections and ends the sessions in it (Citus's maintenance
// daemon keeps one), which would stop it from being cloned.
func sealTemplateOnWorkers(ctx context.Context, name string) error {
	return onWorkers(ctx,
		"ALTER DATABASE "+pq.QuoteIdentifier(name)+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "+pq.QuoteLiteral(name))
}

// citusBeforeDrop returns the statements that let database name be dropped
// on a node of a Citus test server (none for plain PostgreSQL): DROP
// DATABASE WITH (FORCE) does not end Citus's maintenance daemon, a
// background worker that reconnects at once, so the database first stops
// accepting connections and then every session in it is ended.
func citusBeforeDrop(name string) []string {
	if server.workers == nil {
		return nil
	}
	return []string{
		"DO $$BEGIN IF EXISTS (SELECT 1 FROM pg_database WHERE datname = " + pq.QuoteLiteral(name) + ") THEN " +
			"ALTER DATABASE " + pq.QuoteIdentifier(name) + " WITH ALLOW_CONNECTIONS false; END IF; END$$",
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " + pq.QuoteLiteral(name) + " AND pid <> pg_backend_pid()",
	}
}
