package apikey_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/apikey"
)

// BenchmarkAuthenticateCacheHit is the per-request cost of API key
// authentication once the key is cached: header parsing, SHA-256 of the key,
// cache lookup, constant-time compare and last-use bookkeeping. It makes no
// database round trip (TestVerifyCacheHitNoQuery proves it).
//
//	go test -run - -bench AuthenticateCacheHit -benchmem ./tenant/apikey/
func BenchmarkAuthenticateCacheHit(b *testing.B) {
	e := newEnv(b)
	a := e.authenticator(b, apikey.Options{})
	key, _ := e.create(b, "acme", apikey.CreateOptions{})
	r := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/users", nil)
	r.Header.Set("Authorization", "Bearer "+key)
	if _, err := a.Authenticate(r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Authenticate(r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkMiddleware is tenant.Middleware on a resident tenant with a no-op
// handler, trusting X-Tenant-ID (header) and verifying a cached API key
// (apikey): the difference is what authentication adds to a request.
//
//	go test -run - -bench Middleware -benchmem ./tenant/apikey/
func BenchmarkMiddleware(b *testing.B) {
	e := newEnv(b)
	reg, err := tenant.New(b.Context(), e.dsn, ent.ClientForTenant, tenant.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { reg.Close(context.Background()) })
	a := e.authenticator(b, apikey.Options{})
	key, _ := e.create(b, "acme", apikey.CreateOptions{})
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, tc := range []struct {
		name string
		auth tenant.Authenticator
	}{{"header", nil}, {"apikey", a}} {
		b.Run(tc.name, func(b *testing.B) {
			h := tenant.Middleware(reg, tenant.MiddlewareOptions{Authenticator: tc.auth})(noop)
			r := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/users", nil)
			r.Header.Set("X-Tenant-ID", "acme")
			r.Header.Set("Authorization", "Bearer "+key)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r) // open the tenant's client and cache the key
			if w.Code != http.StatusOK {
				b.Fatalf("warm-up request: %d %q", w.Code, w.Body)
			}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}
