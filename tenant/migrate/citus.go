package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// Citus support. On a database with the citus extension (a Citus
// coordinator) the Migrator distributes what it creates, so that the same
// migrations and the same binary serve a cluster:
//
//   - every table of public becomes a reference table, copied to every node,
//     after each public migration run (tenant tables may then reference
//     them, and joins with them stay on the tenant's node);
//   - a tenant schema is created with citus.enable_schema_based_sharding on
//     in the creating transaction, so it is a distributed schema whose
//     tables live together on one worker; a tenant schema that exists but is
//     not distributed yet (a database that became a coordinator with its
//     tenants in place) is distributed with citus_schema_distribute when it
//     is next migrated;
//   - migration files run statement by statement, since Citus forwards a
//     multi-statement DDL string to the worker as one command, which the
//     worker refuses.
//
// On a plain PostgreSQL database nothing of this happens.

// citusCache remembers whether the database has Citus, once known.
type citusCache struct {
	mu    sync.Mutex
	known bool
	on    bool
}

// Citus reports whether the Migrator's database has the citus extension,
// i.e. is a Citus coordinator. A successful answer is remembered for the
// Migrator's lifetime.
func (m *Migrator) Citus(ctx context.Context) (bool, error) {
	m.citus.mu.Lock()
	defer m.citus.mu.Unlock()
	if m.citus.known {
		return m.citus.on, nil
	}
	var on bool
	err := m.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus')").Scan(&on)
	if err != nil {
		return false, fmt.Errorf("detect citus: %w", err)
	}
	m.citus.known, m.citus.on = true, on
	return on, nil
}

// execStmts runs stmts in tx: one by one when separately (a Citus
// coordinator forwards a multi-statement DDL string to a worker as one
// command, which the worker refuses), else in one round trip.
func execStmts(ctx context.Context, tx *sql.Tx, stmts []string, separately bool) error {
	if !separately {
		stmts = []string{strings.Join(stmts, ";\n")}
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// distributeSchema makes the tenant schema q (quoted) a distributed schema
// unless it is one.
func distributeSchema(ctx context.Context, tx *sql.Tx, schema string) error {
	var done bool
	err := tx.QueryRowContext(ctx,
		"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_schema WHERE schemaid = $1::regnamespace)", schema).Scan(&done)
	if err != nil {
		return fmt.Errorf("citus: %w", err)
	}
	if done {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SELECT citus_schema_distribute($1::regnamespace)", pq.QuoteIdentifier(schema)); err != nil {
		return fmt.Errorf("citus: distribute schema %s: %w", schema, err)
	}
	return nil
}

// referencePublic makes every table of public that is not a reference table
// one, tables referenced by foreign keys first (a reference table may only
// point at reference tables).
//
// The directory's notification trigger (see the public migrations) comes
// along to every placement: Citus distributes a table with triggers only
// with citus.enable_unsafe_triggers, and the trigger announces a change only
// where it runs on the coordinator, in the transaction of the statement that
// made the change, where the registries listen.
func referencePublic(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, "SET LOCAL citus.enable_unsafe_triggers TO on"); err != nil {
		return fmt.Errorf("citus: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `
SELECT c.relname, coalesce((
	SELECT array_agg(DISTINCT r.relname) FROM pg_catalog.pg_constraint f
	JOIN pg_catalog.pg_class r ON r.oid = f.confrelid
	WHERE f.conrelid = c.oid AND f.contype = 'f' AND f.confrelid <> c.oid
	AND r.relnamespace = 'public'::regnamespace
), '{}')
FROM pg_catalog.pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
AND NOT EXISTS (
	SELECT 1 FROM pg_catalog.pg_dist_partition p
	WHERE p.logicalrelid = c.oid AND p.partmethod = 'n' AND p.repmodel = 't'
)
ORDER BY c.relname`)
	if err != nil {
		return fmt.Errorf("citus: list public tables: %w", err)
	}
	need := make(map[string][]string) // table → the tables it references
	var order []string
	for rows.Next() {
		var t string
		var refs []string
		if err := rows.Scan(&t, pq.Array(&refs)); err != nil {
			rows.Close()
			return fmt.Errorf("citus: list public tables: %w", err)
		}
		need[t] = refs
		order = append(order, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("citus: list public tables: %w", err)
	}
	for len(order) > 0 {
		var rest []string
		for _, t := range order {
			if waits(need[t], need) {
				rest = append(rest, t)
				continue
			}
			if _, err := tx.ExecContext(ctx, "SELECT create_reference_table($1::regclass)", "public."+pq.QuoteIdentifier(t)); err != nil {
				return fmt.Errorf("citus: make public.%s a reference table: %w", t, err)
			}
			delete(need, t)
		}
		if len(rest) == len(order) {
			return fmt.Errorf("citus: public tables %s reference each other in a cycle", strings.Join(rest, ", "))
		}
		order = rest
	}
	return nil
}

// waits reports whether a table referencing refs must wait for one of them
// to become a reference table first.
func waits(refs []string, pending map[string][]string) bool {
	for _, r := range refs {
		if _, ok := pending[r]; ok {
			return true
		}
	}
	return false
}

// isUniqueViolation reports whether err is a unique violation (23505). On
// Citus the constraint is named after the shard and lib/pq leaves
// pq.Error.Constraint empty, so the SQLSTATE is all there is to go by.
func isUniqueViolation(err error) bool {
	return pq.As(err, pqerror.UniqueViolation) != nil
}
