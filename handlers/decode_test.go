package handlers

import (
	"context"
	"net/http"
	"testing"
)

// TestStrictBodies: a request body is one JSON object whose names are the
// request type's JSON names, letter case included, each at most once.
// Anything else is a 400 whose message names the problem, on every route
// that reads a body, and writes nothing.
func TestStrictBodies(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		u := e.createUser(t, "alpha", "strict@example.com", "Strict")
		p := body[postResponse](t, e.expect(t, req{method: "POST", path: "/posts", tenant: "alpha",
			body: `{"title":"T","authorId":"` + u.ID.String() + `"}`}, http.StatusCreated))
		plan := body[planResponse](t, e.expect(t, req{method: "POST", path: "/admin/plans", token: testAdminToken,
			body: `{"name":"basic"}`}, http.StatusCreated))
		user, post := "/users/"+u.ID.String(), "/posts/"+p.ID.String()
		author := `"authorId":"` + u.ID.String() + `"`
		const (
			notObject = "Request body must be a JSON object"
			trailing  = "Unexpected data after the JSON object"
		)
		tests := []struct {
			name, method, path, body, msg string
		}{
			{"null put", "PUT", user, `null`, notObject},
			{"null post", "POST", "/users", `null`, notObject},
			{"null with spaces", "PUT", user, " \n null \n", notObject},
			{"array", "POST", "/users", `[{"email":"a@x.io","name":"A"}]`, notObject},
			{"string", "PUT", user, `"x"`, notObject},
			{"number", "PUT", user, `1`, notObject},
			{"boolean", "PUT", user, `true`, notObject},
			{"empty", "PUT", user, ``, notObject},
			{"white space", "POST", "/users", " \r\n\t", notObject},
			{"not json", "POST", "/users", `hello`, "Malformed JSON"},
			{"truncated", "POST", "/users", `{"email":"a@x.io"`, "Malformed JSON"},
			{"other case beside the right one", "POST", "/users", `{"email":"a@x.io","EMAIL":"b@x.io","NaMe":"x"}`, `Unknown field "EMAIL"`},
			{"other case alone", "POST", "/users", `{"Email":"a@x.io","Name":"x"}`, `Unknown field "Email"`},
			{"other case put", "PUT", user, `{"Active":false}`, `Unknown field "Active"`},
			{"other case post", "POST", "/posts", `{"title":"T","authorID":"` + u.ID.String() + `"}`, `Unknown field "authorID"`},
			{"duplicate", "POST", "/users", `{"email":"a@x.io","email":"b@x.io","name":"x"}`, `Duplicate field "email"`},
			{"duplicate put", "PUT", user, `{"name":"a","name":"b"}`, `Duplicate field "name"`},
			{"duplicate null", "PUT", user, `{"active":null,"active":false}`, `Duplicate field "active"`},
			{"duplicate escaped", "PUT", user, `{"name":"a","n\u0061me":"b"}`, `Duplicate field "name"`},
			{"duplicate post", "PUT", post, `{"title":"a","title":"b"}`, `Duplicate field "title"`},
			{"duplicate plan", "PUT", "/admin/plans/" + plan.ID.String(), `{"price":"1","price":"2"}`, `Duplicate field "price"`},
			{"unknown", "POST", "/users", `{"email":"a@x.io","name":"x","admin":true}`, `Unknown field "admin"`},
			{"unknown put", "PUT", user, `{"role":"admin"}`, `Unknown field "role"`},
			{"unknown post", "POST", "/posts", `{"title":"T",` + author + `,"published":true}`, `Unknown field "published"`},
			{"unknown nested", "PUT", post, `{"meta":{"a":1,"a":2}}`, `Unknown field "meta"`},
			{"trailing object", "POST", "/users", `{"email":"a@x.io","name":"x"}{}`, trailing},
			{"trailing garbage", "POST", "/users", `{"email":"a@x.io","name":"x"} x`, trailing},
			{"trailing null", "PUT", user, `{"name":"y"} null`, trailing},
			{"trailing comma", "PUT", user, `{"name":"y"},`, trailing},
			{"wrong type", "PUT", user, `{"active":"false"}`, `Field "active" must be of type boolean`},
			{"null tenant body", "POST", "/admin/tenants", `null`, notObject},
			{"duplicate tenant id", "POST", "/admin/tenants", `{"id":"gamma","id":"delta"}`, `Duplicate field "id"`},
			{"other case plan", "POST", "/admin/plans", `{"name":"x","MaxUsers":"1"}`, `Unknown field "MaxUsers"`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rq := req{method: tt.method, path: tt.path, tenant: "alpha", body: tt.body, token: testAdminToken}
				got := body[errorBody](t, e.expect(t, rq, http.StatusBadRequest))
				if got.Error != tt.msg {
					t.Errorf("%s %s %q: error = %q; want %q", tt.method, tt.path, tt.body, got.Error, tt.msg)
				}
			})
		}

		// Nothing was written.
		if got := body[userResponse](t, e.expect(t, req{method: "GET", path: user, tenant: "alpha"}, http.StatusOK)); got != u {
			t.Errorf("user after refused bodies = %+v; want %+v", got, u)
		}
		if got := body[[]userResponse](t, e.expect(t, req{method: "GET", path: "/users", tenant: "alpha"}, http.StatusOK)); len(got) != 1 {
			t.Errorf("alpha has %d users after refused bodies; want 1", len(got))
		}
		if got := body[postResponse](t, e.expect(t, req{method: "GET", path: post, tenant: "alpha"}, http.StatusOK)); got.Title != "T" {
			t.Errorf("post after refused bodies = %+v; want title T", got)
		}
		var plans, tenants int
		if err := e.db.QueryRowContext(context.Background(),
			`SELECT (SELECT count(*) FROM public.plans WHERE price IS NULL), (SELECT count(*) FROM public.tenants)`).Scan(&plans, &tenants); err != nil {
			t.Fatal(err)
		}
		if plans != 1 || tenants != 2 {
			t.Errorf("after refused bodies: %d plans without a price, %d tenants; want 1 and 2", plans, tenants)
		}
	}, withAdmin)
}

// TestBodiesStillAccepted: the bodies of the original app's clients decode
// as before: any member order, white space, escapes, null and absent fields
// in a partial PUT.
func TestBodiesStillAccepted(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		w := e.expect(t, req{method: "POST", path: "/users", tenant: "alpha",
			body: "\n { \"name\" : \"Jos\\u00e9\" ,\n \"email\":\"jose@example.com\" } \n"}, http.StatusCreated)
		u := body[userResponse](t, w)
		if u.Name != "José" || u.Email != "jose@example.com" || !u.Active {
			t.Fatalf("createUser = %+v; want José, jose@example.com, active", u)
		}
		path := "/users/" + u.ID.String()
		steps := []struct {
			body   string
			name   string
			active bool
		}{
			{`{}`, "José", true},
			{`{"name":null,"email":null,"active":null}`, "José", true},
			{`{"active":false}`, "José", false},
			{`{"name":"Pepe"}`, "Pepe", false},
			{`{"active":true,"name":"José"}` + "\n", "José", true},
		}
		for _, s := range steps {
			got := body[userResponse](t, e.expect(t, req{method: "PUT", path: path, tenant: "alpha", body: s.body}, http.StatusOK))
			if got.Name != s.name || got.Active != s.active || got.Email != u.Email {
				t.Errorf("PUT %s %s = %+v; want name %q, active %v, email unchanged", path, s.body, got, s.name, s.active)
			}
		}
		p := body[postResponse](t, e.expect(t, req{method: "POST", path: "/posts", tenant: "alpha",
			body: `{"authorId":"` + u.ID.String() + `","content":null,"title":"Hi"}`}, http.StatusCreated))
		if p.Title != "Hi" || p.Content != nil {
			t.Errorf("createPost with null content = %+v", p)
		}
	})
}
