package handlers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pgtenant/pgtenant/ent"
)

func TestUsersCRUD(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		w := e.expect(t, req{method: "POST", path: "/users", tenant: "alpha", body: `{"email":"Ann@Example.COM","name":"Ann"}`}, http.StatusCreated)
		u := body[userResponse](t, w)
		if loc, want := w.Header().Get("Location"), "/users/"+u.ID.String(); loc != want {
			t.Errorf("createUser Location = %q; want %q", loc, want)
		}
		if u.Email != "ann@example.com" || u.Name != "Ann" || !u.Active || u.CreatedAt.IsZero() {
			t.Errorf("createUser = %+v; want ann@example.com, Ann, active, createdAt set", u)
		}
		// The wire format is the original's: camelCase, active present.
		var raw map[string]any
		raw = body[map[string]any](t, w)
		for _, k := range []string{"id", "email", "name", "active", "createdAt"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("user JSON %s lacks %q", w.Body, k)
			}
		}
		if len(raw) != 5 {
			t.Errorf("user JSON %s has %d keys; want 5", w.Body, len(raw))
		}

		path := "/users/" + u.ID.String()
		if got := body[userResponse](t, e.expect(t, req{method: "GET", path: path, tenant: "alpha"}, http.StatusOK)); got != u {
			t.Errorf("getUser = %+v; want %+v", got, u)
		}
		list := body[[]userResponse](t, e.expect(t, req{method: "GET", path: "/users", tenant: "alpha"}, http.StatusOK))
		if len(list) != 1 || list[0] != u {
			t.Errorf("listUsers = %+v; want [%+v]", list, u)
		}
		async := body[[]userResponse](t, e.expect(t, req{method: "GET", path: "/users-async", tenant: "alpha"}, http.StatusOK))
		if len(async) != 1 || async[0] != u {
			t.Errorf("GET /users-async = %+v; want [%+v]", async, u)
		}

		// Partial update: absent fields unchanged, active settable to false.
		upd := body[userResponse](t, e.expect(t, req{method: "PUT", path: path, tenant: "alpha", body: `{"active":false}`}, http.StatusOK))
		if upd.Active || upd.Email != u.Email || upd.Name != u.Name || upd.ID != u.ID {
			t.Errorf("updateUser(active=false) = %+v", upd)
		}
		if w := e.expect(t, req{method: "GET", path: path, tenant: "alpha"}, http.StatusOK); !strings.Contains(w.Body.String(), `"active":false`) {
			t.Errorf("getUser after deactivation = %s; want \"active\":false present", w.Body)
		}
		upd = body[userResponse](t, e.expect(t, req{method: "PUT", path: path, tenant: "alpha", body: `{"name":"Ann B","email":"ANN.B@example.com","active":null}`}, http.StatusOK))
		if upd.Name != "Ann B" || upd.Email != "ann.b@example.com" || upd.Active {
			t.Errorf("updateUser(name, email) = %+v; want Ann B, ann.b@example.com, inactive", upd)
		}
		// An empty object changes nothing.
		same := body[userResponse](t, e.expect(t, req{method: "PUT", path: path, tenant: "alpha", body: `{}`}, http.StatusOK))
		if same != upd {
			t.Errorf("updateUser({}) = %+v; want unchanged %+v", same, upd)
		}
		e.expect(t, req{method: "PUT", path: path, tenant: "alpha"}, http.StatusBadRequest)

		e.expect(t, req{method: "DELETE", path: path, tenant: "alpha"}, http.StatusNoContent)
		for _, rq := range []req{
			{method: "GET", path: path, tenant: "alpha"},
			{method: "PUT", path: path, tenant: "alpha", body: `{"name":"X"}`},
			{method: "PUT", path: path, tenant: "alpha", body: `{}`},
			{method: "DELETE", path: path, tenant: "alpha"},
		} {
			w := e.expect(t, rq, http.StatusNotFound)
			if got := body[errorBody](t, w).Error; got != "User not found" {
				t.Errorf("%s %s after delete: error = %q; want User not found", rq.method, rq.path, got)
			}
		}
	})
}

func TestUserValidation(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		u := e.createUser(t, "alpha", "val@example.com", "Val")
		long := strings.Repeat("n", 256)
		tests := []struct {
			name   string
			method string
			path   string
			body   string
			fields map[string]string
		}{
			{"missing both", "POST", "/users", `{}`, map[string]string{"email": "is required", "name": "is required"}},
			{"bad email", "POST", "/users", `{"email":"not-an-email","name":"X"}`, map[string]string{"email": "must be a valid email address"}},
			{"empty name", "POST", "/users", `{"email":"x@example.com","name":""}`, map[string]string{"name": "is required"}},
			{"long name", "POST", "/users", `{"email":"x@example.com","name":"` + long + `"}`, map[string]string{"name": "must be at most 255 characters"}},
			{"long email", "POST", "/users", `{"email":"` + long + `@example.com","name":"X"}`, map[string]string{"email": "must be at most 255 characters"}},
			{"nul in name", "POST", "/users", `{"email":"x@example.com","name":"a\u0000b"}`, map[string]string{"name": "must not contain NUL characters"}},
			{"update empty name", "PUT", "/users/" + u.ID.String(), `{"name":""}`, map[string]string{"name": "must not be empty"}},
			{"update bad email", "PUT", "/users/" + u.ID.String(), `{"email":"nope"}`, map[string]string{"email": "must be a valid email address"}},
		}
		for _, tt := range tests {
			w := e.expect(t, req{method: tt.method, path: tt.path, tenant: "alpha", body: tt.body}, http.StatusUnprocessableEntity)
			got := body[errorBody](t, w)
			if got.Error != "Validation failed" || fmt.Sprint(got.Fields) != fmt.Sprint(tt.fields) {
				t.Errorf("%s: body = %+v; want Validation failed with fields %v", tt.name, got, tt.fields)
			}
		}
		if got := body[userResponse](t, e.expect(t, req{method: "GET", path: "/users/" + u.ID.String(), tenant: "alpha"}, http.StatusOK)); got != u {
			t.Errorf("user after rejected updates = %+v; want %+v", got, u)
		}
	})
}

func TestMalformedRequests(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		u := e.createUser(t, "alpha", "mal@example.com", "Mal")
		path := "/users/" + u.ID.String()
		tests := []struct {
			name string
			rq   req
			want int
			msg  string
		}{
			{"malformed json", req{method: "POST", path: "/users", body: `{"email":`}, 400, "Malformed JSON"},
			{"not json", req{method: "POST", path: "/users", body: `hello`}, 400, "Malformed JSON"},
			{"empty body", req{method: "POST", path: "/users"}, 400, "Request body must be a JSON object"},
			{"array", req{method: "POST", path: "/users", body: `[]`}, 400, "Request body must be a JSON object"},
			{"two values", req{method: "POST", path: "/users", body: `{"email":"a@b.co","name":"A"}{}`}, 400, "Unexpected data after the JSON object"},
			{"unknown field", req{method: "POST", path: "/users", body: `{"email":"a@b.co","name":"A","admin":true}`}, 400, `Unknown field "admin"`},
			{"wrong type", req{method: "POST", path: "/users", body: `{"email":1,"name":"A"}`}, 400, `Field "email" must be of type string`},
			{"wrong type update", req{method: "PUT", path: path, body: `{"active":"yes"}`}, 400, `Field "active" must be of type boolean`},
			{"bad uuid get", req{method: "GET", path: "/users/not-a-uuid"}, 400, "Invalid id: must be a UUID"},
			{"bad uuid put", req{method: "PUT", path: "/users/1", body: `{}`}, 400, "Invalid id: must be a UUID"},
			{"bad uuid delete", req{method: "DELETE", path: "/users/x"}, 400, "Invalid id: must be a UUID"},
			{"bad uuid posts", req{method: "GET", path: "/users/x/posts"}, 400, "Invalid id: must be a UUID"},
			{"huge body", req{method: "POST", path: "/users", body: `{"email":"a@b.co","name":"` + strings.Repeat("x", 2<<20) + `"}`}, 413, "Request body too large"},
			{"unknown route", req{method: "GET", path: "/nope"}, 404, "Not found"},
			{"wrong method", req{method: "PATCH", path: path}, 405, "Method not allowed"},
		}
		for _, tt := range tests {
			tt.rq.tenant = "alpha"
			got := body[errorBody](t, e.expect(t, tt.rq, tt.want))
			if got.Error != tt.msg {
				t.Errorf("%s: error = %q; want %q", tt.name, got.Error, tt.msg)
			}
		}
		list := body[[]userResponse](t, e.expect(t, req{method: "GET", path: "/users", tenant: "alpha"}, http.StatusOK))
		if len(list) != 1 {
			t.Errorf("after malformed requests alpha has %d users; want 1", len(list))
		}
	})
}

func TestDuplicateEmail(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		e.createUser(t, "alpha", "dup@example.com", "First")
		got := body[errorBody](t, e.expect(t, req{method: "POST", path: "/users", tenant: "alpha", body: `{"email":"DUP@Example.com","name":"Second"}`}, http.StatusConflict))
		if got.Error != "Email already exists" {
			t.Errorf("duplicate email error = %q; want Email already exists", got.Error)
		}
		// The same address is free in another tenant.
		e.createUser(t, "beta", "dup@example.com", "Other tenant")
		// Changing another user's address to a taken one conflicts too.
		other := e.createUser(t, "alpha", "other@example.com", "Other")
		e.expect(t, req{method: "PUT", path: "/users/" + other.ID.String(), tenant: "alpha", body: `{"email":"Dup@example.com"}`}, http.StatusConflict)
		// Keeping one's own address is not a conflict.
		e.expect(t, req{method: "PUT", path: "/users/" + other.ID.String(), tenant: "alpha", body: `{"email":"OTHER@example.com"}`}, http.StatusOK)
	})
}

func TestTenantIsolation(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		a := e.createUser(t, "alpha", "secret@alpha.test", "Alpha's")
		path := "/users/" + a.ID.String()
		for _, rq := range []req{
			{method: "GET", path: path, tenant: "beta"},
			{method: "PUT", path: path, tenant: "beta", body: `{"name":"Hijacked"}`},
			{method: "DELETE", path: path, tenant: "beta"},
			{method: "GET", path: path + "/posts", tenant: "beta"},
		} {
			e.expect(t, rq, http.StatusNotFound)
		}
		for _, p := range []string{"/users", "/users-async", "/posts"} {
			if w := e.expect(t, req{method: "GET", path: p, tenant: "beta"}, http.StatusOK); strings.TrimSpace(w.Body.String()) != "[]" {
				t.Errorf("GET %s as beta = %s; want []", p, w.Body)
			}
		}
		// A post in beta cannot name alpha's user as author.
		got := body[errorBody](t, e.expect(t, req{method: "POST", path: "/posts", tenant: "beta", body: `{"title":"T","authorId":"` + a.ID.String() + `"}`}, http.StatusUnprocessableEntity))
		if got.Fields["authorId"] == "" {
			t.Errorf("cross-tenant author: body %+v; want fields.authorId", got)
		}
		// Alpha's user is untouched.
		if got := body[userResponse](t, e.expect(t, req{method: "GET", path: path, tenant: "alpha"}, http.StatusOK)); got != a {
			t.Errorf("alpha's user after beta's attempts = %+v; want %+v", got, a)
		}
	})
}

func TestTenantResolution(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		tests := []struct {
			name, tenant string
			want         int
			msg          string
		}{
			{"missing", "", 400, "Tenant ID is required"},
			{"malformed", "Alpha;drop", 400, "Invalid tenant ID"},
			{"comma list", "alpha,public", 400, "X-Tenant-ID must name exactly one tenant"},
			{"comma list of tenants", "alpha,beta", 400, "X-Tenant-ID must name exactly one tenant"},
			{"unknown", "gamma", 404, "Tenant not found"},
			{"public", "public", 404, "Tenant not found"},
		}
		for _, tt := range tests {
			for _, p := range []string{"/users", "/users-async", "/posts"} {
				got := body[errorBody](t, e.expect(t, req{method: "GET", path: p, tenant: tt.tenant}, tt.want))
				if got.Error != tt.msg {
					t.Errorf("GET %s with %s tenant: error = %q; want %q", p, tt.name, got.Error, tt.msg)
				}
			}
		}
		if n := e.reg.Len(); n != 0 {
			t.Errorf("PoolCount after rejected tenants = %d; want 0", n)
		}
	})
}

// TestTwoTenantHeaders: a request with two X-Tenant-ID headers (a proxy
// that appends its own) is refused on every tenant route, and writes
// nothing to either tenant.
func TestTwoTenantHeaders(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		for _, rq := range []req{
			{method: "GET", path: "/users"},
			{method: "GET", path: "/users-async"},
			{method: "GET", path: "/posts"},
			{method: "POST", path: "/users", body: `{"email":"two@example.com","name":"Two"}`},
		} {
			for _, order := range [][]string{{"alpha", "beta"}, {"beta", "alpha"}, {"alpha", "alpha"}} {
				r := newRequest(t, rq)
				r.Header.Add("X-Tenant-ID", order[0])
				r.Header.Add("X-Tenant-ID", order[1])
				w := serve(e.h, r)
				if got := body[errorBody](t, w); w.Code != http.StatusBadRequest || got.Error != "X-Tenant-ID must name exactly one tenant" {
					t.Errorf("%s %s with X-Tenant-ID %q = %d %q; want 400 X-Tenant-ID must name exactly one tenant",
						rq.method, rq.path, order, w.Code, got.Error)
				}
			}
		}
		// Over the wire too: net/http keeps the two header lines apart.
		srv := httptest.NewServer(e.h)
		defer srv.Close()
		r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/users", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Add("X-Tenant-ID", "alpha")
		r.Header.Add("x-tenant-id", "beta")
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /users over HTTP with two X-Tenant-ID lines = %d; want 400", resp.StatusCode)
		}
		for _, id := range []string{"alpha", "beta"} {
			if w := e.expect(t, req{method: "GET", path: "/users", tenant: id}, http.StatusOK); strings.TrimSpace(w.Body.String()) != "[]" {
				t.Errorf("GET /users as %s after refused requests = %s; want []", id, w.Body)
			}
		}
	})
}

func TestPagination(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		client, release, err := e.reg.Acquire(t.Context(), "alpha")
		if err != nil {
			t.Fatal(err)
		}
		const n = defaultLimit + 5
		bulk := make([]*ent.UserCreate, n)
		for i := range bulk {
			bulk[i] = client.User.Create().SetEmail(fmt.Sprintf("u%03d@example.com", i)).SetName("U")
		}
		if _, err := client.User.CreateBulk(bulk...).Save(t.Context()); err != nil {
			t.Fatal(err)
		}
		release()

		all := body[[]userResponse](t, e.expect(t, req{method: "GET", path: "/users?limit=1000", tenant: "alpha"}, http.StatusOK))
		if len(all) != n {
			t.Fatalf("GET /users?limit=1000 returned %d users; want %d", len(all), n)
		}
		for i := 1; i < len(all); i++ {
			p, c := all[i-1], all[i]
			if c.CreatedAt.Before(p.CreatedAt) || c.CreatedAt.Equal(p.CreatedAt) && c.ID.String() < p.ID.String() {
				t.Fatalf("users %d and %d out of (createdAt, id) order", i-1, i)
			}
		}
		tests := []struct {
			query     string
			from, len int
		}{
			{"", 0, defaultLimit},
			{"?limit=2", 0, 2},
			{"?limit=2&offset=3", 3, 2},
			{"?offset=100", 100, 5},
			{"?limit=1000&offset=104", 104, 1},
			{"?offset=500", 0, 0},
		}
		for _, tt := range tests {
			got := body[[]userResponse](t, e.expect(t, req{method: "GET", path: "/users" + tt.query, tenant: "alpha"}, http.StatusOK))
			if len(got) != tt.len {
				t.Errorf("GET /users%s returned %d users; want %d", tt.query, len(got), tt.len)
				continue
			}
			for i := range got {
				if got[i] != all[tt.from+i] {
					t.Errorf("GET /users%s [%d] = %v; want %v", tt.query, i, got[i].ID, all[tt.from+i].ID)
				}
			}
		}
		for _, q := range []string{"?limit=0", "?limit=1001", "?limit=-1", "?limit=ten", "?offset=-1", "?offset=x", "?offset=99999999999999999999999"} {
			for _, p := range []string{"/users", "/users-async", "/posts", "/plans"} {
				e.expect(t, req{method: "GET", path: p + q, tenant: "alpha"}, http.StatusBadRequest)
			}
		}
	})
}
