package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/lib/pq"
)

// queryer is a *sql.DB or a *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// column is a column of a tenant table that holds data (not generated).
type column struct {
	name    string
	typ     string // format_type: the type as SQL spells it
	notNull bool
}

// table is a table of a tenant schema, as the catalog describes it.
type table struct {
	name    string
	columns []column
	parents []string // tables its foreign keys reference, itself excluded
}

func (t table) column(name string) (column, bool) {
	for _, c := range t.columns {
		if c.name == name {
			return c, true
		}
	}
	return column{}, false
}

// quotedColumns returns the quoted column names, comma-separated.
func (t table) quotedColumns() string {
	names := make([]string, len(t.columns))
	for i, c := range t.columns {
		names[i] = pq.QuoteIdentifier(c.name)
	}
	return strings.Join(names, ", ")
}

// catalogTables reads the tables of schema (the revision table excluded)
// from the catalog, parents before the tables whose foreign keys reference
// them, ties broken by name. A foreign-key cycle between tables is an error.
func catalogTables(ctx context.Context, q queryer, schema string) ([]table, error) {
	rows, err := q.QueryContext(ctx, `
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname <> $2 AND NOT c.relispartition
ORDER BY c.relname, a.attnum`, schema, RevisionTable)
	if err != nil {
		return nil, fmt.Errorf("read catalog of %s: %w", schema, err)
	}
	byName := map[string]*table{}
	var names []string
	for rows.Next() {
		var tn string
		var c column
		if err := rows.Scan(&tn, &c.name, &c.typ, &c.notNull); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read catalog of %s: %w", schema, err)
		}
		t := byName[tn]
		if t == nil {
			t = &table{name: tn}
			byName[tn] = t
			names = append(names, tn)
		}
		t.columns = append(t.columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read catalog of %s: %w", schema, err)
	}
	rows, err = q.QueryContext(ctx, `
SELECT DISTINCT c.relname, p.relname
FROM pg_catalog.pg_constraint k
JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
JOIN pg_catalog.pg_class p ON p.oid = k.confrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype = 'f' AND n.nspname = $1 AND c.oid <> p.oid
ORDER BY 1, 2`, schema)
	if err != nil {
		return nil, fmt.Errorf("read foreign keys of %s: %w", schema, err)
	}
	for rows.Next() {
		var child, parent string
		if err := rows.Scan(&child, &parent); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read foreign keys of %s: %w", schema, err)
		}
		if t := byName[child]; t != nil {
			t.parents = append(t.parents, parent)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read foreign keys of %s: %w", schema, err)
	}
	// Kahn's algorithm over names in order: each round takes the first
	// table whose parents are all placed.
	out := make([]table, 0, len(names))
	placed := map[string]bool{}
	for len(out) < len(names) {
		progress := false
		for _, n := range names {
			t := byName[n]
			if placed[n] || slices.ContainsFunc(t.parents, func(p string) bool { return !placed[p] && byName[p] != nil }) {
				continue
			}
			placed[n] = true
			out = append(out, *t)
			progress = true
			break
		}
		if !progress {
			return nil, fmt.Errorf("schema %s: foreign keys form a cycle; cannot order its tables", schema)
		}
	}
	return out, nil
}

// schemaRevision reads the versions recorded in schema's revision table, in
// order. A schema without one has no versions.
func schemaRevision(ctx context.Context, q queryer, schema string) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT version FROM "+pq.QuoteIdentifier(schema)+"."+RevisionTable+" ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("read revision of %s: %w", schema, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read revision of %s: %w", schema, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// filesAt returns the tenant migrations that make up revision (the versions
// applied to a schema, in order): a prefix of the tenant track. A version
// this binary does not know, or a gap, is an error.
func (m *Migrator) filesAt(revision []string) ([]migration, error) {
	for i, v := range revision {
		if i < len(m.tenant) && m.tenant[i].version == v {
			continue
		}
		if !slices.ContainsFunc(m.tenant, func(f migration) bool { return f.version == v }) {
			return nil, fmt.Errorf("revision has migration %s, unknown to this binary (its latest is %q): a newer release or another application; upgrade to import it", v, latest(m.tenant))
		}
		return nil, fmt.Errorf("revision lacks migration %s before %s: not a revision of this application", m.tenant[i].version, v)
	}
	return m.tenant[:len(revision)], nil
}
