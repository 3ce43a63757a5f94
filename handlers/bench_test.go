package handlers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
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
