package tenant

import (
	"fmt"
	"regexp"
	"strings"
)

// idPattern admits lower-case slugs and lower-case UUIDs. Upper case is refused
// rather than folded: PostgreSQL folds unquoted identifiers, and a folded name
// that does not exist makes search_path silently fall through.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,47}$`)

// schemaPattern is what any schema name must look like, whatever the Namer.
var schemaPattern = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,62}$`)

// MaxIDLength is the longest tenant id ValidateID accepts, in bytes.
const MaxIDLength = 48

// ValidateID reports whether id is an acceptable tenant id: 1 to 48 bytes of
// lower-case ASCII letters, digits, '_' and '-', starting with a letter or a
// digit (so slugs like "acme" and lower-case UUIDs both qualify). It returns an
// error wrapping ErrInvalidID otherwise. It performs no I/O.
func ValidateID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w %q: want 1-%d of [a-z0-9_-], starting with a letter or digit", ErrInvalidID, truncate(id), MaxIDLength)
	}
	return nil
}

// A Namer maps a valid tenant id to the name of its PostgreSQL schema. The nil
// Namer is DefaultNamer. A Namer must be a pure function: the same id always
// gives the same schema, and different ids give different schemas.
type Namer func(id string) string

// DefaultNamer names the schema of tenant id "tenant_<id>".
func DefaultNamer(id string) string { return "tenant_" + id }

// Schema validates id, maps it through n and validates the result: at most 63
// bytes of [a-z0-9_-] starting with a letter or '_', and not a reserved name
// (public, information_schema, pg_*). Every entry point of this module (the
// registry, the middleware, migrations, the CLI) turns ids into schemas through
// this method, so a hostile id is rejected before any I/O. Errors wrap
// ErrInvalidID.
func (n Namer) Schema(id string) (string, error) {
	if err := ValidateID(id); err != nil {
		return "", err
	}
	f := n
	if f == nil {
		f = DefaultNamer
	}
	s := f(id)
	if err := validateSchema(s); err != nil {
		return "", fmt.Errorf("schema for tenant %q: %w", id, err)
	}
	return s, nil
}

func validateSchema(s string) error {
	switch {
	case !schemaPattern.MatchString(s):
		return fmt.Errorf("%w: schema name %q is not a lower-case identifier of at most 63 bytes", ErrInvalidID, truncate(s))
	case s == "public" || s == "information_schema" || strings.HasPrefix(s, "pg_"):
		return fmt.Errorf("%w: schema name %q is reserved", ErrInvalidID, s)
	}
	return nil
}

// truncate shortens hostile input before it is quoted into an error message.
func truncate(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
