package handlers

import (
	"net/http"
	"strings"
	"testing"
)

func TestPosts(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *testEnv) {
		u := e.createUser(t, "alpha", "author@example.com", "Author")
		w := e.expect(t, req{method: "POST", path: "/posts", tenant: "alpha",
			body: `{"title":"Hello","content":"World","authorId":"` + u.ID.String() + `"}`}, http.StatusCreated)
		p := body[postResponse](t, w)
		if loc, want := w.Header().Get("Location"), "/posts/"+p.ID.String(); loc != want {
			t.Errorf("createPost Location = %q; want %q", loc, want)
		}
		if p.Title != "Hello" || p.Content == nil || *p.Content != "World" || p.AuthorID == nil || *p.AuthorID != u.ID {
			t.Errorf("createPost = %+v", p)
		}
		raw := body[map[string]any](t, w)
		for _, k := range []string{"id", "title", "content", "authorId", "createdAt"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("post JSON %s lacks %q", w.Body, k)
			}
		}
		path := "/posts/" + p.ID.String()
		get := body[postResponse](t, e.expect(t, req{method: "GET", path: path, tenant: "alpha"}, http.StatusOK))
		if get.ID != p.ID || !get.CreatedAt.Equal(p.CreatedAt) {
			t.Errorf("getPost = %+v; want %+v", get, p)
		}
		for _, lp := range []string{"/posts", "/users/" + u.ID.String() + "/posts"} {
			list := body[[]postResponse](t, e.expect(t, req{method: "GET", path: lp, tenant: "alpha"}, http.StatusOK))
			if len(list) != 1 || list[0].ID != p.ID {
				t.Errorf("GET %s = %+v; want the one post", lp, list)
			}
		}
		noPosts := e.createUser(t, "alpha", "quiet@example.com", "Quiet")
		if w := e.expect(t, req{method: "GET", path: "/users/" + noPosts.ID.String() + "/posts", tenant: "alpha"}, http.StatusOK); strings.TrimSpace(w.Body.String()) != "[]" {
			t.Errorf("posts of a user without posts = %s; want []", w.Body)
		}
		e.expect(t, req{method: "GET", path: "/users/3f2504e0-4f89-11d3-9a0c-0305e82c3301/posts", tenant: "alpha"}, http.StatusNotFound)

		// Partial update; moving the post to another author of the tenant.
		upd := body[postResponse](t, e.expect(t, req{method: "PUT", path: path, tenant: "alpha",
			body: `{"title":"Hi","authorId":"` + noPosts.ID.String() + `"}`}, http.StatusOK))
		if upd.Title != "Hi" || upd.Content == nil || *upd.Content != "World" || *upd.AuthorID != noPosts.ID {
			t.Errorf("updatePost = %+v", upd)
		}
		for _, tt := range []struct {
			name, method, path, body, field string
		}{
			{"unknown author", "POST", "/posts", `{"title":"T","authorId":"3f2504e0-4f89-11d3-9a0c-0305e82c3301"}`, "authorId"},
			{"missing author", "POST", "/posts", `{"title":"T"}`, "authorId"},
			{"malformed author", "POST", "/posts", `{"title":"T","authorId":"x"}`, "authorId"},
			{"missing title", "POST", "/posts", `{"authorId":"` + u.ID.String() + `"}`, "title"},
			{"long content", "POST", "/posts", `{"title":"T","content":"` + strings.Repeat("c", 5001) + `","authorId":"` + u.ID.String() + `"}`, "content"},
			{"update unknown author", "PUT", path, `{"authorId":"3f2504e0-4f89-11d3-9a0c-0305e82c3301"}`, "authorId"},
			{"update empty title", "PUT", path, `{"title":""}`, "title"},
		} {
			got := body[errorBody](t, e.expect(t, req{method: tt.method, path: tt.path, tenant: "alpha", body: tt.body}, http.StatusUnprocessableEntity))
			if got.Fields[tt.field] == "" || len(got.Fields) != 1 {
				t.Errorf("%s: fields = %v; want only %s", tt.name, got.Fields, tt.field)
			}
		}

		// A user with posts is not deleted.
		got := body[errorBody](t, e.expect(t, req{method: "DELETE", path: "/users/" + noPosts.ID.String(), tenant: "alpha"}, http.StatusConflict))
		if got.Error != "User has posts" {
			t.Errorf("delete user with posts: error = %q; want User has posts", got.Error)
		}
		e.expect(t, req{method: "DELETE", path: path, tenant: "alpha"}, http.StatusNoContent)
		if got := body[errorBody](t, e.expect(t, req{method: "GET", path: path, tenant: "alpha"}, http.StatusNotFound)); got.Error != "Post not found" {
			t.Errorf("getPost after delete: error = %q; want Post not found", got.Error)
		}
		e.expect(t, req{method: "DELETE", path: path, tenant: "alpha"}, http.StatusNotFound)
		e.expect(t, req{method: "PUT", path: path, tenant: "alpha", body: `{"title":"X"}`}, http.StatusNotFound)
		e.expect(t, req{method: "DELETE", path: "/users/" + noPosts.ID.String(), tenant: "alpha"}, http.StatusNoContent)
	})
}
