package tenant

import (
	"database/sql"
	"slices"
	"time"
)

// ClientStats are the statistics of one tenant's client, or of the shared
// client.
type ClientStats struct {
	ID     string // "" for the shared client
	Schema string // "" for the shared client
	// DBStats are the database/sql statistics of the client's own pool. In
	// Qualified mode the tenants share the shared pool and their DBStats
	// are zero.
	sql.DBStats
	Leases   int
	LastUsed time.Time
}

// Stats is a snapshot of a Registry.
type Stats struct {
	Mode       Mode
	Clients    int // resident tenant clients
	MaxClients int
	Hits       uint64 // Acquire calls served by a resident client
	Misses     uint64 // Acquire calls for a valid id without a resident client
	Lookups    uint64 // directory lookups done (concurrent misses share one)
	Evictions  map[EvictReason]uint64
	Conns      int // backend connections held now, all pools and the listener
	// Spares are the connections, among Conns, that a pool closed and the
	// next pool to need one will adopt (SearchPath mode).
	Spares    int
	MaxConns  int
	ConnWaits uint64 // connection requests that had to wait for the budget
	Shared    ClientStats
	Tenants   []ClientStats // resident tenants, most recently used first
}

// Resident reports whether tenant id has a client in the snapshot.
func (s *Stats) Resident(id string) bool {
	return slices.ContainsFunc(s.Tenants, func(t ClientStats) bool { return t.ID == id })
}

// Stats returns a snapshot of the registry's counters and clients. It does
// no I/O and may be called after Close.
func (reg *Registry[C]) Stats() Stats {
	s := Stats{
		Mode:       reg.opts.Mode,
		MaxClients: reg.opts.MaxClients,
		Hits:       reg.hits.Load(),
		Misses:     reg.misses.Load(),
		Lookups:    reg.lookups.Load(),
		Evictions:  make(map[EvictReason]uint64, len(evictReasons)),
		Conns:      reg.budget.inUse(),
		Spares:     reg.budget.spareCount(),
		MaxConns:   reg.opts.MaxConns,
		ConnWaits:  reg.budget.waits.Load(),
		Shared:     ClientStats{DBStats: reg.iso.shared().Stats()},
	}
	for i, r := range evictReasons {
		s.Evictions[r] = reg.evictions[i].Load()
	}
	reg.mu.Lock()
	entries := reg.lru.Values() // least recently used first
	slices.Reverse(entries)
	s.Tenants = make([]ClientStats, len(entries))
	for i, e := range entries {
		s.Tenants[i] = ClientStats{ID: e.id, Schema: e.schema, Leases: e.leases, LastUsed: e.lastUsed}
	}
	reg.mu.Unlock()
	s.Clients = len(entries)
	for i, e := range entries {
		if e.conns.own() {
			s.Tenants[i].DBStats = e.conns.db().Stats()
		}
	}
	return s
}
