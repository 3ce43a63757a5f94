// Package jwtauth implements a tenant.Authenticator for bearer JWTs issued
// by an identity provider: signatures are checked by
// github.com/lestrrat-go/jwx against keys from a JWKS URL (refreshed in the
// background, and at once, rate-limited, when a token names an unknown key
// id) or against one static key; the issuer and audience are required; the
// tenant is read from a claim.
package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/pgtenant/pgtenant/tenant"
)

// Default values of Options.
const (
	DefaultTenantClaim        = "tenant_id"
	DefaultLeeway             = 30 * time.Second
	DefaultRefreshInterval    = 15 * time.Minute
	DefaultMinRefreshInterval = 10 * time.Second
)

// Options configure an Authenticator. Exactly one of JWKSURL and Key must be
// set, and Issuer, Audience and Algorithms are required.
type Options struct {
	// JWKSURL is the identity provider's JWKS document. Keys are picked by
	// the token's "kid"; a token without one is refused.
	JWKSURL string

	// Key is the one verification key, for tests and small setups: a
	// []byte HMAC secret, an *rsa.PublicKey, *ecdsa.PublicKey,
	// ed25519.PublicKey or a jwk.Key (see ParseKey). The token's "kid" is
	// not consulted.
	Key any

	// Algorithms are the signature algorithms accepted ("RS256",
	// "ES256", "HS256", ...). The token's "alg" header must be one of them
	// and fit the key's type; "none" is never accepted.
	Algorithms []string

	// Issuer and Audience must equal the token's "iss" and be one of its
	// "aud".
	Issuer, Audience string

	// TenantClaim names the string claim holding the tenant id. Default
	// DefaultTenantClaim ("tenant_id").
	TenantClaim string

	// Leeway is the clock skew allowed when checking "exp", "nbf" and
	// "iat". Default DefaultLeeway (30s); negative means none.
	Leeway time.Duration

	// RefreshInterval is how often the JWKS is fetched again in the
	// background. Default DefaultRefreshInterval (15m).
	RefreshInterval time.Duration

	// MinRefreshInterval bounds how often a token with an unknown "kid"
	// makes the JWKS be fetched again. Default DefaultMinRefreshInterval
	// (10s); negative means no bound.
	MinRefreshInterval time.Duration

	// HTTPClient fetches the JWKS. Default: jwx's, with timeouts.
	HTTPClient *http.Client

	// Logger receives JWKS refresh failures; nil discards them.
	Logger *slog.Logger
}

// The refusals of Verify. None quotes the token.
var (
	errToken       = fmt.Errorf("%w: invalid JWT", tenant.ErrUnauthenticated)
	errNoTenant    = fmt.Errorf("%w: JWT without a valid tenant claim", tenant.ErrUnauthenticated)
	errAlgorithm   = errors.New("algorithm not allowed")
	errNoKeyID     = errors.New("no kid")
	errUnknownKey  = errors.New("unknown kid")
	errKeyMismatch = errors.New("key does not fit the algorithm")
)

// Authenticator is the tenant.Authenticator of JWTs. It reads
// "Authorization: Bearer <jwt>" and returns the tenant of the tenant claim
// with the "sub" claim as Subject. It is safe for concurrent use; Close
// stops the JWKS refresh.
type Authenticator struct {
	opts  Options
	log   *slog.Logger
	algs  map[jwa.SignatureAlgorithm]bool
	key   jwk.Key    // Options.Key
	cache *jwk.Cache // Options.JWKSURL
	stop  context.CancelFunc

	mu          sync.Mutex
	lastRefresh time.Time
}

// New returns an Authenticator for opts. With a JWKS URL it fetches the
// JWKS first and fails if it cannot (or ctx ends first).
func New(ctx context.Context, opts Options) (*Authenticator, error) {
	if (opts.JWKSURL == "") == (opts.Key == nil) {
		return nil, errors.New("jwtauth: set exactly one of a JWKS URL and a key")
	}
	if opts.Issuer == "" || opts.Audience == "" {
		return nil, errors.New("jwtauth: issuer and audience are required")
	}
	if len(opts.Algorithms) == 0 {
		return nil, errors.New("jwtauth: no algorithm allowed")
	}
	if opts.TenantClaim == "" {
		opts.TenantClaim = DefaultTenantClaim
	}
	if opts.Leeway == 0 {
		opts.Leeway = DefaultLeeway
	}
	opts.Leeway = max(opts.Leeway, 0)
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = DefaultRefreshInterval
	}
	if opts.MinRefreshInterval == 0 {
		opts.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Authenticator{opts: opts, log: opts.Logger, algs: map[jwa.SignatureAlgorithm]bool{}}
	for _, name := range opts.Algorithms {
		alg, ok := jwa.LookupSignatureAlgorithm(name)
		if !ok || alg == jwa.NoSignature() || keyTypeOf(alg) == (jwa.KeyType{}) {
			return nil, fmt.Errorf("jwtauth: unsupported algorithm %q", name)
		}
		if opts.JWKSURL != "" && keyTypeOf(alg) == jwa.OctetSeq() {
			return nil, fmt.Errorf("jwtauth: algorithm %s needs a shared secret, which a JWKS does not publish", name)
		}
		a.algs[alg] = true
	}
	if opts.Key != nil {
		k, ok := opts.Key.(jwk.Key)
		if !ok {
			var err error
			if k, err = jwk.Import(opts.Key); err != nil {
				return nil, fmt.Errorf("jwtauth: key: %w", err)
			}
		}
		for alg := range a.algs {
			if keyTypeOf(alg) != k.KeyType() {
				return nil, fmt.Errorf("jwtauth: algorithm %s does not fit a %s key", alg, k.KeyType())
			}
		}
		a.key = k
		return a, nil
	}
	if err := a.startJWKS(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// startJWKS registers the JWKS URL with a background-refreshing cache and
// waits for its first fetch.
func (a *Authenticator) startJWKS(ctx context.Context) error {
	bg, stop := context.WithCancel(context.Background())
	cache, err := jwk.NewCache(bg, httprc.NewClient(httprc.WithErrorSink(errorSink{a.log})))
	if err != nil {
		stop()
		return fmt.Errorf("jwtauth: %w", err)
	}
	ropts := []jwk.RegisterOption{
		jwk.WithHttprcResourceOption(httprc.WithMinInterval(min(a.opts.RefreshInterval, httprc.DefaultMinInterval))),
		jwk.WithHttprcResourceOption(httprc.WithConstantInterval(a.opts.RefreshInterval)),
	}
	if a.opts.HTTPClient != nil {
		ropts = append(ropts, jwk.WithHTTPClient(a.opts.HTTPClient))
	}
	if err := cache.Register(ctx, a.opts.JWKSURL, ropts...); err != nil {
		stop()
		return fmt.Errorf("%w: jwtauth: fetch JWKS: %w", tenant.ErrUnavailable, err)
	}
	a.cache, a.stop = cache, stop
	a.lastRefresh = time.Now()
	return nil
}

// errorSink logs the background refresh failures of the JWKS cache.
type errorSink struct{ log *slog.Logger }

func (s errorSink) Put(_ context.Context, err error) {
	s.log.Warn("jwks refresh", "err", err)
}

// keyTypeOf is the key type that verifies alg, "" for none.
func keyTypeOf(alg jwa.SignatureAlgorithm) jwa.KeyType {
	switch name := alg.String(); {
	case strings.HasPrefix(name, "HS"):
		return jwa.OctetSeq()
	case strings.HasPrefix(name, "RS"), strings.HasPrefix(name, "PS"):
		return jwa.RSA()
	case strings.HasPrefix(name, "ES"):
		return jwa.EC()
	case name == "EdDSA", name == "Ed25519":
		return jwa.OKP()
	}
	return jwa.KeyType{}
}

// Authenticate implements tenant.Authenticator.
func (a *Authenticator) Authenticate(r *http.Request) (tenant.Principal, error) {
	tok, err := tenant.BearerToken(r)
	if err != nil {
		return tenant.Principal{}, err
	}
	return a.Verify(r.Context(), tok)
}

// Verify checks token's signature, issuer, audience and validity period
// and returns its tenant claim and, as Subject, its "sub". Every refusal
// wraps tenant.ErrUnauthenticated and quotes nothing of the token.
func (a *Authenticator) Verify(ctx context.Context, token string) (tenant.Principal, error) {
	tok, err := jwt.ParseString(token,
		jwt.WithKeyProvider(jws.KeyProviderFunc(a.fetchKeys)),
		jwt.WithValidate(true),
		jwt.WithIssuer(a.opts.Issuer),
		jwt.WithAudience(a.opts.Audience),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithAcceptableSkew(a.opts.Leeway),
		jwt.WithContext(ctx),
	)
	if err != nil {
		return tenant.Principal{}, fmt.Errorf("%w: %w", errToken, err)
	}
	var id string
	if err := tok.Get(a.opts.TenantClaim, &id); err != nil || tenant.ValidateID(id) != nil {
		return tenant.Principal{}, errNoTenant
	}
	sub, _ := tok.Subject()
	return tenant.Principal{Tenant: id, Subject: sanitize(sub)}, nil
}

// sanitize bounds a subject for logs: printable ASCII, at most 128 bytes.
func sanitize(s string) string {
	if len(s) > 128 {
		s = s[:128]
	}
	if strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r > '~' }) >= 0 {
		return strings.Map(func(r rune) rune {
			if r < ' ' || r > '~' {
				return '?'
			}
			return r
		}, s)
	}
	return s
}

// fetchKeys hands jwx the one key allowed to verify sig: the algorithm
// comes from the token but must be in Options.Algorithms, and the key from
// the configuration (Key, or the JWKS entry of the token's kid), which must
// fit it.
func (a *Authenticator) fetchKeys(ctx context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
	alg, ok := sig.ProtectedHeaders().Algorithm()
	if !ok || !a.algs[alg] {
		return errAlgorithm
	}
	key := a.key
	if key == nil {
		kid, ok := sig.ProtectedHeaders().KeyID()
		if !ok || kid == "" {
			return errNoKeyID
		}
		var err error
		if key, err = a.lookup(ctx, kid); err != nil {
			return err
		}
	}
	if key.KeyType() != keyTypeOf(alg) {
		return errKeyMismatch
	}
	if ka, ok := key.Algorithm(); ok && ka.String() != alg.String() {
		return errKeyMismatch
	}
	sink.Key(alg, key)
	return nil
}

// lookup returns the JWKS key kid, fetching the JWKS again (at most once per
// MinRefreshInterval) when the cached one lacks it.
func (a *Authenticator) lookup(ctx context.Context, kid string) (jwk.Key, error) {
	set, err := a.cache.Lookup(ctx, a.opts.JWKSURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", tenant.ErrUnavailable, err)
	}
	if k, ok := set.LookupKeyID(kid); ok {
		return k, nil
	}
	if !a.mayRefresh() {
		return nil, errUnknownKey
	}
	if set, err = a.cache.Refresh(ctx, a.opts.JWKSURL); err != nil {
		a.log.WarnContext(ctx, "jwks refresh", "err", err)
		return nil, errUnknownKey
	}
	if k, ok := set.LookupKeyID(kid); ok {
		return k, nil
	}
	return nil, errUnknownKey
}

// mayRefresh reports whether an unknown kid may fetch the JWKS now, and if
// so records that it does.
func (a *Authenticator) mayRefresh() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if a.opts.MinRefreshInterval > 0 && now.Sub(a.lastRefresh) < a.opts.MinRefreshInterval {
		return false
	}
	a.lastRefresh = now
	return true
}

// Close stops the background refresh of the JWKS. It is idempotent.
func (a *Authenticator) Close() error {
	if a.stop != nil {
		a.stop()
	}
	return nil
}

// ParseKey parses a PEM-encoded public key (RSA, EC or Ed25519) for
// Options.Key.
func ParseKey(pem []byte) (jwk.Key, error) {
	k, err := jwk.ParseKey(pem, jwk.WithPEM(true))
	if err != nil {
		return nil, fmt.Errorf("jwtauth: parse PEM key: %w", err)
	}
	return k, nil
}
