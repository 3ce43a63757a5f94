package handlers

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// emailOf returns a valid e-mail address of n characters (n ≥ 69), all "é"
// but for "@", the dots and the final "io": 2 bytes per character.
func emailOf(n int) string {
	local := strings.Repeat("é", 64)
	rest := n - len([]rune(local)) - 1 - len(".io")
	var labels []string
	for rest > 0 {
		l := min(rest, 63)
		labels = append(labels, strings.Repeat("é", l))
		rest -= l + 1 // the label and its dot
	}
	if rest == 0 { // the loop counted a dot after the last label
		labels[len(labels)-1] += "é"
	}
	return local + "@" + strings.Join(labels, ".") + ".io"
}

func jsonBody(t testing.TB, m map[string]string) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLengthsCountCharacters: every length limit counts characters, as
// PostgreSQL's varchar(n) does, not bytes. A value of the limit in "é" (two
// bytes each) is stored and read back unchanged through the HTTP routes; one
// character more is a 422 naming the field; nothing is written then.
func TestLengthsCountCharacters(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		u := e.createUser(t, "alpha", "limits@example.com", "Limits")
		author := u.ID.String()
		p := body[postResponse](t, e.expect(t, req{method: "POST", path: "/posts", tenant: "alpha",
			body: `{"title":"T","authorId":"` + author + `"}`}, http.StatusCreated))
		plan := body[planResponse](t, e.expect(t, req{method: "POST", path: "/admin/plans", token: testAdminToken,
			body: `{"name":"limits"}`}, http.StatusCreated))

		for _, n := range []int{255, 256} {
			if s := emailOf(n); utf8.RuneCountInString(s) != n || len(s) <= 300 {
				t.Fatalf("emailOf(%d) has %d characters in %d bytes; want %[1]d in more than 300", n, utf8.RuneCountInString(s), len(s))
			}
		}
		type field struct {
			name  string
			limit int
			value func(n int) string // a valid value of n characters
		}
		e9 := func(n int) string { return strings.Repeat("é", n) }
		// Another address than emailOf's, for the user that exists already.
		otherEmailOf := func(n int) string { return "a" + strings.TrimPrefix(emailOf(n), "é") }
		tests := []struct {
			route        string
			method, path string
			tenant       string
			fixed        map[string]string // the other fields of a valid body
			field        field
		}{
			{"create user name", "POST", "/users", "alpha", map[string]string{"email": "n1@example.com"}, field{"name", 255, e9}},
			{"create user email", "POST", "/users", "alpha", map[string]string{"name": "E"}, field{"email", 255, emailOf}},
			{"update user name", "PUT", "/users/" + u.ID.String(), "alpha", nil, field{"name", 255, e9}},
			{"update user email", "PUT", "/users/" + u.ID.String(), "alpha", nil, field{"email", 255, otherEmailOf}},
			{"create post title", "POST", "/posts", "alpha", map[string]string{"authorId": author}, field{"title", 255, e9}},
			{"create post content", "POST", "/posts", "alpha", map[string]string{"authorId": author, "title": "T"}, field{"content", 5000, e9}},
			{"update post title", "PUT", "/posts/" + p.ID.String(), "alpha", nil, field{"title", 255, e9}},
			{"update post content", "PUT", "/posts/" + p.ID.String(), "alpha", nil, field{"content", 5000, e9}},
			{"create plan name", "POST", "/admin/plans", "", nil, field{"name", 100, e9}},
			{"create plan price", "POST", "/admin/plans", "", map[string]string{"name": "P"}, field{"price", 50, e9}},
			{"update plan name", "PUT", "/admin/plans/" + plan.ID.String(), "", nil, field{"name", 100, e9}},
			{"update plan maxUsers", "PUT", "/admin/plans/" + plan.ID.String(), "", nil, field{"maxUsers", 50, e9}},
		}
		for _, tt := range tests {
			t.Run(tt.route, func(t *testing.T) {
				bodyWith := func(v string) string {
					m := map[string]string{tt.field.name: v}
					for k, x := range tt.fixed {
						m[k] = x
					}
					return jsonBody(t, m)
				}
				rq := req{method: tt.method, path: tt.path, tenant: tt.tenant, token: testAdminToken}

				// One character too many: 422 naming the field.
				rq.body = bodyWith(tt.field.value(tt.field.limit + 1))
				got := body[errorBody](t, e.expect(t, rq, http.StatusUnprocessableEntity))
				if want := "must be at most " + strconv.Itoa(tt.field.limit) + " characters"; got.Fields[tt.field.name] != want {
					t.Errorf("%s %s with %d characters: fields = %v; want %s: %q", tt.method, tt.path, tt.field.limit+1, got.Fields, tt.field.name, want)
				}

				// Exactly the limit: stored and answered unchanged.
				want := tt.field.value(tt.field.limit)
				rq.body = bodyWith(want)
				status := http.StatusOK
				if tt.method == "POST" {
					status = http.StatusCreated
				}
				resp := body[map[string]any](t, e.expect(t, rq, status))
				if resp[tt.field.name] != want {
					t.Errorf("%s %s with %d characters (%d bytes): %s = %q; want it unchanged",
						tt.method, tt.path, tt.field.limit, len(want), tt.field.name, resp[tt.field.name])
				}
			})
		}
		// The refused requests wrote nothing: alpha has the users created at
		// the limit (and the first), no more.
		if got := body[[]userResponse](t, e.expect(t, req{method: "GET", path: "/users", tenant: "alpha"}, http.StatusOK)); len(got) != 3 {
			t.Errorf("alpha has %d users; want 3", len(got))
		}
		if got := body[[]postResponse](t, e.expect(t, req{method: "GET", path: "/posts", tenant: "alpha"}, http.StatusOK)); len(got) != 3 {
			t.Errorf("alpha has %d posts; want 3", len(got))
		}
		if got := body[[]planResponse](t, e.expect(t, req{method: "GET", path: "/plans"}, http.StatusOK)); len(got) != 3 {
			t.Errorf("%d plans; want 3", len(got))
		}
	}, withAdmin)
}
