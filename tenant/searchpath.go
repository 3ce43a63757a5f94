package tenant

import (
	"context"
	"database/sql"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/lib/pq"
)

// searchPath is the SearchPath mode: every tenant has its own pool whose
// connections have search_path set to exactly its schema, and the shared
// pool's is public. The pools' connections are recycled through the
// budget's spares, and when the budget is spent the idle connections of the
// pools are shed.
type searchPath struct {
	opts      Options
	connector *pq.Connector
	b         *budget
	pool      *sql.DB
	// residents returns the resident tenants' connections, least recently
	// used first.
	residents func() []tenantConns
}

func newSearchPath(opts Options, connector *pq.Connector, residents func() []tenantConns) (isolation, *budget) {
	b := newBudget(opts.MaxConns, true, opts.ConnMaxIdleTime, opts.ConnMaxLifetime, opts.ConnMaxTenants)
	m := &searchPath{opts: opts, connector: connector, b: b, residents: residents}
	b.shed = m.shed
	m.pool = openPool(opts, connector, b, "SET search_path TO public", opts.MaxOpenConns, opts.MaxIdleConns)
	return m, b
}

func (m *searchPath) shared() *sql.DB { return m.pool }

func (m *searchPath) open(schema string) tenantConns {
	db := openPool(m.opts, m.connector, m.b, "SET search_path TO "+pq.QuoteIdentifier(schema), m.opts.MaxOpenConns, m.opts.MaxIdleConns)
	return &ownPool{pool: db, drv: driverOf(db), schema: schema}
}

func (m *searchPath) close() error { return m.pool.Close() }

// shed closes idle connections of the pools, one at a time, until a budget
// token or a spare is free: each time one of the pool with the most idle
// connections, the least recently used among equals. Trimming the fullest
// pool first keeps one idle connection in as many pools as possible, so
// shedding rarely takes the connection the next request of a tenant would
// have used.
func (m *searchPath) shed() {
	pools := []*sql.DB{m.pool}
	for _, c := range m.residents() {
		pools = append(pools, c.db())
	}
	idle := make([]int, len(pools))
	total := 0
	for i, db := range pools {
		idle[i] = db.Stats().Idle
		total += idle[i]
	}
	for range total {
		v := 0
		for i := range pools {
			if idle[i] > idle[v] {
				v = i
			}
		}
		if idle[v] == 0 {
			return
		}
		// SetMaxIdleConns closes the surplus idle connections at once.
		pools[v].SetMaxIdleConns(idle[v] - 1)
		pools[v].SetMaxIdleConns(m.opts.MaxIdleConns)
		idle[v]--
		if m.b.roomy() {
			return
		}
	}
}

// ownPool is a tenant's own pool in SearchPath mode.
type ownPool struct {
	pool   *sql.DB
	drv    *entsql.Driver
	schema string
}

func (p *ownPool) driver() dialect.Driver { return p.drv }
func (p *ownPool) qualifier() string      { return "" }
func (p *ownPool) db() *sql.DB            { return p.pool }
func (p *ownPool) own() bool              { return true }
func (p *ownPool) retire()                { p.pool.SetMaxIdleConns(0) }
func (p *ownPool) close() error           { return p.pool.Close() }

// exists checks the schema from the pool's own connections: with
// search_path set to a missing schema a connection works, but
// current_schema() is NULL.
func (p *ownPool) exists(ctx context.Context) (bool, error) {
	var s sql.NullString
	err := p.pool.QueryRowContext(ctx, "SELECT current_schema()").Scan(&s)
	return s.Valid && s.String == p.schema, err
}
