package tenant

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Authenticator binds a request to its tenant by a credential. Middleware
// calls it first, before any lookup of the tenant, so a refused credential
// costs no database work in the tenant's schema and tells the caller
// nothing about whether the tenant exists. Implementations must be safe for
// concurrent use.
//
// The package provides [HeaderAuth]; the packages tenant/apikey and
// tenant/jwtauth provide per-tenant API keys and JWTs from an identity
// provider.
type Authenticator interface {
	// Authenticate returns the principal of r. A missing, malformed,
	// unknown, expired or revoked credential is an error wrapping
	// ErrUnauthenticated; the error must not contain the credential.
	// Other errors (ErrUnavailable, ...) are answered as by Middleware.
	Authenticate(r *http.Request) (Principal, error)
}

// AuthenticatorFunc adapts a function to an Authenticator.
type AuthenticatorFunc func(r *http.Request) (Principal, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (Principal, error) { return f(r) }

// Principal is who made a request and for which tenant.
type Principal struct {
	// Tenant is the tenant id the credential belongs to.
	Tenant string
	// Subject names the credential for logs: an API key's public prefix, a
	// JWT's subject. It is empty when no credential was checked (HeaderAuth);
	// it never holds a secret.
	Subject string
}

// ErrUnauthenticated is wrapped by the errors of an Authenticator that
// refuses a request's credential. Middleware answers it 401 with
// "WWW-Authenticate: Bearer".
var ErrUnauthenticated = errors.New("tenant: unauthenticated")

// HeaderAuth is the Authenticator that trusts the X-Tenant-ID header
// (Header), as Middleware does without one. It proves nothing about the
// caller: use it only behind a gateway that authenticates requests and sets
// the header itself. A missing header is ErrMissingID (400), not
// ErrUnauthenticated.
type HeaderAuth struct{}

// Authenticate returns the tenant named by the X-Tenant-ID header, with an
// empty Subject.
func (HeaderAuth) Authenticate(r *http.Request) (Principal, error) {
	id := r.Header.Get(Header)
	if id == "" {
		return Principal{}, ErrMissingID
	}
	return Principal{Tenant: id}, nil
}

// The refusals of BearerToken; their texts quote nothing of the header.
var (
	errMissingAuthorization   = fmt.Errorf("%w: no Authorization header", ErrUnauthenticated)
	errMalformedAuthorization = fmt.Errorf("%w: malformed Authorization header", ErrUnauthenticated)
)

// BearerToken returns the token of r's "Authorization: Bearer <token>"
// header (RFC 6750: the scheme is case-insensitive; the token is one or more
// characters of the b64token alphabet, nothing else). A missing header,
// several Authorization headers or any other shape is an error wrapping
// ErrUnauthenticated that does not quote the header.
func BearerToken(r *http.Request) (string, error) {
	vs := r.Header.Values("Authorization")
	switch len(vs) {
	case 0:
		return "", errMissingAuthorization
	case 1:
	default:
		return "", errMalformedAuthorization
	}
	scheme, token, ok := strings.Cut(vs[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !isB64Token(token) {
		return "", errMalformedAuthorization
	}
	return token, nil
}

// maxBearerToken bounds the tokens BearerToken accepts; JWTs of identity
// providers are a few kilobytes at most.
const maxBearerToken = 8 << 10

// isB64Token reports whether s is an RFC 6750 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	if s == "" || len(s) > maxBearerToken {
		return false
	}
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// NewPrincipalContext returns a copy of ctx carrying p: FromContext then
// returns p.Tenant and PrincipalFromContext returns p. Middleware stores the
// principal this way when it has an Authenticator.
func NewPrincipalContext(ctx context.Context, p Principal) context.Context {
	return &valueCtx{Context: ctx, id: p.Tenant, subject: p.Subject}
}

// PrincipalFromContext returns the principal stored in ctx by
// NewPrincipalContext or NewContext (which stores one with an empty
// Subject), and whether there was one.
func PrincipalFromContext(ctx context.Context) (Principal, bool) {
	c, ok := ctx.Value(ctxKey{}).(*valueCtx)
	if !ok {
		return Principal{}, false
	}
	return Principal{Tenant: c.id, Subject: c.subject}, true
}
