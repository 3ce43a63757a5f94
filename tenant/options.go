package tenant

import (
	"log/slog"
	"time"
)

// Mode selects how a Registry isolates tenants.
type Mode int

const (
	// SearchPath gives every tenant its own *sql.DB whose connections have
	// search_path set to exactly the tenant's schema at connect time. It is the
	// default.
	SearchPath Mode = iota

	// Qualified shares one *sql.DB among all tenants; every tenant's
	// *ent.Client names its schema in every statement (Ent's sql/schemaconfig).
	// The shared pool's search_path names no tenant-owned or public schema, so an
	// unqualified raw query fails instead of reaching another tenant's tables.
	Qualified
)

// String returns "search_path" or "qualified".
func (m Mode) String() string {
	switch m {
	case SearchPath:
		return "search_path"
	case Qualified:
		return "qualified"
	}
	return "Mode(" + itoa(int(m)) + ")"
}

// ParseMode parses the names returned by Mode.String.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "search_path", "":
		return SearchPath, nil
	case "qualified":
		return Qualified, nil
	}
	return 0, errorf("unknown isolation mode %q (want search_path or qualified)", s)
}

// EvictReason says why a tenant's client left a Registry.
type EvictReason string

// Eviction reasons passed to Hooks.OnClientEvicted and counted in Stats.
const (
	EvictLRU    EvictReason = "lru"    // the registry was full
	EvictTTL    EvictReason = "ttl"    // idle longer than Options.ClientTTL
	EvictManual EvictReason = "manual" // Registry.Evict, or the tenant left the directory
	EvictClose  EvictReason = "close"  // Registry.Close
)

// Hooks are called by a Registry on client events. Any of them may be nil. They
// are called without registry locks held, possibly from several goroutines at
// once, and must not block for long.
type Hooks struct {
	// OnClientOpened is called after a tenant's client was opened.
	OnClientOpened func(id string)
	// OnClientEvicted is called once per evicted client, after it was
	// removed from the registry (it may still be closing while leases end).
	OnClientEvicted func(id string, reason EvictReason)
	// OnError is called when verifying or closing a tenant's client fails.
	// id is "" for the shared client.
	OnError func(id string, err error)
	// OnRetry is called before each retry sleep of a verified acquisition.
	OnRetry func(attempt int, err error, delay time.Duration)
}

// Options configure a Registry. The zero value is usable: every zero field
// takes the default given in its comment.
type Options struct {
	// Mode selects the isolation mode; default SearchPath.
	Mode Mode

	// Namer maps tenant ids to schema names; default DefaultNamer (tenant_<id>).
	Namer Namer

	// MaxClients is how many tenant clients stay open at most; the least recently
	// used one is evicted beyond that. Default 50 in SearchPath mode, where
	// each client has its own pool, and 1000 in Qualified mode, where a client
	// holds no connection and costs only a few kilobytes of memory.
	MaxClients int

	// ClientTTL evicts a client unused (no lease) for this long. Default 1h;
	// negative disables the TTL.
	ClientTTL time.Duration

	// SweepInterval is how often idle clients are checked against ClientTTL.
	// Default 1m. (Spare connections of SearchPath mode are checked against
	// ConnMaxIdleTime every half ConnMaxIdleTime.)
	SweepInterval time.Duration

	// MaxOpenConns limits the open connections of each tenant pool and of the
	// shared pool (SearchPath mode only). Default 10.
	MaxOpenConns int

	// MaxIdleConns limits the idle connections of each tenant pool and of the
	// shared pool (SearchPath mode only; in Qualified mode every connection of
	// the shared pool may stay idle). Default: MaxOpenConns. Idle connections
	// are bounded globally rather than per pool: they hold budget tokens
	// (MaxConns), and when a pool needs a connection and the budget is spent,
	// the registry closes idle connections of the pools holding the most,
	// least recently used first. A smaller per-pool limit closes connections
	// that a busy tenant dials again at once; ConnMaxIdleTime closes the ones
	// no longer used.
	MaxIdleConns int

	// ConnMaxIdleTime closes connections idle this long. Default 30s.
	ConnMaxIdleTime time.Duration

	// ConnMaxLifetime closes a connection this long after it was dialed,
	// when it is next idle, instead of keeping it or handing it to another
	// pool, so no backend lives for ever (see also ConnMaxTenants).
	// Default 30m; negative means no limit.
	ConnMaxLifetime time.Duration

	// ConnMaxTenants closes a connection, when it is next idle, once it
	// has run queries of this many distinct tenants, instead of keeping
	// it or handing it to another pool. A backend keeps the catalog
	// entries of every table it touched, about 35 KB for a tenant of two
	// tables and their indexes, and a connection serves many tenants (all
	// of them in Qualified mode; in SearchPath mode, through spares), so
	// at 10,000 tenants one backend would grow to several hundred
	// megabytes. A query's tenant is the one its context names
	// (FromContext): Middleware's requests name theirs; a query whose
	// context names none is not counted. Default 1000; negative means no
	// limit.
	ConnMaxTenants int

	// MaxConns is the global connection budget: the registry never holds more
	// backend connections than this, across all tenant pools, the shared pool
	// and the directory listener, which holds one for the registry's lifetime.
	// A connection request that finds the budget spent waits until its
	// context ends and then fails with an error wrapping ErrUnavailable. In
	// Qualified mode the one shared pool has MaxConns-1 connections and a
	// query waits for one inside database/sql, so it fails with its
	// context's error instead. At least 2; default 80 (PostgreSQL's default
	// max_connections is 100). MaxOpenConns and MaxIdleConns are lowered to
	// fit in it.
	MaxConns int

	// NotFoundTTL is how long a "no such active tenant" answer of the directory
	// is remembered. Default 5s; negative disables the negative cache.
	NotFoundTTL time.Duration

	// KnownTenants is how many "active, at a served revision" answers of the
	// directory are remembered, least recently used first out, so that
	// opening a client again after its eviction costs no directory query.
	// An answer is forgotten when the directory announces a change to its
	// tenant (as a resident client is evicted then), and all of them when
	// the directory listener reconnects; it is never older than a resident
	// client's. Each costs about 150 bytes. Default 20,000; negative
	// disables it.
	KnownTenants int

	// Retry is the policy of Registry.AcquireVerified. Zero fields take the
	// defaults of RetryPolicy.
	Retry RetryPolicy

	// Hooks are called on client events.
	Hooks Hooks

	// Logger receives pool events at Info, retries at Warn and, when
	// LogQueries is set, every query at Debug with its tenant. Default: discard.
	Logger *slog.Logger

	// LogQueries logs every statement Ent sends, with the tenant id, at Debug.
	LogQueries bool

	// Revision, when not empty, is the latest tenant migration the program
	// was built with (migrate.LatestRevision): a tenant whose directory row
	// records an older revision, or none, is not served, and Acquire
	// returns an error wrapping ErrSchemaBehind instead of a client whose
	// queries would fail on missing columns. Such answers are not cached:
	// once the tenant is migrated its next request is served. Empty serves
	// every active tenant whatever its revision.
	Revision string
}

// Defaults of Options, taken by its zero fields.
const (
	DefaultMaxClients = 50
	// DefaultMaxClientsQualified is the default of MaxClients in Qualified mode.
	DefaultMaxClientsQualified = 1000
	DefaultClientTTL           = time.Hour
	DefaultSweepInterval       = time.Minute
	DefaultMaxOpenConns        = 10
	DefaultConnMaxIdleTime     = 30 * time.Second
	DefaultConnMaxLifetime     = 30 * time.Minute
	DefaultConnMaxTenants      = 1000
	DefaultMaxConns            = 80
	DefaultNotFoundTTL         = 5 * time.Second
	DefaultKnownTenants        = 20000
)

// withDefaults returns o with every zero field replaced by its default and
// the limits made consistent with each other.
func (o Options) withDefaults() Options {
	if o.MaxClients <= 0 {
		o.MaxClients = DefaultMaxClients
		if m, ok := modes[o.Mode]; ok {
			o.MaxClients = m.maxClients
		}
	}
	if o.ClientTTL == 0 {
		o.ClientTTL = DefaultClientTTL
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.MaxOpenConns <= 0 {
		o.MaxOpenConns = DefaultMaxOpenConns
	}
	if o.ConnMaxIdleTime <= 0 {
		o.ConnMaxIdleTime = DefaultConnMaxIdleTime
	}
	switch {
	case o.ConnMaxLifetime == 0:
		o.ConnMaxLifetime = DefaultConnMaxLifetime
	case o.ConnMaxLifetime < 0:
		o.ConnMaxLifetime = 0 // database/sql's "no limit"
	}
	switch {
	case o.ConnMaxTenants == 0:
		o.ConnMaxTenants = DefaultConnMaxTenants
	case o.ConnMaxTenants < 0:
		o.ConnMaxTenants = 0
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	// The directory listener holds one connection of the budget for the
	// registry's lifetime; at least one more is needed to serve anything.
	if o.MaxConns < 2 {
		o.MaxConns = 2
	}
	// A single pool can never use more than the budget left after the listener.
	o.MaxOpenConns = min(o.MaxOpenConns, o.MaxConns-1)
	if o.MaxIdleConns <= 0 {
		o.MaxIdleConns = o.MaxOpenConns
	}
	o.MaxIdleConns = min(o.MaxIdleConns, o.MaxOpenConns)
	if o.NotFoundTTL == 0 {
		o.NotFoundTTL = DefaultNotFoundTTL
	}
	if o.KnownTenants == 0 {
		o.KnownTenants = DefaultKnownTenants
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
