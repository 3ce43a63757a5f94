package handlers

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// A jsonAppender appends its JSON encoding to b, byte for byte what
// encoding/json would produce for it, without reflection. The API's entity
// responses implement it: encoding lists of them with reflection was a fifth
// of the CPU time of GET /users (see the README's performance section).
type jsonAppender interface {
	appendJSON(b []byte) ([]byte, error)
}

// jsonList is a list response whose elements append their own JSON.
type jsonList[T jsonAppender] []T

func (l jsonList[T]) appendJSON(b []byte) ([]byte, error) {
	if l == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i, v := range l {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = v.appendJSON(b); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

// listOf maps every element of xs through f into a jsonList.
func listOf[E any, T jsonAppender](xs []E, f func(E) T) jsonList[T] {
	l := make(jsonList[T], len(xs))
	for i, x := range xs {
		l[i] = f(x)
	}
	return l
}

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

// marshal appends the JSON encoding of v and a newline to b.
func marshal(b []byte, v any) ([]byte, error) {
	if a, ok := v.(jsonAppender); ok {
		b, err := a.appendJSON(b)
		return append(b, '\n'), err
	}
	buf := bytes.NewBuffer(b)
	err := json.NewEncoder(buf).Encode(v)
	return buf.Bytes(), err
}

// appendJSONString appends s as a JSON string exactly as encoding/json does
// by default: <, > and & are escaped for HTML, invalid UTF-8 becomes U+FFFD,
// and U+2028 and U+2029 are escaped.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONStringPtr appends *s as a JSON string, or null for a nil s.
func appendJSONStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
}

// appendJSONUUID appends u as a JSON string in its canonical form.
func appendJSONUUID(b []byte, u uuid.UUID) []byte {
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	b = append(b, '"')
	b = append(b, s[:]...)
	return append(b, '"')
}

// appendJSONUUIDPtr appends *u as a JSON string, or null for a nil u.
func appendJSONUUIDPtr(b []byte, u *uuid.UUID) []byte {
	if u == nil {
		return append(b, "null"...)
	}
	return appendJSONUUID(b, *u)
}

// appendJSONTime appends t as time.Time.MarshalJSON does (RFC 3339 with
// nanoseconds), failing as it does for years outside [0, 9999].
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return b, err
	}
	return append(b, '"'), nil
}
