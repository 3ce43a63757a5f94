package handlers_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pgtenant/pgtenant/tenant"
)

// FuzzCreateUserBody posts arbitrary bodies to POST /users as tenant acme:
// whatever the body, the answer is never a 5xx.
func FuzzCreateUserBody(f *testing.F) {
	for _, s := range []string{
		`{"email":"ann@acme.test","name":"Ann"}`,
		`{"email":"ANN@acme.test","name":"Ann"}`,
		`{"email":"a@b","name":"x"}`,
		`{"email":"nul@acme.test","name":"a\u0000b"}`,
		`{"email":"\ud800@acme.test","name":"surrogate"}`,
		`{"email":"x@acme.test","name":"` + "\xff\xfe" + `"}`,
		`{"email":"x@acme.test","name":null}`,
		`{"email":["x"],"name":1e400}`,
		`{"email":"x@acme.test","name":"x","name":"y"}`,
		`{"email":"a@acme.test","EMAIL":"b@acme.test","NaMe":"x"}`,
		`{"email":"x@acme.test","n\u0061me":"x","name":"y"}`,
		`{"email":"x@acme.test","name":"x"} trailing`,
		`{"email":"x@acme.test","name":"x","active":false}`,
		`null`, `true`, `0`, `""`, `[]`, `{}`, ``, `{`, `{"`, "\x00",
		nested(200),
	} {
		f.Add([]byte(s))
	}
	a := newHostileAPI(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/users", bytes.NewReader(body))
		req.Header.Set("X-Tenant-ID", "acme")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST /users %q: status %d, body %s", body, rec.Code, rec.Body)
		}
	})
}

// FuzzTenantHeader sends arbitrary X-Tenant-ID values to GET /users: the
// answer is 200 only for acme, 404 only for other valid ids, 400 otherwise,
// and no request opens a pool for any tenant but acme.
func FuzzTenantHeader(f *testing.F) {
	for _, s := range []string{
		"acme", "nobody", "", "acme,public", "ACME", "a -c x=y", `x"y`, "..",
		"açme", "tenant_acme", "public", "pg_catalog", "acme\x00", "-c",
		"3f2504e0-4f89-11d3-9a0c-0305e82c3301", "0123456789012345678901234567890123456789012345678",
	} {
		f.Add(s)
	}
	a := newHostileAPI(f)
	f.Fuzz(func(t *testing.T, id string) {
		req := httptest.NewRequest(http.MethodGet, "/users", nil)
		req.Header["X-Tenant-Id"] = []string{id}
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		var want int
		switch {
		case id == "acme":
			want = http.StatusOK
		case tenant.ValidateID(id) == nil:
			want = http.StatusNotFound
		default:
			want = http.StatusBadRequest
		}
		if rec.Code != want {
			t.Fatalf("GET /users as %q: status %d; want %d; body %s", id, rec.Code, want, rec.Body)
		}
		if n := a.reg.Len(); n > 1 {
			t.Fatalf("after GET /users as %q: %d pools; want at most acme's", id, n)
		}
	})
}
