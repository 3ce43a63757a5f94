package apikey

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/pgtenant/pgtenant/internal/pglisten"
	"github.com/pgtenant/pgtenant/tenant"
)

// Default values of Options.
const (
	DefaultCacheSize        = 10000
	DefaultCacheTTL         = 30 * time.Second
	DefaultLastUsedInterval = time.Minute
)

// Options configure an Authenticator. The zero value is usable.
type Options struct {
	// DSN, if set, is the database on which the Authenticator listens on
	// Channel, so a key revoked by any process is refused at once. Without
	// it, a revoked key is refused within CacheTTL.
	DSN string

	// CacheSize bounds the number of keys (known or unknown prefixes)
	// remembered. Default DefaultCacheSize.
	CacheSize int

	// CacheTTL is how long a key read from the database is trusted before
	// it is read again; it bounds how late a revocation missed by the
	// listener takes effect. Default DefaultCacheTTL (30s).
	CacheTTL time.Duration

	// LastUsedInterval is how often the last-use times of the keys used
	// since are written, in one statement. Default DefaultLastUsedInterval.
	LastUsedInterval time.Duration

	// Logger receives the listener's and the last-use writer's errors; nil
	// discards them. Keys are never logged; prefixes may be.
	Logger *slog.Logger

	// OnInvalidate, if set, is called after a notification on Channel
	// dropped prefix from the cache ("" after a reconnection dropped every
	// key).
	OnInvalidate func(prefix string)
}

// The refusals of Verify; they name no key.
var (
	errMalformed = fmt.Errorf("%w: malformed API key", tenant.ErrUnauthenticated)
	errUnknown   = fmt.Errorf("%w: unknown API key", tenant.ErrUnauthenticated)
	errRevoked   = fmt.Errorf("%w: revoked API key", tenant.ErrUnauthenticated)
	errExpired   = fmt.Errorf("%w: expired API key", tenant.ErrUnauthenticated)
)

// Authenticator is the tenant.Authenticator of API keys: it reads
// "Authorization: Bearer <key>" and returns the key's tenant with the key's
// prefix as Subject. A key verified in the last CacheTTL is checked without
// a database round trip. It is safe for concurrent use; Close releases it.
type Authenticator struct {
	store *Store
	opts  Options
	log   *slog.Logger
	cache *lru.Cache[string, *cached]
	group singleflight.Group

	mu   sync.Mutex
	used []*cached // entries whose use is not written yet

	gen atomic.Uint64 // notifications received

	listener *pglisten.Listener
	stop     chan struct{}
	wg       sync.WaitGroup
	closed   atomic.Bool
}

// cached is what the Authenticator knows of one prefix.
type cached struct {
	prefix  string
	found   bool
	hash    [sha256.Size]byte
	tenant  string
	expires time.Time // zero: never
	revoked bool
	fetched time.Time

	lastUsed atomic.Int64 // unix nanoseconds of the last accepted use
	pending  atomic.Bool  // in Authenticator.used
}

// New returns an Authenticator verifying keys of store. With opts.DSN it
// first listens on Channel and fails (wrapping tenant.ErrUnavailable) if it
// cannot.
func New(ctx context.Context, store *Store, opts Options) (*Authenticator, error) {
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.LastUsedInterval <= 0 {
		opts.LastUsedInterval = DefaultLastUsedInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cache, err := lru.New[string, *cached](opts.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("apikey: %w", err)
	}
	a := &Authenticator{store: store, opts: opts, log: opts.Logger, cache: cache, stop: make(chan struct{})}
	if opts.DSN != "" {
		if err := a.listen(ctx); err != nil {
			return nil, err
		}
	}
	a.wg.Go(a.writeLastUsed)
	return a, nil
}

// Authenticate implements tenant.Authenticator.
func (a *Authenticator) Authenticate(r *http.Request) (tenant.Principal, error) {
	key, err := tenant.BearerToken(r)
	if err != nil {
		return tenant.Principal{}, err
	}
	return a.Verify(r.Context(), key)
}

// Verify returns the principal of key: its tenant, and its prefix as
// Subject. A malformed, unknown, revoked or expired key is an error wrapping
// tenant.ErrUnauthenticated; a failed database read wraps
// tenant.ErrUnavailable. No error contains the key.
func (a *Authenticator) Verify(ctx context.Context, key string) (tenant.Principal, error) {
	prefix, ok := parse(key)
	if !ok {
		return tenant.Principal{}, errMalformed
	}
	var err error
	now := time.Now()
	c, ok := a.cache.Get(prefix)
	if !ok || now.Sub(c.fetched) > a.opts.CacheTTL {
		if c, err = a.load(ctx, prefix); err != nil {
			return tenant.Principal{}, err
		}
	}
	sum := sha256.Sum256([]byte(key))
	// Constant time: how much of the hash matched must not show in the
	// response time. An unknown prefix compares against zeros the same way.
	if subtle.ConstantTimeCompare(c.hash[:], sum[:]) != 1 || !c.found {
		return tenant.Principal{}, errUnknown
	}
	if c.revoked {
		return tenant.Principal{}, errRevoked
	}
	if !c.expires.IsZero() && !now.Before(c.expires) {
		return tenant.Principal{}, errExpired
	}
	a.markUsed(c, now)
	return tenant.Principal{Tenant: c.tenant, Subject: prefix}, nil
}

// load reads prefix from the database (once for concurrent callers) and
// caches what it found, absence included.
func (a *Authenticator) load(ctx context.Context, prefix string) (*cached, error) {
	v, err, _ := a.group.Do(prefix, func() (any, error) {
		gen := a.gen.Load()
		k, err := a.store.lookup(ctx, prefix)
		if err != nil {
			if !errors.Is(err, tenant.ErrUnavailable) {
				err = fmt.Errorf("%w: %w", tenant.ErrUnavailable, err)
			}
			return nil, fmt.Errorf("apikey: look up key %s: %w", prefix, err)
		}
		c := &cached{prefix: prefix, fetched: time.Now()}
		if k != nil {
			c.found = true
			copy(c.hash[:], k.hash)
			c.tenant = k.Tenant
			c.revoked = k.RevokedAt != nil
			if k.ExpiresAt != nil {
				c.expires = *k.ExpiresAt
			}
			if k.LastUsedAt != nil {
				c.lastUsed.Store(k.LastUsedAt.UnixNano())
			}
		}
		// A notification that arrived during the read may concern this
		// key and precede what was read: then the answer serves this
		// request only.
		if a.gen.Load() == gen {
			a.cache.Add(prefix, c)
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*cached), nil
}

// markUsed records a use of c; the first use since the last write queues c
// for the next one, so the request path takes the lock once per interval.
func (a *Authenticator) markUsed(c *cached, now time.Time) {
	c.lastUsed.Store(now.UnixNano())
	if c.pending.CompareAndSwap(false, true) {
		a.mu.Lock()
		a.used = append(a.used, c)
		a.mu.Unlock()
	}
}

// writeLastUsed writes the queued last-use times every LastUsedInterval and
// once more when the Authenticator closes.
func (a *Authenticator) writeLastUsed() {
	t := time.NewTicker(a.opts.LastUsedInterval)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			a.flush()
			return
		case <-t.C:
			a.flush()
		}
	}
}

// flush writes the last-use times of the keys used since the last flush.
func (a *Authenticator) flush() {
	a.mu.Lock()
	used := a.used
	a.used = nil
	a.mu.Unlock()
	if len(used) == 0 {
		return
	}
	times := make(map[string]time.Time, len(used))
	for _, c := range used {
		c.pending.Store(false)
		times[c.prefix] = time.Unix(0, c.lastUsed.Load())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.store.touch(ctx, times); err != nil {
		a.log.Warn("api key last use not recorded", "keys", len(times), "err", err)
	}
}

// Flush writes the last-use times of the keys used since the last write
// now, instead of at the next LastUsedInterval.
func (a *Authenticator) Flush() { a.flush() }

// listen starts the listener on Channel and waits until it listens. A
// notification drops the key it names from the cache; after a reconnection,
// which may have missed some, the whole cache is dropped.
func (a *Authenticator) listen(ctx context.Context) error {
	l, err := pglisten.Start(ctx, a.opts.DSN, Channel, "api key listener", a.log, pglisten.Handlers{
		Notify: func(prefix string) {
			if validPrefix(prefix) {
				a.invalidate(prefix)
			}
		},
		Reconnected: func() { a.invalidate("") },
	})
	if err != nil {
		return fmt.Errorf("%w: apikey: %w", tenant.ErrUnavailable, err)
	}
	a.listener = l
	return nil
}

// invalidate drops the key with prefix from the cache, or every key when
// prefix is "".
func (a *Authenticator) invalidate(prefix string) {
	a.gen.Add(1)
	if prefix == "" {
		a.cache.Purge()
	} else {
		a.cache.Remove(prefix)
	}
	if a.opts.OnInvalidate != nil {
		a.opts.OnInvalidate(prefix)
	}
}

// Close stops the listener, writes the pending last-use times and releases
// the Authenticator. It is idempotent; Verify keeps working on the cache
// and the store afterwards, without revocation notifications.
func (a *Authenticator) Close() error {
	if !a.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(a.stop)
	a.wg.Wait()
	if a.listener != nil {
		return a.listener.Close()
	}
	return nil
}
