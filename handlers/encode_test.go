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
	segjson "github.com/segmentio/encoding/json"
)

// trickyStrings are strings whose JSON encoding escapes something.
var trickyStrings = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>",
	"\x00\x01\x1f\x7f", "\b\f\n\r\t", "é ü 漢字 🙂", "\u2028\u2029",
	"bad \xff utf-8 \xc3", "\xed\xa0\x80 surrogate", "end\\",
}

// randomString draws bytes mostly from the interesting ranges: ASCII
// controls and escapes, valid multi-byte runes and stray bytes.
func randomString(r *rand.Rand) string {
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
	return string(b)
}

func randomUUID(r *rand.Rand) uuid.UUID {
	var u uuid.UUID
	for i := range u {
		u[i] = byte(r.Uint32())
	}
	return u
}

func randomTime(r *rand.Rand) time.Time {
	zones := []*time.Location{time.UTC, time.FixedZone("", -(3*3600 + 30*60)), time.FixedZone("X", 5*3600)}
	return time.Unix(r.Int64N(1<<35), r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
}

func maybe[T any](r *rand.Rand, v T) *T {
	if r.IntN(3) == 0 {
		return nil
	}
	return &v
}

// appenders returns random responses of every type that appends its own
// JSON, including every tricky string.
func appenders(r *rand.Rand, n int) []jsonAppender {
	str := func(i int) string {
		if i < len(trickyStrings) {
			return trickyStrings[i]
		}
		return randomString(r)
	}
	var out []jsonAppender
	for i := range n {
		out = append(out,
			userResponse{ID: randomUUID(r), Email: str(i), Name: str(n - 1 - i), Active: r.IntN(2) == 0, CreatedAt: randomTime(r)},
			postResponse{ID: randomUUID(r), Title: str(i), Content: maybe(r, str(i+1)), AuthorID: maybe(r, randomUUID(r)), CreatedAt: randomTime(r)},
			planResponse{ID: randomUUID(r), Name: str(i), MaxUsers: maybe(r, strconv.Itoa(r.IntN(1000))), Price: maybe(r, str(i))},
			tenantResponse{ID: str(i), SchemaName: "tenant_" + str(i), PlanID: maybe(r, randomUUID(r)), Status: "active", CreatedAt: randomTime(r), UpdatedAt: randomTime(r)},
		)
	}
	return out
}

// Every hand-written encoding is byte for byte encoding/json's.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, v := range appenders(r, 500) {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.appendJSON(nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("appendJSON(%#v) =\n%s, %v\nencoding/json:\n%s", v, got, err, want)
		}
	}
	for _, l := range []jsonAppender{jsonList[userResponse]{}, jsonList[userResponse](nil), listOf(appenders(r, 3), func(a jsonAppender) jsonAppender { return a })} {
		want, _ := json.Marshal(l)
		if got, err := l.appendJSON(nil); err != nil || !bytes.Equal(got, want) {
			t.Errorf("list appendJSON = %s, %v; want %s", got, err, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendJSONString(%q) = %s; want %s", s, got, want)
		}
	})
}

// A time encoding/json refuses is an error before anything is sent, like
// any value that cannot be encoded.
func TestWriteJSONEncodingError(t *testing.T) {
	for _, v := range []any{
		userResponse{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		map[string]any{"f": func() {}},
	} {
		w := httptest.NewRecorder()
		if err := writeJSON(w, 201, v); err == nil || w.Body.Len() != 0 || w.Header().Get("Content-Type") != "" {
			t.Errorf("writeJSON(%T) = %v, wrote %d %q; want an error and nothing written", v, err, w.Code, w.Body)
		}
	}
	w := httptest.NewRecorder()
	if err := writeJSON(w, 201, jsonList[userResponse]{{Name: "a"}}); err != nil || w.Code != 201 ||
		w.Header().Get("Content-Length") != strconv.Itoa(w.Body.Len()) || !bytes.HasSuffix(w.Body.Bytes(), []byte("}]\n")) {
		t.Errorf("writeJSON = %v, %d %v %q", err, w.Code, w.Header(), w.Body)
	}
}

// BenchmarkEncodeUserList encodes the response to GET /users for 100 users,
// followed by a newline, into a reused buffer, with each candidate encoder.
func BenchmarkEncodeUserList(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	users := make(jsonList[userResponse], 100)
	for i := range users {
		users[i] = userResponse{ID: randomUUID(r), Email: "user" + strconv.Itoa(i) + "@acme.test", Name: "User " + strconv.Itoa(i), Active: true, CreatedAt: randomTime(r)}
	}
	plain := []userResponse(users)
	want, _ := marshal(nil, plain)
	v1 := jsonv1.DefaultOptionsV1()
	for _, c := range []struct {
		name string
		enc  func(b []byte) ([]byte, error)
	}{
		{"appendJSON", func(b []byte) ([]byte, error) { return marshal(b, users) }},
		{"encoding_json", func(b []byte) ([]byte, error) { return marshal(b, plain) }},
		{"go-json-experiment", func(b []byte) ([]byte, error) {
			buf := bytes.NewBuffer(b)
			err := jsonv2.MarshalWrite(buf, plain, v1)
			buf.WriteByte('\n')
			return buf.Bytes(), err
		}},
		{"segmentio", func(b []byte) ([]byte, error) {
			b, err := segjson.Append(b, plain, segjson.EscapeHTML|segjson.SortMapKeys)
			return append(b, '\n'), err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			if got, err := c.enc(nil); err != nil || !bytes.Equal(got, want) {
				b.Fatalf("%s differs from encoding/json: %v\n%s\n%s", c.name, err, got, want)
			}
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
