package tenant

import (
	"context"
	"database/sql"

	"entgo.io/ent/dialect"
	"github.com/lib/pq"
)

// qualified is the Qualified mode: one shared pool, with an empty
// search_path, serves every tenant; a tenant's client names its schema in
// every statement. The listener and the shared pool fit the budget exactly,
// so there is never anything to shed or recycle.
type qualified struct {
	pool *sql.DB
	drv  sharedDriver
}

func newQualified(opts Options, connector *pq.Connector, _ func() []tenantConns) (isolation, *budget) {
	b := newBudget(opts.MaxConns, false, opts.ConnMaxIdleTime, opts.ConnMaxLifetime, opts.ConnMaxTenants)
	// One connection of the budget is the listener's.
	pool := openPool(opts, connector, b, "", opts.MaxConns-1, opts.MaxConns-1)
	return &qualified{pool: pool, drv: sharedDriver{driverOf(pool)}}, b
}

func (m *qualified) shared() *sql.DB { return m.pool }

func (m *qualified) open(schema string) tenantConns {
	return &sharedPool{m: m, schema: schema}
}

func (m *qualified) close() error { return m.pool.Close() }

// sharedPool is a tenant's share of the shared pool in Qualified mode.
type sharedPool struct {
	m      *qualified
	schema string
}

func (p *sharedPool) driver() dialect.Driver { return p.m.drv }
func (p *sharedPool) qualifier() string      { return p.schema }
func (p *sharedPool) db() *sql.DB            { return p.m.pool }
func (p *sharedPool) own() bool              { return false }
func (p *sharedPool) retire()                {}
func (p *sharedPool) close() error           { return nil }

func (p *sharedPool) exists(ctx context.Context) (bool, error) {
	var ok bool
	err := p.m.pool.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)", p.schema).Scan(&ok)
	return ok, err
}
