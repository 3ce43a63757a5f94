package handlers

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/tenant"
)

// benchEnv is a test environment whose tenant alpha has 100 users.
func benchEnv(b *testing.B, mode tenant.Mode) (*testEnv, []*ent.User) {
	e := newTestEnv(b, mode)
	client, release, err := e.reg.Acquire(b.Context(), "alpha")
	if err != nil {
		b.Fatal(err)
	}
	defer release()
	bulk := make([]*ent.UserCreate, 100)
	for i := range bulk {
		bulk[i] = client.User.Create().SetEmail(fmt.Sprintf("bench%03d@example.com", i)).SetName("Bench")
	}
	users, err := client.User.CreateBulk(bulk...).Save(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	return e, users
}

func benchmarkRoute(b *testing.B, path func(users []*ent.User, i int) string) {
	for _, mode := range modes {
		b.Run(mode.String(), func(b *testing.B) {
			e, users := benchEnv(b, mode)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, path(users, i), nil)
				r.Header.Set("X-Tenant-ID", "alpha")
				w := httptest.NewRecorder()
				e.h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
				i++
			}
		})
	}
}

// BenchmarkListUsers is GET /users on a tenant with 100 users, through
// Routes (router, middleware, registry, Ent, PostgreSQL, JSON).
func BenchmarkListUsers(b *testing.B) {
	benchmarkRoute(b, func([]*ent.User, int) string { return "/users" })
}

// BenchmarkGetUser is GET /users/{id}, rotating over 100 users.
func BenchmarkGetUser(b *testing.B) {
	benchmarkRoute(b, func(users []*ent.User, i int) string { return "/users/" + users[i%len(users)].ID.String() })
}

// BenchmarkCreateUser is POST /users with a new address each time, through
// Routes (router, middleware, decoding, validation, Ent, PostgreSQL, JSON).
func BenchmarkCreateUser(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode.String(), func(b *testing.B) {
			e := newTestEnv(b, mode)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				body := fmt.Sprintf(`{"email":"bench%d@example.com","name":"Bench User"}`, i)
				r := httptest.NewRequest(http.MethodPost, "/users", strings.NewReader(body))
				r.Header.Set("X-Tenant-ID", "alpha")
				w := httptest.NewRecorder()
				e.h.ServeHTTP(w, r)
				if w.Code != http.StatusCreated {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
				i++
			}
		})
	}
}

// BenchmarkHealth is GET /health through Routes: the middleware every request
// passes (request id, request log line as JSON, metrics, recoverer,
// timeout) and chi's routing, with no database access and no network.
func BenchmarkHealth(b *testing.B) {
	e := newTestEnv(b, tenant.SearchPath)
	h := New(slog.New(slog.NewJSONHandler(io.Discard, nil)), e.reg, Options{}).Routes()
	r := httptest.NewRequest(http.MethodGet, "/health", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkDecodeCreateUser is the decoding and validation of a POST /users
// body alone, without a router or a database.
func BenchmarkDecodeCreateUser(b *testing.B) {
	a := &API{maxBody: DefaultMaxBodyBytes, validate: newValidator()}
	const body = `{"email":"bench@example.com","name":"Bench User"}`
	r := httptest.NewRequest(http.MethodPost, "/users", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		r.Body = io.NopCloser(strings.NewReader(body))
		if _, err := decode[createUserRequest](a, w, r); err != nil {
			b.Fatal(err)
		}
	}
}
