// Package apikey implements per-tenant API keys: bearer keys that each
// belong to one tenant, stored in public.api_keys (created with the tenant
// directory by package tenant/migrate) as SHA-256 hashes, and an [Authenticator] for
// tenant.Middleware that verifies them with a short-lived cache.
//
// A key looks like pgt_<prefix>_<secret>. The prefix is public: it names
// the key in lists, logs and revocations. The secret is 256 random bits; the
// whole key is shown once, by [Store.Create], and never stored.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/pgtenant/pgtenant/tenant"
)

// Channel is the PostgreSQL NOTIFY channel on which Store.Revoke announces
// the prefix of a revoked key; every Authenticator listening on it drops
// the key from its cache at once.
const Channel = "tenant_api_keys"

// Shape of a key: "pgt_" + prefixLen lower-case base32 characters + "_" +
// the secret, secretBytes random bytes in unpadded base64url.
const (
	keyScheme   = "pgt_"
	prefixLen   = 8
	secretBytes = 32
	secretLen   = 43 // base64.RawURLEncoding.EncodedLen(secretBytes)
	keyLen      = len(keyScheme) + prefixLen + 1 + secretLen
	maxNameLen  = 100
)

var prefixEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ErrNotFound is returned by Store.Revoke for a prefix that names no key
// (of the given tenant).
var ErrNotFound = errors.New("apikey: not found")

// Key describes a stored key. It never holds the key itself.
type Key struct {
	Prefix     string
	Tenant     string
	Name       string
	CreatedAt  time.Time
	ExpiresAt  *time.Time // nil: never expires
	LastUsedAt *time.Time // nil: never used; updated in batches, so up to a minute late
	RevokedAt  *time.Time // nil: not revoked
}

// stored is a row of public.api_keys.
type stored struct {
	Key
	hash []byte
}

// keyColumns are the columns scanKey reads, in its order.
const keyColumns = "prefix, tenant_id, name, created_at, expires_at, last_used_at, revoked_at, hash"

func scanKey(sc interface{ Scan(...any) error }) (*stored, error) {
	var k stored
	var expires, used, revoked sql.NullTime
	if err := sc.Scan(&k.Prefix, &k.Tenant, &k.Name, &k.CreatedAt, &expires, &used, &revoked, &k.hash); err != nil {
		return nil, err
	}
	k.ExpiresAt, k.LastUsedAt, k.RevokedAt = timePtr(expires), timePtr(used), timePtr(revoked)
	return &k, nil
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	return &t.Time
}

// CreateOptions are the optional properties of a new key.
type CreateOptions struct {
	// Name describes the key for its owners (at most 100 bytes).
	Name string
	// TTL, if positive, makes the key expire that long after its creation.
	TTL time.Duration
}

// Store creates, lists and revokes the keys in public.api_keys. It is safe
// for concurrent use.
type Store struct {
	db *sql.DB
}

// NewStore returns a Store over db, a pool on the database whose public
// schema holds the directory and api_keys (the Registry's DB). The Store
// does not close db.
func NewStore(db *sql.DB) *Store { return &Store{db: db} }

// Create makes a new key for tenant id and returns it with its description.
// The key is returned only here: it is stored as a hash. A tenant missing
// from the directory is tenant.ErrNotFound; an invalid id tenant.ErrInvalidID.
func (s *Store) Create(ctx context.Context, id string, opts CreateOptions) (string, Key, error) {
	if err := tenant.ValidateID(id); err != nil {
		return "", Key{}, err
	}
	if len(opts.Name) > maxNameLen || strings.ContainsRune(opts.Name, 0) {
		return "", Key{}, fmt.Errorf("apikey: name longer than %d bytes or holding NUL", maxNameLen)
	}
	if opts.TTL < 0 {
		return "", Key{}, errors.New("apikey: negative TTL")
	}
	var ok bool
	err := s.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM public.tenants WHERE id = $1)", id).Scan(&ok)
	if err != nil {
		return "", Key{}, fmt.Errorf("apikey: look up tenant %q: %w", id, err)
	}
	if !ok {
		return "", Key{}, fmt.Errorf("%w: tenant %q", tenant.ErrNotFound, id)
	}
	// A prefix has 40 random bits; a collision is retried, not reported.
	for attempt := 0; ; attempt++ {
		prefix, key := generate()
		// SHA-256 without salt or stretching is enough here: the key has 256
		// bits of entropy, so no dictionary or brute force over the input
		// space can invert the hash; slow password hashes exist for
		// low-entropy human secrets. A fast hash also keeps the per-request
		// check cheap.
		sum := sha256.Sum256([]byte(key))
		var expires *time.Time
		if opts.TTL > 0 {
			t := time.Now().Add(opts.TTL)
			expires = &t
		}
		k, err := scanKey(s.db.QueryRowContext(ctx, `
INSERT INTO public.api_keys (prefix, hash, tenant_id, name, expires_at) VALUES ($1, $2, $3, $4, $5)
RETURNING `+keyColumns, prefix, sum[:], id, opts.Name, expires))
		switch {
		case err == nil:
			return key, k.Key, nil
		case pq.As(err, pqerror.UniqueViolation) != nil && attempt < 3:
			continue
		case pq.As(err, pqerror.ForeignKeyViolation) != nil:
			// The tenant's row went away meanwhile.
			return "", Key{}, fmt.Errorf("%w: tenant %q", tenant.ErrNotFound, id)
		default:
			return "", Key{}, fmt.Errorf("apikey: create key of tenant %q: %w", id, err)
		}
	}
}

// generate returns a new prefix and the key holding it.
func generate() (prefix, key string) {
	var p [5]byte
	var secret [secretBytes]byte
	rand.Read(p[:]) // never fails (crypto/rand)
	rand.Read(secret[:])
	prefix = prefixEncoding.EncodeToString(p[:])
	return prefix, keyScheme + prefix + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
}

// parse returns the prefix of key, or false when key does not have the
// shape of a key. It reads nothing but key.
func parse(key string) (string, bool) {
	if len(key) != keyLen || !strings.HasPrefix(key, keyScheme) || key[len(keyScheme)+prefixLen] != '_' {
		return "", false
	}
	prefix := key[len(keyScheme) : len(keyScheme)+prefixLen]
	if !validPrefix(prefix) {
		return "", false
	}
	for _, c := range []byte(key[len(keyScheme)+prefixLen+1:]) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return prefix, true
}

// validPrefix reports whether p has the shape of a key prefix.
func validPrefix(p string) bool {
	if len(p) != prefixLen {
		return false
	}
	for _, c := range []byte(p) {
		if !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// List returns the keys of tenant id, oldest first, revoked ones included.
func (s *Store) List(ctx context.Context, id string) ([]Key, error) {
	if err := tenant.ValidateID(id); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+keyColumns+" FROM public.api_keys WHERE tenant_id = $1 ORDER BY created_at, prefix", id)
	if err != nil {
		return nil, fmt.Errorf("apikey: list keys of tenant %q: %w", id, err)
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("apikey: list keys of tenant %q: %w", id, err)
		}
		out = append(out, k.Key)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("apikey: list keys of tenant %q: %w", id, err)
	}
	return out, nil
}

// Revoke revokes the key with prefix, which must belong to tenant id unless
// id is "", and announces it on Channel in the same transaction, so every
// listening Authenticator stops accepting it at once. Revoking a revoked key
// does nothing. An unknown prefix (or one of another tenant) is ErrNotFound.
func (s *Store) Revoke(ctx context.Context, id, prefix string) error {
	if !validPrefix(prefix) {
		return fmt.Errorf("%w: malformed key prefix", ErrNotFound)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("apikey: revoke %s: %w", prefix, err)
	}
	defer tx.Rollback()
	// The key is locked, then revoked unless it was: revoking twice keeps
	// the first time.
	var found bool
	err = tx.QueryRowContext(ctx, `
WITH k AS (
	SELECT prefix FROM public.api_keys WHERE prefix = $1 AND ($2 = '' OR tenant_id = $2) FOR UPDATE
), up AS (
	UPDATE public.api_keys SET revoked_at = now()
	WHERE prefix IN (SELECT prefix FROM k) AND revoked_at IS NULL
)
SELECT EXISTS (SELECT 1 FROM k)`, prefix, id).Scan(&found)
	if err != nil {
		return fmt.Errorf("apikey: revoke %s: %w", prefix, err)
	}
	if !found {
		return fmt.Errorf("%w: key %s", ErrNotFound, prefix)
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", Channel, prefix); err != nil {
		return fmt.Errorf("apikey: announce revocation of %s: %w", prefix, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apikey: revoke %s: %w", prefix, err)
	}
	return nil
}

// lookup returns the stored key with prefix, nil when there is none.
func (s *Store) lookup(ctx context.Context, prefix string) (*stored, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, "SELECT "+keyColumns+" FROM public.api_keys WHERE prefix = $1", prefix))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return k, err
}

// touch records the last use of keys (prefix → time) in one statement;
// a later time already stored is kept.
func (s *Store) touch(ctx context.Context, used map[string]time.Time) error {
	prefixes := make([]string, 0, len(used))
	times := make([]string, 0, len(used))
	for p, t := range used {
		prefixes = append(prefixes, p)
		times = append(times, t.UTC().Format(time.RFC3339Nano))
	}
	_, err := s.db.ExecContext(ctx, `UPDATE public.api_keys AS k SET last_used_at = v.t
FROM unnest($1::text[], $2::timestamptz[]) AS v(p, t)
WHERE k.prefix = v.p AND (k.last_used_at IS NULL OR k.last_used_at < v.t)`,
		pq.Array(prefixes), pq.Array(times))
	return err
}
