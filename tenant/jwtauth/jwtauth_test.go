package jwtauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/jwtauth"
)

const (
	issuer   = "https://idp.example.test/"
	audience = "pgtenant-api"
)

// signer is a private EC key with its kid.
type signer struct {
	priv jwk.Key
	pub  jwk.Key
}

func newSigner(t testing.TB, kid string) signer {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	priv.Set(jwk.KeyIDKey, kid)
	pub, err := priv.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return signer{priv: priv, pub: pub}
}

// claims is a token's claims; zero fields get valid defaults.
type claims struct {
	iss, aud, sub string
	tenant        any
	exp, nbf      time.Time
	noExp         bool
}

func (s signer) sign(t testing.TB, c claims) string {
	t.Helper()
	return signWith(t, jwa.ES256(), s.priv, c)
}

func signWith(t testing.TB, alg jwa.SignatureAlgorithm, key any, c claims) string {
	t.Helper()
	b := jwt.NewBuilder().Issuer(issuer).Audience([]string{audience}).Subject("user-1").IssuedAt(time.Now())
	if c.iss != "" {
		b = b.Issuer(c.iss)
	}
	if c.aud != "" {
		b = b.Audience([]string{c.aud})
	}
	if c.sub != "" {
		b = b.Subject(c.sub)
	}
	switch {
	case c.noExp:
	case !c.exp.IsZero():
		b = b.Expiration(c.exp)
	default:
		b = b.Expiration(time.Now().Add(time.Hour))
	}
	if !c.nbf.IsZero() {
		b = b.NotBefore(c.nbf)
	}
	if c.tenant == nil {
		c.tenant = "acme"
	}
	if c.tenant != "" {
		b = b.Claim("tenant_id", c.tenant)
	}
	tok, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(alg, key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// jwksServer serves the public keys it is given, and counts its fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []jwk.Key
	fetches atomic.Int32
}

func newJWKSServer(t testing.TB, keys ...jwk.Key) *jwksServer {
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		set := jwk.NewSet()
		for _, k := range s.keys {
			set.AddKey(k)
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(keys ...jwk.Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

func newAuth(t testing.TB, opts jwtauth.Options) *jwtauth.Authenticator {
	t.Helper()
	if opts.Issuer == "" {
		opts.Issuer = issuer
	}
	if opts.Audience == "" {
		opts.Audience = audience
	}
	if opts.Algorithms == nil {
		opts.Algorithms = []string{"ES256"}
	}
	a, err := jwtauth.New(t.Context(), opts)
	if err != nil {
		t.Fatalf("jwtauth.New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// unsigned returns a token with alg "none" and valid claims.
func unsigned(t testing.TB, kid string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	h := enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"` + kid + `"}`))
	p, _ := json.Marshal(map[string]any{"iss": issuer, "aud": audience, "sub": "user-1",
		"exp": time.Now().Add(time.Hour).Unix(), "tenant_id": "acme"})
	return h + "." + enc.EncodeToString(p) + "."
}

func TestVerifyJWKS(t *testing.T) {
	k1 := newSigner(t, "k1")
	stranger := newSigner(t, "k1") // same kid, key unknown to the JWKS
	other := newSigner(t, "k9")
	srv := newJWKSServer(t, k1.pub)
	a := newAuth(t, jwtauth.Options{JWKSURL: srv.URL})

	p, err := a.Verify(t.Context(), k1.sign(t, claims{sub: "alice"}))
	if err != nil || p != (tenant.Principal{Tenant: "acme", Subject: "alice"}) {
		t.Fatalf("Verify(valid) = %+v, %v; want acme/alice", p, err)
	}
	// Public key bytes as an HMAC secret: the classic algorithm confusion.
	var pubRaw ecdsa.PublicKey
	if err := jwk.Export(k1.pub, &pubRaw); err != nil {
		t.Fatal(err)
	}
	pubBytes, _ := pubRaw.Bytes()
	hmacKey, _ := jwk.Import(pubBytes)
	hmacKey.Set(jwk.KeyIDKey, "k1")
	noKid, _ := jwk.Import(must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)))

	refused := []struct {
		name  string
		token string
	}{
		{"signed by an unknown key", stranger.sign(t, claims{})},
		{"unknown kid", other.sign(t, claims{})},
		{"alg none", unsigned(t, "k1")},
		{"HS256 with the public key as secret", signWith(t, jwa.HS256(), hmacKey, claims{})},
		{"no kid", signWith(t, jwa.ES256(), noKid, claims{})},
		{"wrong audience", k1.sign(t, claims{aud: "someone-else"})},
		{"wrong issuer", k1.sign(t, claims{iss: "https://evil.example.test/"})},
		{"expired", k1.sign(t, claims{exp: time.Now().Add(-time.Minute)})},
		{"not yet valid", k1.sign(t, claims{nbf: time.Now().Add(time.Minute)})},
		{"no exp", k1.sign(t, claims{noExp: true})},
		{"no tenant claim", k1.sign(t, claims{tenant: ""})},
		{"tenant claim not a string", k1.sign(t, claims{tenant: 42})},
		{"hostile tenant claim", k1.sign(t, claims{tenant: "acme; drop schema"})},
		{"tampered payload", tamper(k1.sign(t, claims{}))},
		{"garbage", "not.a.jwt"},
	}
	for _, tc := range refused {
		p, err := a.Verify(t.Context(), tc.token)
		if !errors.Is(err, tenant.ErrUnauthenticated) {
			t.Errorf("%s: Verify = %+v, %v; want ErrUnauthenticated", tc.name, p, err)
		}
		if err != nil && len(tc.token) > 20 && strings.Contains(err.Error(), tc.token[len(tc.token)-20:]) {
			t.Errorf("%s: error quotes the token", tc.name)
		}
	}
	// Within the leeway, an expired token is still accepted.
	if _, err := a.Verify(t.Context(), k1.sign(t, claims{exp: time.Now().Add(-5 * time.Second)})); err != nil {
		t.Errorf("Verify(expired 5s ago, leeway 30s) = %v; want nil", err)
	}
}

// tamper changes the tenant of a signed token without re-signing it.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	p = []byte(strings.Replace(string(p), `"acme"`, `"evil"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(p)
	return strings.Join(parts, ".")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestJWKSRotation: a key published after start is accepted (its unknown
// kid fetches the JWKS again), and a key no longer published is refused
// once the JWKS was fetched again.
func TestJWKSRotation(t *testing.T) {
	k1, k2 := newSigner(t, "k1"), newSigner(t, "k2")
	srv := newJWKSServer(t, k1.pub)
	a := newAuth(t, jwtauth.Options{JWKSURL: srv.URL, MinRefreshInterval: -1})
	old := k1.sign(t, claims{})
	if _, err := a.Verify(t.Context(), old); err != nil {
		t.Fatalf("Verify(k1) = %v", err)
	}
	srv.serve(k2.pub)
	if _, err := a.Verify(t.Context(), k2.sign(t, claims{})); err != nil {
		t.Fatalf("Verify(k2) after rotation = %v; want accepted", err)
	}
	if _, err := a.Verify(t.Context(), old); !errors.Is(err, tenant.ErrUnauthenticated) {
		t.Errorf("Verify(k1) after rotation and refresh = %v; want ErrUnauthenticated", err)
	}
}

// TestJWKSRefreshRateLimited: tokens with unknown kids fetch the JWKS at
// most once per MinRefreshInterval.
func TestJWKSRefreshRateLimited(t *testing.T) {
	k1, k2 := newSigner(t, "k1"), newSigner(t, "k2")
	srv := newJWKSServer(t, k1.pub)
	a := newAuth(t, jwtauth.Options{JWKSURL: srv.URL, MinRefreshInterval: time.Hour})
	before := srv.fetches.Load()
	srv.serve(k1.pub, k2.pub)
	for i := range 20 {
		if _, err := a.Verify(t.Context(), newSigner(t, "x"+string(rune('a'+i))).sign(t, claims{})); err == nil {
			t.Fatal("Verify(unknown kid) = nil")
		}
	}
	// Right after the start fetch, no refresh is allowed: k2 is not known yet.
	if _, err := a.Verify(t.Context(), k2.sign(t, claims{})); err == nil {
		t.Error("Verify(k2) within the refresh bound = nil; want refused")
	}
	if n := srv.fetches.Load() - before; n != 0 {
		t.Errorf("unknown kids fetched the JWKS %d times within the bound; want 0", n)
	}
}

func TestStaticKey(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	a := newAuth(t, jwtauth.Options{Key: secret, Algorithms: []string{"HS256"}})
	hk, _ := jwk.Import(secret)
	if p, err := a.Verify(t.Context(), signWith(t, jwa.HS256(), hk, claims{})); err != nil || p.Tenant != "acme" {
		t.Errorf("Verify(HS256) = %+v, %v", p, err)
	}
	wrong, _ := jwk.Import([]byte("another secret of 32 bytes......"))
	if _, err := a.Verify(t.Context(), signWith(t, jwa.HS256(), wrong, claims{})); !errors.Is(err, tenant.ErrUnauthenticated) {
		t.Errorf("Verify(HS256, other secret) = %v; want ErrUnauthenticated", err)
	}
	if _, err := a.Verify(t.Context(), signWith(t, jwa.HS512(), hk, claims{})); !errors.Is(err, tenant.ErrUnauthenticated) {
		t.Errorf("Verify(HS512, not allowed) = %v; want ErrUnauthenticated", err)
	}
	if _, err := a.Verify(t.Context(), unsigned(t, "")); !errors.Is(err, tenant.ErrUnauthenticated) {
		t.Errorf("Verify(alg none) = %v; want ErrUnauthenticated", err)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	ctx := context.Background()
	secret := []byte("0123456789abcdef0123456789abcdef")
	for name, o := range map[string]jwtauth.Options{
		"no key":            {Issuer: issuer, Audience: audience, Algorithms: []string{"HS256"}},
		"no issuer":         {Key: secret, Audience: audience, Algorithms: []string{"HS256"}},
		"no audience":       {Key: secret, Issuer: issuer, Algorithms: []string{"HS256"}},
		"no algorithm":      {Key: secret, Issuer: issuer, Audience: audience},
		"alg none":          {Key: secret, Issuer: issuer, Audience: audience, Algorithms: []string{"none"}},
		"alg of other key":  {Key: secret, Issuer: issuer, Audience: audience, Algorithms: []string{"RS256"}},
		"HMAC from a JWKS":  {JWKSURL: "http://127.0.0.1:1/jwks", Issuer: issuer, Audience: audience, Algorithms: []string{"HS256"}},
		"unknown algorithm": {Key: secret, Issuer: issuer, Audience: audience, Algorithms: []string{"XX1"}},
	} {
		if a, err := jwtauth.New(ctx, o); err == nil {
			a.Close()
			t.Errorf("%s: New = nil error", name)
		} else if strings.Contains(err.Error(), string(secret)) {
			t.Errorf("%s: error %q holds the secret", name, err)
		}
	}
}

// TestPEMKeyAndCustomClaim verifies with a PEM public key (as JWT_KEY_FILE
// gives it) and reads the tenant from another claim.
func TestPEMKeyAndCustomClaim(t *testing.T) {
	raw := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	der := must(x509.MarshalPKIXPublicKey(&raw.PublicKey))
	key, err := jwtauth.ParseKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwtauth.ParseKey([]byte("not a key")); err == nil {
		t.Error("ParseKey(garbage) = nil error")
	}
	a := newAuth(t, jwtauth.Options{Key: key, TenantClaim: "org"})
	priv := must(jwk.Import(raw))
	tok, err := jwt.NewBuilder().Issuer(issuer).Audience([]string{audience}).Subject("bob").
		Expiration(time.Now().Add(time.Hour)).Claim("org", "globex").Claim("tenant_id", "acme").Build()
	if err != nil {
		t.Fatal(err)
	}
	signed := must(jwt.Sign(tok, jwt.WithKey(jwa.ES256(), priv)))
	if p, err := a.Verify(t.Context(), string(signed)); err != nil || p != (tenant.Principal{Tenant: "globex", Subject: "bob"}) {
		t.Errorf("Verify(PEM key, claim org) = %+v, %v; want globex/bob", p, err)
	}
}
