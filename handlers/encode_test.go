package handlers

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/google/uuid"
)

// The wire format of every response type, pinned byte for byte: what
// encoding/json's Encoder writes, HTML characters escaped included.
func TestMarshalWireFormat(t *testing.T) {
	id := uuid.MustParse("3f2504e0-4f89-11d3-9a0c-0305e82c3301")
	at := time.Date(2026, 12, 2, 15, 4, 5, 123456000, time.FixedZone("", -(3*3600+30*60)))
	str := func(s string) *string { return &s }
	for _, c := range []struct {
		v    any
		want string
	}{
		{userResponse{ID: id, Email: "a<b>&c@x.test", Name: "\"q\" \\ \x00\x1f\b\f\n\r\t", Active: true, CreatedAt: at},
			`{"id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","email":"a\u003cb\u003e\u0026c@x.test","name":"\"q\" \\ \u0000\u001f\b\f\n\r\t","active":true,"createdAt":"2026-12-02T15:04:05.123456-03:30"}`},
		{[]userResponse{{Name: "é 漢 🙂 \u2028\u2029 \xff\xed\xa0\x80", CreatedAt: at.UTC().Truncate(time.Second)}},
			`[{"id":"00000000-0000-0000-0000-000000000000","email":"","name":"é 漢 🙂 \u2028\u2029 \ufffd\ufffd\ufffd\ufffd","active":false,"createdAt":"2026-12-02T18:34:05Z"}]`},
		{[]userResponse{}, `[]`},
		{postResponse{ID: id, Title: "<t>", Content: str("</script>"), AuthorID: &id, CreatedAt: at},
			`{"id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","title":"\u003ct\u003e","content":"\u003c/script\u003e","authorId":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","createdAt":"2026-12-02T15:04:05.123456-03:30"}`},
		{postResponse{ID: id, Title: "t", CreatedAt: at},
			`{"id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","title":"t","content":null,"authorId":null,"createdAt":"2026-12-02T15:04:05.123456-03:30"}`},
		{planResponse{ID: id, Name: "pro", MaxUsers: str("100"), Price: nil},
			`{"id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","name":"pro","maxUsers":"100","price":null}`},
		{tenantResponse{ID: "acme", SchemaName: "tenant_acme", Status: "active", CreatedAt: at, UpdatedAt: at.UTC()},
			`{"id":"acme","schemaName":"tenant_acme","planId":null,"status":"active","createdAt":"2026-12-02T15:04:05.123456-03:30","updatedAt":"2026-12-02T18:34:05.123456Z"}`},
		{errorBody{Error: "Validation failed", Fields: map[string]string{"name": "required", "email": "a <b>"}},
			`{"error":"Validation failed","fields":{"email":"a \u003cb\u003e","name":"required"}}`},
	} {
		got, err := marshal(nil, c.v)
		if want := c.want + "\n"; err != nil || string(got) != want {
			t.Errorf("marshal(%T) = %s, %v; want %s", c.v, got, err, want)
		}
	}
}

// Strings are escaped as encoding/json escapes them, whatever their bytes.
func TestMarshalStringsLikeEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var b []byte
		for range r.IntN(24) {
			switch r.IntN(4) {
			case 0:
				b = append(b, byte(r.IntN(0x80)))
			case 1:
				b = utf8.AppendRune(b, rune(r.IntN(0x30000)))
			case 2:
				b = append(b, byte(0x80+r.IntN(0x80)))
			default:
				b = append(b, "\"\\<>&\u2028"[r.IntN(8)])
			}
		}
		v := userResponse{Email: string(b), Name: string(b)}
		want, _ := json.Marshal(v)
		if got, err := marshal(nil, v); err != nil || !bytes.Equal(got, append(want, '\n')) {
			t.Fatalf("marshal(%q) = %s, %v; encoding/json: %s", b, got, err, want)
		}
	}
}

// A value that cannot be encoded is an error before anything is sent.
func TestWriteJSONEncodingError(t *testing.T) {
	w := httptest.NewRecorder()
	if err := writeJSON(w, 201, map[string]any{"f": func() {}}); err == nil || w.Body.Len() != 0 || w.Header().Get("Content-Type") != "" {
		t.Errorf("writeJSON(func) = %v, wrote %d %q; want an error and nothing written", err, w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	if err := writeJSON(w, 201, []userResponse{{Name: "a"}}); err != nil || w.Code != 201 ||
		w.Header().Get("Content-Length") != strconv.Itoa(w.Body.Len()) || !bytes.HasSuffix(w.Body.Bytes(), []byte("}]\n")) {
		t.Errorf("writeJSON = %v, %d %v %q", err, w.Code, w.Header(), w.Body)
	}
}

// BenchmarkEncodeUserList encodes the response to GET /users for 100 users,
// followed by a newline, into a reused buffer, with the encoder the API uses
// (segmentio, through marshal) and the alternatives (docs/performance.md,
// "JSON encoding").
func BenchmarkEncodeUserList(b *testing.B) {
	at := time.Date(2026, 12, 2, 15, 4, 5, 123456000, time.UTC)
	users := make([]userResponse, 100)
	for i := range users {
		users[i] = userResponse{ID: uuid.New(), Email: "user" + strconv.Itoa(i) + "@acme.test", Name: "User " + strconv.Itoa(i), Active: true, CreatedAt: at.Add(time.Duration(i) * time.Minute)}
	}
	v1 := jsonv1.DefaultOptionsV1()
	for _, c := range []struct {
		name string
		enc  func(b []byte) ([]byte, error)
	}{
		{"segmentio", func(b []byte) ([]byte, error) { return marshal(b, users) }},
		{"encoding_json", func(b []byte) ([]byte, error) {
			buf := bytes.NewBuffer(b)
			err := json.NewEncoder(buf).Encode(users)
			return buf.Bytes(), err
		}},
		{"go-json-experiment", func(b []byte) ([]byte, error) {
			buf := bytes.NewBuffer(b)
			err := jsonv2.MarshalWrite(buf, users, v1)
			buf.WriteByte('\n')
			return buf.Bytes(), err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = c.enc(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
