package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/segmentio/encoding/json"
)

// maxPooledBuffer is the capacity beyond which a response buffer is left to
// the garbage collector rather than kept for the next response.
const maxPooledBuffer = 1 << 20

var buffers = sync.Pool{New: func() any { return new([]byte) }}

// errEncode marks the errors of writeJSON that happened before anything was
// sent.
var errEncode = errors.New("encode response")

// writeJSON writes v as the JSON body of a response with status, followed by
// a newline (as json.Encoder writes it), in one Write with its
// Content-Length. v is encoded before anything is sent: an encoding error
// wraps errEncode and leaves the response untouched.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	p := buffers.Get().(*[]byte)
	defer func() {
		if cap(*p) <= maxPooledBuffer {
			buffers.Put(p)
		}
	}()
	b, err := marshal((*p)[:0], v)
	*p = b
	if err != nil {
		return fmt.Errorf("%w: %w", errEncode, err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

// marshal appends the JSON encoding of v and a newline to b, byte for byte
// what encoding/json's Encoder writes: <, > and & escaped for HTML, invalid
// UTF-8 replaced by U+FFFD, U+2028 and U+2029 escaped, map keys sorted,
// times in RFC 3339 with nanoseconds. One difference: a time whose year is
// outside [0, 9999] is written with that year where encoding/json fails;
// timestamps set by PostgreSQL's now() never are. segmentio/encoding is used
// for its speed (see docs/performance.md, "JSON encoding").
func marshal(b []byte, v any) ([]byte, error) {
	b, err := json.Append(b, v, json.EscapeHTML|json.SortMapKeys)
	return append(b, '\n'), err
}

// listOf maps every element of xs through f.
func listOf[E, T any](xs []E, f func(E) T) []T {
	l := make([]T, len(xs))
	for i, x := range xs {
		l[i] = f(x)
	}
	return l
}
