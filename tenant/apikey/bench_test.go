package apikey_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

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
