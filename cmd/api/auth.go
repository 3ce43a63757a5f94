package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/apikey"
	"github.com/pgtenant/pgtenant/tenant/jwtauth"
)

// authModes are the values of TENANT_AUTH.
var authModes = []string{"header", "apikey", "jwt"}

// jwtConfig is the configuration of TENANT_AUTH=jwt.
type jwtConfig struct {
	JWKSURL     string
	KeyFile     string
	HMACSecret  string
	Issuer      string
	Audience    string
	TenantClaim string
	Algorithms  string // comma-separated; "": the key's default
	Leeway      time.Duration
}

// LogValue logs j without the HMAC secret.
func (j jwtConfig) LogValue() slog.Value {
	secret := ""
	if j.HMACSecret != "" {
		secret = "(set)"
	}
	return slog.GroupValue(
		slog.String("jwks_url", j.JWKSURL),
		slog.String("key_file", j.KeyFile),
		slog.String("hmac_secret", secret),
		slog.String("issuer", j.Issuer),
		slog.String("audience", j.Audience),
		slog.String("tenant_claim", j.TenantClaim),
		slog.String("algorithms", j.Algorithms),
		slog.Duration("leeway", j.Leeway),
	)
}

// checkAuth makes the authentication mode explicit where it matters: a
// configured database served beyond loopback must not trust X-Tenant-ID by
// default. Elsewhere (development) the default is header.
func (c *Config) checkAuth() error {
	if c.Auth == "" {
		if c.DatabaseURLSet && !isLoopback(c.Addr) {
			return fmt.Errorf("TENANT_AUTH is not set: serving DATABASE_URL on %s, beyond loopback, needs an explicit choice of header (trusts X-Tenant-ID from anyone), apikey or jwt", c.Addr)
		}
		c.Auth = "header"
	}
	if c.Auth != "jwt" {
		return nil
	}
	n := 0
	for _, s := range []string{c.JWT.JWKSURL, c.JWT.KeyFile, c.JWT.HMACSecret} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return errors.New("TENANT_AUTH=jwt needs exactly one of JWT_JWKS_URL, JWT_KEY_FILE and JWT_HMAC_SECRET")
	}
	if c.JWT.Issuer == "" || c.JWT.Audience == "" {
		return errors.New("TENANT_AUTH=jwt needs JWT_ISSUER and JWT_AUDIENCE")
	}
	if c.JWT.TenantClaim == "" {
		return errors.New("JWT_TENANT_CLAIM: empty")
	}
	return nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// isLoopback reports whether addr (host:port) listens on loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newAuthenticator returns the tenant.Authenticator of cfg.Auth (nil for
// header: the middleware's own X-Tenant-ID path) and a function releasing
// it.
func newAuthenticator(ctx context.Context, cfg Config, store *apikey.Store, log *slog.Logger) (tenant.Authenticator, func(), error) {
	switch cfg.Auth {
	case "apikey":
		a, err := apikey.New(ctx, store, apikey.Options{DSN: cfg.DatabaseURL, Logger: log})
		if err != nil {
			return nil, nil, fmt.Errorf("api keys: %w", err)
		}
		return a, func() { a.Close() }, nil
	case "jwt":
		j := cfg.JWT
		opts := jwtauth.Options{
			JWKSURL:     j.JWKSURL,
			Issuer:      j.Issuer,
			Audience:    j.Audience,
			TenantClaim: j.TenantClaim,
			Algorithms:  splitList(j.Algorithms),
			Leeway:      j.Leeway,
			Logger:      log,
		}
		switch {
		case j.HMACSecret != "":
			opts.Key = []byte(j.HMACSecret)
			if opts.Algorithms == nil {
				opts.Algorithms = []string{"HS256"}
			}
		case j.KeyFile != "":
			pem, err := os.ReadFile(j.KeyFile)
			if err != nil {
				return nil, nil, fmt.Errorf("JWT_KEY_FILE: %w", err)
			}
			k, err := jwtauth.ParseKey(pem)
			if err != nil {
				return nil, nil, fmt.Errorf("JWT_KEY_FILE %s: %w", j.KeyFile, err)
			}
			opts.Key = k
			if opts.Algorithms == nil {
				switch k.KeyType() {
				case jwa.EC():
					opts.Algorithms = []string{"ES256"}
				case jwa.OKP():
					opts.Algorithms = []string{"EdDSA"}
				default:
					opts.Algorithms = []string{"RS256"}
				}
			}
		default:
			if opts.Algorithms == nil {
				opts.Algorithms = []string{"RS256", "ES256"}
			}
		}
		a, err := jwtauth.New(ctx, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("jwt: %w", err)
		}
		return a, func() { a.Close() }, nil
	}
	return nil, func() {}, nil
}
