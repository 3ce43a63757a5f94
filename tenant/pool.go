package tenant

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/ent"
)

// entry is one tenant's client in a Registry. The fields below mu are guarded
// by Registry.mu.
type entry struct {
	id     string
	schema string
	client *ent.Client
	db     *sql.DB // the tenant's own pool in SearchPath mode; nil in Qualified mode

	leases   int
	lastUsed time.Time
	evicted  bool // removed from the LRU
	closed   bool // client closed, or about to be by the goroutine that set this

	// Lease slots are handed out from chunks so that a lease costs one small
	// allocation (its release closure) instead of two.
	slots []leaseSlot
	next  int
}

// leaseSlot records whether one lease was released; guarded by Registry.mu.
type leaseSlot struct{ done bool }

const leaseChunk = 64

// openPool returns a *sql.DB whose connections have search_path set to
// exactly searchPath (already quoted, or empty for none) and hold budget
// tokens. In SearchPath mode its connections are dialed with an empty
// search_path, set with SET, and recycled through the budget's spares. It
// does no I/O.
func (reg *Registry) openPool(searchPath string, maxOpen, maxIdle int) (*sql.DB, error) {
	bc := &budgetConnector{Connector: reg.connector, b: reg.budget}
	if reg.opts.Mode == SearchPath {
		bc.setPath = "SET search_path TO " + searchPath
	}
	db := sql.OpenDB(bc)
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(maxIdle)
	db.SetConnMaxIdleTime(reg.opts.ConnMaxIdleTime)
	return db, nil
}

// newEntry builds tenant id's client without connecting.
func (reg *Registry) newEntry(id, schema string) (*entry, error) {
	e := &entry{id: id, schema: schema}
	switch reg.opts.Mode {
	case Qualified:
		drv := reg.driver(id, sharedDriver{reg.sharedDrv})
		e.client = ent.NewClient(ent.Driver(drv), ent.AlternateSchema(qualifiedSchemaConfig(schema)))
	default:
		db, err := reg.openPool(pq.QuoteIdentifier(schema), reg.opts.MaxOpenConns, reg.opts.MaxIdleConns)
		if err != nil {
			return nil, fmt.Errorf("open pool of tenant %q: %w", id, err)
		}
		e.db = db
		e.client = ent.NewClient(ent.Driver(reg.driver(id, entsql.OpenDB(dialect.Postgres, db))))
	}
	return e, nil
}

// driver wraps drv with query logging when Options.LogQueries is set.
func (reg *Registry) driver(id string, drv dialect.Driver) dialect.Driver {
	if !reg.opts.LogQueries {
		return drv
	}
	log := reg.opts.Logger
	return dialect.DebugWithContext(drv, func(ctx context.Context, args ...any) {
		log.DebugContext(ctx, "query", "tenant", id, "query", fmt.Sprint(args...))
	})
}

// sharedDriver is the qualified pool's driver as seen by one tenant's client:
// closing the client must not close the pool the other tenants share.
type sharedDriver struct{ *entsql.Driver }

// Close does nothing; the Registry closes the shared pool.
func (sharedDriver) Close() error { return nil }

// qualifiedSchemaConfig places every table of the Ent graph: the tenant
// tables (TenantTables) in schema, the shared ones (PublicTables) in public.
// A test checks that it covers every table.
func qualifiedSchemaConfig(schema string) ent.SchemaConfig {
	return ent.SchemaConfig{
		User:   schema,
		Post:   schema,
		Plan:   "public",
		Tenant: "public",
		APIKey: "public",
	}
}

// sharedSchemaConfig is the schema config of the shared client in Qualified
// mode: public tables are qualified, tenant tables are not, so using them
// through the shared client fails.
func sharedSchemaConfig() ent.SchemaConfig {
	return ent.SchemaConfig{Plan: "public", Tenant: "public", APIKey: "public"}
}
