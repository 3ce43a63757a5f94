// Package redact hides the secrets of PostgreSQL connection strings before
// they are printed: in help text, errors and logs.
package redact

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Mask replaces a password.
const Mask = "xxxxx"

var (
	// A password=value pair of a key=value DSN: quoted (an unterminated
	// quote runs to the end of the string) or up to the next space.
	kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|'.*|\S+)`)
	// The userinfo password of a URL that net/url cannot parse: everything
	// from the first colon after the scheme's // to the last @.
	urlUserinfo = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.\-]*://[^:@/?#]*:)(.*)@`)
	// A password query parameter of a URL that net/url cannot parse.
	urlQueryPassword = regexp.MustCompile(`(?i)([?&]password=)[^&#]*`)
)

// DSN returns dsn, a postgres:// URL or a key=value DSN, with its password
// replaced by Mask: the password of a URL's user information, a password
// query parameter, or a password=... pair, also in a malformed string. The
// rest is unchanged, so the result still says which server and database are
// meant.
func DSN(dsn string) string {
	if !strings.Contains(dsn, "://") {
		return kvPassword.ReplaceAllString(dsn, "${1}"+Mask)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		s := urlUserinfo.ReplaceAllString(dsn, "${1}"+Mask+"@")
		return urlQueryPassword.ReplaceAllString(s, "${1}"+Mask)
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), Mask)
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", Mask)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// password returns the password dsn spells out, or "".
func password(dsn string) string {
	if strings.Contains(dsn, "://") {
		if u, err := url.Parse(dsn); err == nil {
			if p, ok := u.User.Password(); ok {
				return p
			}
			return u.Query().Get("password")
		}
		if m := urlUserinfo.FindStringSubmatch(dsn); m != nil {
			return m[2]
		}
		return ""
	}
	if m := kvPassword.FindStringSubmatch(dsn); m != nil {
		return strings.Trim(m[2], "'")
	}
	return ""
}

// minPassword is the shortest password Error removes wherever it appears in
// a message; a shorter one would mask unrelated letters.
const minPassword = 3

// Error returns err, which came from parsing or using dsn, with the
// password of dsn removed from its message: every copy of dsn, plain or
// quoted (net/url's errors quote it), is replaced by DSN(dsn), and any other
// occurrence of the password by Mask. errors.Is and errors.As still see err.
// A nil err gives nil.
func Error(dsn string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := DSN(dsn)
	quoted, cleanQuoted := strconv.Quote(dsn), strconv.Quote(clean)
	// The copies of dsn become placeholders first, so that masking the
	// password elsewhere cannot mangle them (a password may also be a
	// word of the URL, such as "postgres").
	const plain, inQuotes = "\x00dsn\x00", "\x00qdsn\x00"
	out := strings.ReplaceAll(msg, quoted[1:len(quoted)-1], inQuotes)
	out = strings.ReplaceAll(out, dsn, plain)
	if p := password(dsn); len(p) >= minPassword {
		out = strings.ReplaceAll(out, p, Mask)
		q := strconv.Quote(p)
		out = strings.ReplaceAll(out, q[1:len(q)-1], Mask)
	}
	out = strings.ReplaceAll(out, inQuotes, cleanQuoted[1:len(cleanQuoted)-1])
	out = strings.ReplaceAll(out, plain, clean)
	if out == msg {
		return err
	}
	return &redacted{msg: out, err: err}
}

// redacted is an error whose message hides a password of the error it wraps.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }
