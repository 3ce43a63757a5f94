package tenant

import (
	"context"
	"database/sql"
	"fmt"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/lib/pq"
)

// An isolation is how a Registry keeps tenants apart: one implementation per
// Mode, each in its own file. It opens the shared pool and each tenant's
// connections; nothing else in the package depends on the mode. Its methods
// are called without registry locks held.
type isolation interface {
	// shared is the shared pool: the shared client's, the directory's and,
	// when tenants share it, theirs.
	shared() *sql.DB
	// open returns the connections of the tenant whose schema is schema,
	// without connecting.
	open(schema string) tenantConns
	// close closes the shared pool and whatever the mode keeps besides the
	// tenants' connections, after every tenant's were closed.
	close() error
}

// tenantConns is one tenant's way to the database, as its isolation mode
// provides it.
type tenantConns interface {
	// driver is the Ent driver of the tenant's client.
	driver() dialect.Driver
	// qualifier is the schema the tenant's client names its tenant tables
	// with: "" when the connections' search_path selects the schema.
	qualifier() string
	// exists reports whether the tenant's schema exists, seen from the
	// connections the client uses.
	exists(ctx context.Context) (bool, error)
	// db is the pool the tenant's queries wait for, its own or the shared.
	db() *sql.DB
	// own reports whether db is the tenant's alone.
	own() bool
	// retire is called when the tenant's client is evicted while leased:
	// until close, its connections must not stay idle holding budget
	// tokens.
	retire()
	// close releases the connections; the client is not used afterwards.
	close() error
}

// A mode is what a Registry needs of an isolation mode before it opens
// anything: its defaults and its constructor.
type mode struct {
	// maxClients is the default of Options.MaxClients.
	maxClients int
	// open returns the isolation over connector, whose connections have an
	// empty search_path, and the connection budget its pools draw from. It
	// does no I/O. residents returns the resident tenants' connections,
	// least recently used first.
	open func(opts Options, connector *pq.Connector, residents func() []tenantConns) (isolation, *budget)
}

// modes are the isolation modes, each implemented in a file of its own.
var modes = map[Mode]mode{
	SearchPath: {maxClients: DefaultMaxClients, open: newSearchPath},
	Qualified:  {maxClients: DefaultMaxClientsQualified, open: newQualified},
}

// newIsolation returns the isolation of opts.Mode (see mode.open).
func newIsolation(opts Options, connector *pq.Connector, residents func() []tenantConns) (isolation, *budget, error) {
	m, ok := modes[opts.Mode]
	if !ok {
		return nil, nil, fmt.Errorf("unknown isolation mode %v", opts.Mode)
	}
	iso, b := m.open(opts, connector, residents)
	return iso, b, nil
}

// openPool returns a *sql.DB over connector whose connections hold tokens of b
// and, when setPath is not empty, run it when they join the pool.
func openPool(opts Options, connector *pq.Connector, b *budget, setPath string, maxOpen, maxIdle int) *sql.DB {
	db := sql.OpenDB(&budgetConnector{Connector: connector, b: b, setPath: setPath})
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(maxIdle)
	db.SetConnMaxIdleTime(opts.ConnMaxIdleTime)
	db.SetConnMaxLifetime(opts.ConnMaxLifetime)
	return db
}

// driverOf returns the Ent driver over db.
func driverOf(db *sql.DB) *entsql.Driver { return entsql.OpenDB(dialect.Postgres, db) }

// sharedDriver is the shared pool's driver as seen by a client: closing the
// client must not close the pool the registry owns.
type sharedDriver struct{ *entsql.Driver }

// Close does nothing; the Registry closes the shared pool.
func (sharedDriver) Close() error { return nil }
