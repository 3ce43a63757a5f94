package tenant_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pgtenant/pgtenant/tenant"
)

// tokenAuth accepts "Bearer good-<tenant>" for any tenant, with subject
// "sub-<tenant>", and counts its calls.
func tokenAuth(calls *int) tenant.Authenticator {
	return tenant.AuthenticatorFunc(func(r *http.Request) (tenant.Principal, error) {
		*calls++
		tok, err := tenant.BearerToken(r)
		if err != nil {
			return tenant.Principal{}, err
		}
		id, ok := strings.CutPrefix(tok, "good-")
		if !ok {
			return tenant.Principal{}, fmt.Errorf("%w: unknown token", tenant.ErrUnauthenticated)
		}
		return tenant.Principal{Tenant: id, Subject: "sub-" + id}, nil
	})
}

func TestMiddlewareAuthenticator(t *testing.T) {
	reg := mwSetup(t, tenant.SearchPath,
		mwTenant{id: "acme", status: "active", schema: true},
		mwTenant{id: "other", status: "active", schema: true},
		mwTenant{id: "paused", status: "suspended", schema: true},
	)
	var calls int
	var seen tenant.Principal
	h := tenant.Middleware(reg, tenant.MiddlewareOptions{Authenticator: tokenAuth(&calls)})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen, _ = tenant.PrincipalFromContext(r.Context())
			id, _ := tenant.FromContext(r.Context())
			fmt.Fprint(w, id)
		}))
	tests := []struct {
		name   string
		auth   []string
		header []string
		status int
		body   string
	}{
		{name: "no credential", status: 401},
		{name: "no credential, tenant header", header: []string{"acme"}, status: 401},
		{name: "not bearer", auth: []string{"Basic Zm9vOmJhcg=="}, status: 401},
		{name: "bearer without token", auth: []string{"Bearer "}, status: 401},
		{name: "two tokens", auth: []string{"Bearer good-acme", "Bearer good-acme"}, status: 401},
		{name: "token with space", auth: []string{"Bearer good-acme x"}, status: 401},
		{name: "unknown token", auth: []string{"Bearer bad"}, status: 401},
		{name: "unknown token of unknown tenant", auth: []string{"Bearer bad-nosuch"}, status: 401},
		{name: "valid", auth: []string{"Bearer good-acme"}, status: 200, body: "acme"},
		{name: "scheme case-insensitive", auth: []string{"bearer good-acme"}, status: 200, body: "acme"},
		{name: "valid, same header", auth: []string{"Bearer good-acme"}, header: []string{"acme"}, status: 200, body: "acme"},
		{name: "valid, other tenant header", auth: []string{"Bearer good-acme"}, header: []string{"other"}, status: 403},
		{name: "valid, two tenant headers", auth: []string{"Bearer good-acme"}, header: []string{"acme", "other"}, status: 403},
		{name: "valid, suspended tenant", auth: []string{"Bearer good-paused"}, status: 403},
		{name: "valid, unknown tenant", auth: []string{"Bearer good-nosuch"}, status: 403},
		{name: "valid, invalid tenant id", auth: []string{"Bearer good-A"}, status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen = tenant.Principal{}
			r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/users", nil)
			for _, v := range tc.auth {
				r.Header.Add("Authorization", v)
			}
			for _, v := range tc.header {
				r.Header.Add("X-Tenant-ID", v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status = %d; want %d (body %s)", w.Code, tc.status, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); (tc.status == 401) != (got == "Bearer") {
				t.Errorf("WWW-Authenticate = %q with status %d", got, w.Code)
			}
			if tc.status == 200 {
				if w.Body.String() != tc.body {
					t.Errorf("body = %q; want %q", w.Body, tc.body)
				}
				if want := (tenant.Principal{Tenant: tc.body, Subject: "sub-" + tc.body}); seen != want {
					t.Errorf("principal = %+v; want %+v", seen, want)
				}
			}
		})
	}
	// Refused credentials never reach the registry: only the requests
	// with a valid credential looked a tenant up.
	if st := reg.Stats(); st.Clients > 2 {
		t.Errorf("registry opened %d pools; want at most 2 (acme, other)", st.Clients)
	}
}

// TestMiddlewareUnauthenticatedTouchesNoTenant proves that a refused
// credential is answered before any directory lookup: the registry counts
// no hit and no miss.
func TestMiddlewareUnauthenticatedTouchesNoTenant(t *testing.T) {
	reg := mwSetup(t, tenant.SearchPath, mwTenant{id: "acme", status: "active", schema: true})
	var calls int
	h := tenant.Middleware(reg, tenant.MiddlewareOptions{Authenticator: tokenAuth(&calls)})(mwCountUsers)
	for _, auth := range []string{"", "Bearer bad-acme", "Bearer good-acme extra"} {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/users", nil)
		r.Header.Set("X-Tenant-ID", "acme")
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status = %d; want 401", auth, w.Code)
		}
	}
	if st := reg.Stats(); st.Hits != 0 || st.Misses != 0 || st.Clients != 0 {
		t.Errorf("after refused credentials: hits %d, misses %d, pools %d; want none", st.Hits, st.Misses, st.Clients)
	}
	if calls != 3 {
		t.Errorf("authenticator called %d times; want 3", calls)
	}
}

func TestHeaderAuthIsHeaderMode(t *testing.T) {
	reg := mwSetup(t, tenant.SearchPath, mwTenant{id: "acme", status: "active", schema: true})
	h := tenant.Middleware(reg, tenant.MiddlewareOptions{Authenticator: tenant.HeaderAuth{}})(mwCountUsers)
	for _, tc := range []struct {
		id     string
		status int
	}{{"", 400}, {"ACME", 400}, {"nosuch", 404}, {"acme", 200}} {
		if w := mwServe(t, h, tc.id); w.Code != tc.status {
			t.Errorf("X-Tenant-ID %q: status = %d; want %d", tc.id, w.Code, tc.status)
		}
	}
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		header string
		token  string
	}{
		{"Bearer abc", "abc"},
		{"BEARER a.b-c_d~e+f/g==", "a.b-c_d~e+f/g=="},
		{"Bearer", ""},
		{"Bearer  abc", ""},
		{"Bearer abc ", ""},
		{"Bearer =abc", ""},
		{"Bearer ab=c", ""},
		{"Basic abc", ""},
		{"Bearer ab\x00c", ""},
		{"Bearer " + strings.Repeat("a", 8<<10+1), ""},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", tc.header)
		got, err := tenant.BearerToken(r)
		if got != tc.token || (err == nil) != (tc.token != "") {
			t.Errorf("BearerToken(%.20q) = %q, %v; want %q", tc.header, got, err, tc.token)
		}
		if err != nil && strings.Contains(err.Error(), "abc") {
			t.Errorf("BearerToken(%.20q) error %q quotes the header", tc.header, err)
		}
	}
}

// FuzzBearerToken checks that any Authorization header yields either a
// token that is a valid RFC 6750 b64token taken verbatim from the header, or
// an error wrapping ErrUnauthenticated that does not quote the header.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Bearer ", "Basic x", "Bearer a b", "Bearer ==", "Bearer pgt_abcd1234_" + strings.Repeat("x", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{h}
		tok, err := tenant.BearerToken(r)
		if err != nil {
			if !errors.Is(err, tenant.ErrUnauthenticated) {
				t.Fatalf("BearerToken error %v does not wrap ErrUnauthenticated", err)
			}
			if len(h) >= 7+12 && strings.Contains(err.Error(), h[7:]) {
				t.Fatalf("BearerToken error %q quotes the header", err)
			}
			return
		}
		if tok == "" || !strings.HasSuffix(h, tok) || len(h) != len("Bearer ")+len(tok) {
			t.Fatalf("BearerToken(%q) = %q", h, tok)
		}
		for _, c := range []byte(tok) {
			if c <= ' ' || c >= 0x7f || c == ',' || c == '"' || c == '\\' {
				t.Fatalf("BearerToken(%q) = %q holds %q", h, tok, c)
			}
		}
	})
}
