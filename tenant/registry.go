package tenant

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/pgtenant/pgtenant/ent"
)

// DirectoryChannel is the PostgreSQL NOTIFY channel on which a change to the
// tenant directory is announced, with the tenant id as payload. Registries
// LISTEN on it and forget what they cached about that tenant, so a dropped or
// suspended tenant stops being served by every process.
const DirectoryChannel = "tenant_directory"

// A Registry hands out one *ent.Client per tenant. It is safe for concurrent
// use by multiple goroutines.
//
// A tenant is served only while the directory (public.tenants) lists it as
// active. At most Options.MaxPools tenant clients are kept; beyond that the
// least recently used one is evicted, and clients unused for Options.PoolTTL
// are evicted too. An evicted client is closed only after every release of
// every lease on it has been called, so eviction never breaks a running
// request. Close closes everything; afterwards Acquire returns ErrClosed.
type Registry struct {
}

// New returns a Registry for the database named by dsn (a postgres:// URL or a
// key=value DSN, as accepted by lib/pq). It opens the shared pool, which it
// pings once, and starts listening on DirectoryChannel. A search_path in dsn is
// ignored: the registry sets it per pool.
func New(ctx context.Context, dsn string, opts Options) (*Registry, error) {
	panic("unimplemented")
}

// Acquire returns the client of tenant id and a release function that must be
// called when the caller is done with the client; release is idempotent. The
// client must not be used after release. Acquire validates id (ErrInvalidID),
// consults the directory before the first use (ErrNotFound), and opens the
// tenant's pool lazily without connecting. Concurrent first calls for one
// tenant open exactly one pool.
func (reg *Registry) Acquire(ctx context.Context, id string) (*ent.Client, func(), error) {
	panic("unimplemented")
}

// AcquireVerified is Acquire followed by a ping of the tenant's schema under
// Options.Retry: transient errors are retried with backoff (ErrUnavailable
// once retries are exhausted), a missing schema is ErrNotFound.
func (reg *Registry) AcquireVerified(ctx context.Context, id string) (*ent.Client, func(), error) {
	panic("unimplemented")
}

// Shared returns the client for the public schema (plans and the tenant
// directory). It stays valid until Close.
func (reg *Registry) Shared() *ent.Client { panic("unimplemented") }

// DB returns the shared pool (search_path=public in SearchPath mode; the
// qualified pool in Qualified mode). Migrations and administration use it.
func (reg *Registry) DB() *sql.DB { panic("unimplemented") }

// Mode returns the registry's isolation mode.
func (reg *Registry) Mode() Mode { panic("unimplemented") }

// Schema returns the schema of tenant id under the registry's Namer.
func (reg *Registry) Schema(id string) (string, error) { panic("unimplemented") }

// PoolCount returns the number of tenant clients currently held.
func (reg *Registry) PoolCount() int { panic("unimplemented") }

// HasPool reports whether tenant id has a client in the registry.
func (reg *Registry) HasPool(id string) bool { panic("unimplemented") }

// ActiveTenants returns the ids of the tenants that have a client, most
// recently used first.
func (reg *Registry) ActiveTenants() []string { panic("unimplemented") }

// Evict removes tenant id's client and forgets its directory entry; the client
// is closed once its last lease is released. It reports whether a client was
// held.
func (reg *Registry) Evict(id string) bool { panic("unimplemented") }

// WarmupResult is the outcome of warming one tenant.
type WarmupResult struct {
	ID          string
	AlreadyWarm bool
	Err         error
	Duration    time.Duration
}

// Warmup opens and verifies the clients of ids with at most concurrency
// tenants at once (default 10), returning one result per id in ids' order.
func (reg *Registry) Warmup(ctx context.Context, ids []string, concurrency int) []WarmupResult {
	panic("unimplemented")
}

// Health is the state reported by HealthCheck.
type Health string

// Health states.
const (
	Healthy   Health = "healthy"
	Degraded  Health = "degraded"
	Unhealthy Health = "unhealthy"
)

// PoolHealth is the health of one pool.
type PoolHealth struct {
	ID      string // "" for the shared pool
	Status  Health
	Latency time.Duration
	Err     error
	Waiting int // connection waits in progress? (WaitCount delta)
}

// HealthReport is the result of HealthCheck.
type HealthReport struct {
	Status Health
	Shared PoolHealth
	Pools  []PoolHealth
}

// HealthCheck pings the shared pool and every open tenant pool, each bounded by
// timeout (default 5s), without opening new pools. It is Unhealthy when the
// shared pool fails, Degraded when a tenant pool fails or is slow.
func (reg *Registry) HealthCheck(ctx context.Context, timeout time.Duration) HealthReport {
	panic("unimplemented")
}

// PoolStats are the statistics of one pool.
type PoolStats struct {
	ID string // "" for the shared pool
	sql.DBStats
	Leases   int
	LastUsed time.Time
}

// Stats is a snapshot of a Registry.
type Stats struct {
	Mode      Mode
	Pools     int
	MaxPools  int
	Hits      uint64
	Misses    uint64
	Evictions map[EvictReason]uint64
	Conns     int // backend connections held now, all pools
	MaxConns  int
	ConnWaits uint64 // connection requests that had to wait for the budget
	Shared    PoolStats
	Tenants   []PoolStats
}

// Stats returns a snapshot of the registry's counters and pools.
func (reg *Registry) Stats() Stats { panic("unimplemented") }

// Close evicts every client (reason close) and closes the shared pool, waiting
// up to ctx's deadline for outstanding leases to be released. It is
// idempotent; afterwards Acquire returns ErrClosed.
func (reg *Registry) Close(ctx context.Context) error { panic("unimplemented") }

func itoa(i int) string { return strconv.Itoa(i) }

func errorf(format string, args ...any) error { return fmt.Errorf("tenant: "+format, args...) }
