// Package directory is the tenant directory, public.tenants: the one place
// that names its table, its columns and its statuses, and the migrations that
// create it. Package tenant reads it; package tenant/migrate writes it.
package directory

import (
	"context"
	"database/sql"
	"embed"
	"io/fs"

	"github.com/lib/pq"
)

// Table is the directory's table, qualified.
const Table = "public.tenants"

// The statuses of a tenant. A tenant is served only while Active.
const (
	Provisioning = "provisioning" // being created; not served yet
	Active       = "active"
	Suspended    = "suspended" // refused until resumed
	Dropping     = "dropping"  // being dropped
	Failed       = "failed"    // a clone or import that did not complete
)

// A Querier runs a query: a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Entry is what a registry needs of a tenant's row.
type Entry struct {
	Schema   string
	Status   string
	Revision sql.NullString // latest tenant migration applied; NULL before the first
}

// Served returns tenant id's entry when it is active or suspended, and
// sql.ErrNoRows otherwise.
func Served(ctx context.Context, q Querier, id string) (Entry, error) {
	var e Entry
	err := q.QueryRowContext(ctx, "SELECT schema_name, status, revision FROM "+Table+
		" WHERE id = $1 AND status IN ('"+Active+"', '"+Suspended+"')", id).
		Scan(&e.Schema, &e.Status, &e.Revision)
	return e, err
}

// ActiveAmong returns which of ids are active tenants.
func ActiveAmong(ctx context.Context, q Querier, ids []string) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, "SELECT id FROM "+Table+" WHERE id = ANY($1) AND status = '"+Active+"'", pq.Array(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	active := make(map[string]bool, len(ids))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		active[id] = true
	}
	return active, rows.Err()
}

//go:embed migrations/*.sql
var files embed.FS

// Migrations returns the migrations that create the directory and the
// tenants' API keys in schema public, named pgtenant_<n>_<name>.sql: they
// apply, in lexical order, before the user's public migrations. The DDL is
// unqualified, like every migration's.
func Migrations() fs.FS {
	f, err := fs.Sub(files, "migrations")
	if err != nil {
		panic(err) // the embedded directory exists by construction
	}
	return f
}
