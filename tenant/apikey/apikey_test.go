package apikey_test

import (
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/apikey"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// env is a migrated database with tenants acme and globex.
type env struct {
	cfg   pq.Config
	dsn   string
	db    *sql.DB
	store *apikey.Store
}

func newEnv(t testing.TB) *env {
	t.Helper()
	cfg := migs.NewDatabase(t)
	migs.NewTenant(t, cfg, "acme")
	migs.NewTenant(t, cfg, "globex")
	db := tenanttest.Open(t, cfg)
	return &env{cfg: cfg, dsn: tenanttest.URL(cfg), db: db, store: apikey.NewStore(db)}
}

// invalidations collects the prefixes an Authenticator dropped after a
// notification.
type invalidations struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

func (iv *invalidations) wait(t testing.TB, prefix string) {
	t.Helper()
	select {
	case <-iv.chanOf(prefix):
	case <-time.After(10 * time.Second):
		t.Fatalf("no invalidation of %s within 10s", prefix)
	}
}

func (iv *invalidations) chanOf(prefix string) chan struct{} {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	if iv.ch == nil {
		iv.ch = map[string]chan struct{}{}
	}
	c, ok := iv.ch[prefix]
	if !ok {
		c = make(chan struct{})
		iv.ch[prefix] = c
	}
	return c
}

func (iv *invalidations) seen(prefix string) {
	c := iv.chanOf(prefix)
	select {
	case <-c:
	default:
		close(c)
	}
}

func (e *env) authenticator(t testing.TB, opts apikey.Options) *apikey.Authenticator {
	t.Helper()
	a, err := apikey.New(t.Context(), e.store, opts)
	if err != nil {
		t.Fatalf("apikey.New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func (e *env) create(t testing.TB, id string, opts apikey.CreateOptions) (string, apikey.Key) {
	t.Helper()
	key, k, err := e.store.Create(t.Context(), id, opts)
	if err != nil {
		t.Fatalf("Create(%q): %v", id, err)
	}
	return key, k
}

func TestCreateListRevoke(t *testing.T) {
	e := newEnv(t)
	key, k := e.create(t, "acme", apikey.CreateOptions{Name: "ci", TTL: time.Hour})
	if !strings.HasPrefix(key, "pgt_"+k.Prefix+"_") || len(key) != 4+8+1+43 {
		t.Errorf("key %q... does not have the shape pgt_<prefix>_<secret>", key[:12])
	}
	if k.Tenant != "acme" || k.Name != "ci" || k.ExpiresAt == nil || k.RevokedAt != nil {
		t.Errorf("Create = %+v", k)
	}
	key2, _ := e.create(t, "acme", apikey.CreateOptions{})
	if key2 == key {
		t.Fatal("two keys are equal")
	}
	// The key itself is nowhere in the database: only its hash.
	var n int
	if err := e.db.QueryRowContext(t.Context(),
		`SELECT count(*) FROM api_keys WHERE position($1 in encode(hash, 'escape')) > 0 OR prefix = $1`, key).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the key is stored in clear")
	}
	ks, err := e.store.List(t.Context(), "acme")
	if err != nil || len(ks) != 2 {
		t.Fatalf("List(acme) = %v, %v; want 2 keys", ks, err)
	}
	if ks, _ := e.store.List(t.Context(), "globex"); len(ks) != 0 {
		t.Errorf("List(globex) = %v; want none", ks)
	}
	if err := e.store.Revoke(t.Context(), "globex", k.Prefix); !errors.Is(err, apikey.ErrNotFound) {
		t.Errorf("Revoke(globex, acme's key) = %v; want ErrNotFound", err)
	}
	if err := e.store.Revoke(t.Context(), "acme", k.Prefix); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if err := e.store.Revoke(t.Context(), "", k.Prefix); err != nil {
		t.Errorf("Revoke again: %v; want nil", err)
	}
	if err := e.store.Revoke(t.Context(), "", "zzzzzzzz"); !errors.Is(err, apikey.ErrNotFound) {
		t.Errorf("Revoke(unknown) = %v; want ErrNotFound", err)
	}
	if err := e.store.Revoke(t.Context(), "", "'; drop"); !errors.Is(err, apikey.ErrNotFound) {
		t.Errorf("Revoke(hostile) = %v; want ErrNotFound", err)
	}
	ks, _ = e.store.List(t.Context(), "acme")
	if ks[0].Prefix != k.Prefix || ks[0].RevokedAt == nil {
		t.Errorf("after Revoke, List(acme)[0] = %+v; want revoked", ks[0])
	}
	if _, _, err := e.store.Create(t.Context(), "nosuch", apikey.CreateOptions{}); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("Create(nosuch) = %v; want tenant.ErrNotFound", err)
	}
	if _, _, err := e.store.Create(t.Context(), "Bad;id", apikey.CreateOptions{}); !errors.Is(err, tenant.ErrInvalidID) {
		t.Errorf("Create(Bad;id) = %v; want tenant.ErrInvalidID", err)
	}
}

func TestVerify(t *testing.T) {
	e := newEnv(t)
	a := e.authenticator(t, apikey.Options{})
	good, gk := e.create(t, "acme", apikey.CreateOptions{})
	expired, _ := e.create(t, "acme", apikey.CreateOptions{TTL: time.Nanosecond})
	revoked, rk := e.create(t, "globex", apikey.CreateOptions{})
	if err := e.store.Revoke(t.Context(), "", rk.Prefix); err != nil {
		t.Fatal(err)
	}
	// The right prefix with another secret.
	forged := good[:len(good)-1] + "A"
	if forged == good {
		forged = good[:len(good)-1] + "B"
	}
	tests := []struct {
		name   string
		key    string
		tenant string
	}{
		{"valid", good, "acme"},
		{"valid, cached", good, "acme"},
		{"expired", expired, ""},
		{"revoked", revoked, ""},
		{"forged secret", forged, ""},
		{"unknown prefix", "pgt_zzzzzzzz_" + good[13:], ""},
		{"malformed", "pgt_abc", ""},
		{"too long", good + "A", ""},
		{"hostile", "pgt_'drop;--_" + good[13:], ""},
	}
	for _, tc := range tests {
		p, err := a.Verify(t.Context(), tc.key)
		if tc.tenant == "" {
			if !errors.Is(err, tenant.ErrUnauthenticated) {
				t.Errorf("%s: Verify = %+v, %v; want ErrUnauthenticated", tc.name, p, err)
			}
			if err != nil && len(tc.key) > 13 && strings.Contains(err.Error(), tc.key[13:]) {
				t.Errorf("%s: error %q holds the key", tc.name, err)
			}
			continue
		}
		if err != nil || p != (tenant.Principal{Tenant: tc.tenant, Subject: gk.Prefix}) {
			t.Errorf("%s: Verify = %+v, %v; want tenant %s", tc.name, p, err, tc.tenant)
		}
	}

	// Last use is written in batches, by Flush or the interval.
	a.Flush()
	ks, _ := e.store.List(t.Context(), "acme")
	for _, k := range ks {
		if (k.Prefix == gk.Prefix) != (k.LastUsedAt != nil) {
			t.Errorf("key %s LastUsedAt = %v", k.Prefix, k.LastUsedAt)
		}
	}
}

// TestVerifyCacheHitNoQuery proves a verified key is checked again without
// the database: with the database gone, the cached key still verifies,
// while an uncached one fails as unavailable.
func TestVerifyCacheHitNoQuery(t *testing.T) {
	cfg := migs.NewDatabase(t)
	migs.NewTenant(t, cfg, "acme")
	db := tenanttest.Open(t, cfg)
	store := apikey.NewStore(db)
	key, _, err := store.Create(t.Context(), "acme", apikey.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := store.Create(t.Context(), "acme", apikey.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := apikey.New(t.Context(), store, apikey.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Verify(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if p, err := a.Verify(t.Context(), key); err != nil || p.Tenant != "acme" {
		t.Errorf("cached Verify with the database closed = %+v, %v; want acme", p, err)
	}
	if _, err := a.Verify(t.Context(), other); !errors.Is(err, tenant.ErrUnavailable) {
		t.Errorf("uncached Verify with the database closed = %v; want ErrUnavailable", err)
	}
}

// TestRevocationReachesOtherProcess revokes a key through one store while
// two Authenticators (as two API processes would) hold it in their caches:
// both refuse it as soon as the notification arrives, long before the cache
// TTL.
func TestRevocationReachesOtherProcess(t *testing.T) {
	e := newEnv(t)
	var iv1, iv2 invalidations
	a1 := e.authenticator(t, apikey.Options{DSN: e.dsn, CacheTTL: time.Hour, OnInvalidate: iv1.seen})
	a2 := e.authenticator(t, apikey.Options{DSN: e.dsn, CacheTTL: time.Hour, OnInvalidate: iv2.seen})
	key, k := e.create(t, "acme", apikey.CreateOptions{})
	for _, a := range []*apikey.Authenticator{a1, a2} {
		if _, err := a.Verify(t.Context(), key); err != nil {
			t.Fatalf("Verify before revocation: %v", err)
		}
	}
	// Another process revokes: its own store, its own connection.
	other := apikey.NewStore(tenanttest.Open(t, e.cfg))
	if err := other.Revoke(t.Context(), "acme", k.Prefix); err != nil {
		t.Fatal(err)
	}
	iv1.wait(t, k.Prefix)
	iv2.wait(t, k.Prefix)
	for i, a := range []*apikey.Authenticator{a1, a2} {
		if _, err := a.Verify(t.Context(), key); !errors.Is(err, tenant.ErrUnauthenticated) {
			t.Errorf("authenticator %d: Verify after revocation = %v; want ErrUnauthenticated", i+1, err)
		}
	}
}

// TestRevocationWithinTTL: without a listener, a revoked key is refused once
// its cache entry is older than CacheTTL.
func TestRevocationWithinTTL(t *testing.T) {
	e := newEnv(t)
	a := e.authenticator(t, apikey.Options{CacheTTL: time.Nanosecond})
	key, k := e.create(t, "acme", apikey.CreateOptions{})
	if _, err := a.Verify(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Revoke(t.Context(), "acme", k.Prefix); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(t.Context(), key); !errors.Is(err, tenant.ErrUnauthenticated) {
		t.Errorf("Verify after revocation and TTL = %v; want ErrUnauthenticated", err)
	}
}

func TestAuthenticateHeader(t *testing.T) {
	e := newEnv(t)
	a := e.authenticator(t, apikey.Options{})
	key, k := e.create(t, "acme", apikey.CreateOptions{})
	for _, tc := range []struct {
		auth string
		ok   bool
	}{
		{"Bearer " + key, true},
		{"bearer " + key, true},
		{"Bearer  " + key, false},
		{key, false},
		{"Basic " + key, false},
		{"", false},
	} {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		p, err := a.Authenticate(r)
		if tc.ok != (err == nil) || tc.ok && p != (tenant.Principal{Tenant: "acme", Subject: k.Prefix}) {
			t.Errorf("Authenticate(%.10q...) = %+v, %v; ok want %v", tc.auth, p, err, tc.ok)
		}
	}
}

// FuzzAuthenticate sends any Authorization header to an Authenticator with
// one real key: only that key is accepted, every other header is refused
// with an error wrapping ErrUnauthenticated that does not quote it, and
// nothing panics or fails as unavailable (hostile input never reaches SQL
// but as a validated prefix).
func FuzzAuthenticate(f *testing.F) {
	e := newEnv(f)
	a := e.authenticator(f, apikey.Options{})
	key, k := e.create(f, "acme", apikey.CreateOptions{})
	for _, s := range []string{"Bearer " + key, "Bearer " + key[:len(key)-1] + "x", "Bearer pgt_aaaaaaaa_" + key[13:],
		"bearer " + key, "Bearer " + key + "=", "Bearer pgt_'or1=1_" + key[13:], "Basic " + key, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{h}
		p, err := a.Authenticate(r)
		if err == nil {
			if _, tok, _ := strings.Cut(h, " "); tok != key || p != (tenant.Principal{Tenant: "acme", Subject: k.Prefix}) {
				t.Fatalf("Authenticate(%q) = %+v; only the created key may pass", h, p)
			}
			return
		}
		if !errors.Is(err, tenant.ErrUnauthenticated) {
			t.Fatalf("Authenticate(%q) error %v; want ErrUnauthenticated", h, err)
		}
		if len(h) > 20 && strings.Contains(err.Error(), h[len(h)-12:]) {
			t.Fatalf("Authenticate error %q quotes the header", err)
		}
	})
}
