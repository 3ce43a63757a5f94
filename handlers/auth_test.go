package handlers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/apikey"
)

// keyEnv is a testEnv whose API authenticates tenant requests with API
// keys; admin requests use testAdminToken.
type keyEnv struct {
	*testEnv
	keys *apikey.Authenticator
	// invalidated receives the prefixes the authenticator dropped on
	// notification.
	invalidated chan string
}

func newKeyEnv(t *testing.T, mode tenant.Mode) *keyEnv {
	t.Helper()
	e := newTestEnv(t, mode, withAdmin)
	ke := &keyEnv{testEnv: e, invalidated: make(chan string, 16)}
	store := apikey.NewStore(e.reg.DB())
	var err error
	ke.keys, err = apikey.New(t.Context(), store, apikey.Options{
		DSN:          e.dsn,
		OnInvalidate: func(p string) { ke.invalidated <- p },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ke.keys.Close() })
	opts := e.api.opts
	opts.Authenticator = ke.keys
	opts.Keys = store
	e.api = New(e.api.log, e.reg, opts)
	e.h = e.api.Routes()
	return ke
}

// createKey creates a key of tenant id through the admin route.
func (ke *keyEnv) createKey(t *testing.T, id, reqBody string) createdKeyResponse {
	t.Helper()
	w := ke.expect(t, req{method: "POST", path: "/admin/tenants/" + id + "/keys", token: testAdminToken, body: reqBody}, http.StatusCreated)
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("POST keys Cache-Control = %q; want no-store", cc)
	}
	return body[createdKeyResponse](t, w)
}

func TestAPIKeyMode(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			ke := newKeyEnv(t, mode)
			alpha := ke.createKey(t, "alpha", `{"name":"ci","expiresIn":"720h"}`)
			beta := ke.createKey(t, "beta", `{}`)
			if alpha.Key == "" || alpha.Prefix == "" || alpha.TenantID != "alpha" || alpha.Name != "ci" || alpha.ExpiresAt == nil {
				t.Fatalf("POST keys = %+v", alpha.keyResponse)
			}

			// The tenant comes from the key; X-Tenant-ID is optional and
			// must agree.
			ke.expect(t, req{method: "GET", path: "/users", token: alpha.Key}, http.StatusOK)
			ke.expect(t, req{method: "GET", path: "/users", token: alpha.Key, tenant: "alpha"}, http.StatusOK)
			ke.expect(t, req{method: "GET", path: "/users", token: alpha.Key, tenant: "beta"}, http.StatusForbidden)
			ke.expect(t, req{method: "GET", path: "/users-async", token: beta.Key}, http.StatusOK)
			u := ke.createUserWith(t, alpha.Key, "a@example.com")
			// beta's key does not reach alpha's user.
			ke.expect(t, req{method: "GET", path: "/users/" + u, token: beta.Key}, http.StatusNotFound)

			// Missing or bad credentials: 401, the same for every tenant,
			// existing or not.
			for _, rq := range []req{
				{method: "GET", path: "/users", tenant: "alpha"},
				{method: "GET", path: "/users", tenant: "nosuch"},
				{method: "GET", path: "/users"},
				{method: "GET", path: "/users", token: "pgt_aaaaaaaa_" + strings.Repeat("A", 43), tenant: "alpha"},
				{method: "GET", path: "/users", token: alpha.Key[:len(alpha.Key)-2] + "xx"},
				{method: "GET", path: "/users", token: testAdminToken},
			} {
				w := ke.expect(t, rq, http.StatusUnauthorized)
				if got := w.Header().Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("401 WWW-Authenticate = %q; want Bearer", got)
				}
				if got := w.Body.String(); got != "{\"error\":\"Unauthorized\"}\n" {
					t.Errorf("401 body = %q", got)
				}
			}

			// An expired key.
			expired := ke.createKey(t, "alpha", `{"expiresIn":"1ns"}`)
			ke.expect(t, req{method: "GET", path: "/users", token: expired.Key}, http.StatusUnauthorized)

			// Listing shows prefixes, never keys.
			w := ke.expect(t, req{method: "GET", path: "/admin/tenants/alpha/keys", token: testAdminToken}, http.StatusOK)
			if strings.Contains(w.Body.String(), alpha.Key) || !strings.Contains(w.Body.String(), alpha.Prefix) {
				t.Errorf("GET keys = %s; want prefixes and no key", w.Body)
			}
			if ks := body[[]keyResponse](t, w); len(ks) != 2 {
				t.Errorf("GET keys listed %d keys; want 2", len(ks))
			}

			// Revocation: at once, through the notification.
			ke.expect(t, req{method: "DELETE", path: "/admin/tenants/beta/keys/" + alpha.Prefix, token: testAdminToken}, http.StatusNotFound)
			ke.expect(t, req{method: "DELETE", path: "/admin/tenants/alpha/keys/" + alpha.Prefix, token: testAdminToken}, http.StatusNoContent)
			ke.waitInvalidated(t, alpha.Prefix)
			ke.expect(t, req{method: "GET", path: "/users", token: alpha.Key}, http.StatusUnauthorized)

			// A valid key of a tenant that is not active: 403.
			if _, err := ke.db.ExecContext(t.Context(), `UPDATE tenants SET status = 'suspended' WHERE id = 'beta'`); err != nil {
				t.Fatal(err)
			}
			ke.reg.Evict("beta")
			ke.expect(t, req{method: "GET", path: "/users", token: beta.Key}, http.StatusForbidden)

			// The request log names the principal by prefix; no key is logged.
			logs := ke.logs.String()
			if !strings.Contains(logs, `"principal":"`+beta.Prefix+`"`) {
				t.Errorf("no request log line with principal %s", beta.Prefix)
			}
			for _, k := range []string{alpha.Key[13:], beta.Key[13:], expired.Key[13:], testAdminToken} {
				if strings.Contains(logs, k) {
					t.Errorf("a secret is in the logs")
				}
			}
		})
	}
}

func (ke *keyEnv) createUserWith(t *testing.T, key, email string) string {
	t.Helper()
	return body[userResponse](t, ke.expect(t, req{method: "POST", path: "/users", token: key,
		body: `{"email":"` + email + `","name":"A"}`}, http.StatusCreated)).ID.String()
}

func (ke *keyEnv) waitInvalidated(t *testing.T, prefix string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case p := <-ke.invalidated:
			if p == prefix || p == "" {
				return
			}
		case <-timeout:
			t.Fatalf("key %s not invalidated within 10s", prefix)
		}
	}
}

// String returns everything written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// BenchmarkGetUserAuth is GET /users/{id} through Routes in header mode
// and in apikey mode (the key cached), both sending the key: the difference
// is the cost of authentication per request.
func BenchmarkGetUserAuth(b *testing.B) {
	e, users := benchEnv(b, tenant.SearchPath)
	store := apikey.NewStore(e.reg.DB())
	keys, err := apikey.New(b.Context(), store, apikey.Options{DSN: e.dsn})
	if err != nil {
		b.Fatal(err)
	}
	defer keys.Close()
	key, _, err := store.Create(b.Context(), "alpha", apikey.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	withKeys := New(e.api.log, e.reg, Options{Authenticator: keys, Keys: store})
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"header", e.h}, {"apikey", withKeys.Routes()}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, "/users/"+users[i%len(users)].ID.String(), nil)
				r.Header.Set("X-Tenant-ID", "alpha")
				r.Header.Set("Authorization", "Bearer "+key)
				w := httptest.NewRecorder()
				tc.h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
				i++
			}
		})
	}
}
