package cmdline

import (
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"syscall"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/pgtenant/pgtenant/internal/redact"
)

// Origins of a database URL, as error messages name them.
const (
	FromFlag = "--database-url"
	FromEnv  = "DATABASE_URL"
)

// DefaultHint is what a failure to reach the database advises when
// Database.Hint is empty.
const DefaultHint = "set DATABASE_URL to your database"

// Database is where a program's administrative commands find their
// database, and what explains a failure to reach or use it. A command
// records the URL it uses by Flag (or Use), and Run passes its error
// through Explain. The zero value has no default URL.
type Database struct {
	// Name is the program's name, in the advice to migrate.
	Name string
	// Getenv reads DATABASE_URL.
	Getenv func(string) string
	// Default, if not nil, returns the URL used when DATABASE_URL is unset
	// and a phrase naming where it comes from; an empty url means none.
	Default func() (url, origin string)
	// Doc describes Default in the help of --database-url, after "default
	// $DATABASE_URL, else ".
	Doc string
	// Hint says what to do when the database does not answer; empty means
	// DefaultHint.
	Hint string

	url    *string
	origin func() string
}

// defaultURL returns the default of --database-url and its origin.
func (d *Database) defaultURL() (url, origin string) {
	if d.Getenv != nil {
		if u := d.Getenv("DATABASE_URL"); u != "" {
			return u, FromEnv
		}
	}
	if d.Default != nil {
		return d.Default()
	}
	return "", ""
}

// Flag registers --database-url on fs, whose default is DATABASE_URL, else
// d.Default's, shown without its password, and records it as the URL the
// command uses.
func (d *Database) Flag(fs *flag.FlagSet) *string {
	def, origin := d.defaultURL()
	p := new(string)
	*p = def
	doc := "PostgreSQL `url` or DSN; default $DATABASE_URL"
	if d.Doc != "" {
		doc += ", else " + d.Doc
	}
	fs.Var(StringValue{P: p, Shown: redact.DSN(def)}, "database-url", doc+" (prefer the variable: flags show in ps)")
	d.Use(p, func() string {
		if *p != def {
			return FromFlag
		}
		return origin
	})
	return p
}

// Use records *url as the URL the command uses, and origin as the function
// that names where it came from.
func (d *Database) Use(url *string, origin func() string) {
	d.url, d.origin = url, origin
}

// Explain returns err, from a command that used d's URL, with its password
// removed and, for the mistakes a newcomer makes, what to do about it: a
// database without the public migrations (SQLSTATE 42P01 undefined_table,
// or 42703 undefined_column for one migrated by an older release), and a
// database that does not answer. A nil d, or one without a URL, returns
// err.
func (d *Database) Explain(err error) error {
	if err == nil || d == nil || d.url == nil || *d.url == "" {
		return err
	}
	dsn := *d.url
	err = redact.Error(dsn, err)
	origin := "the built-in default"
	if d.origin != nil {
		origin = d.origin()
	}
	hint := d.Hint
	if hint == "" {
		hint = DefaultHint
	}
	switch {
	case pq.As(err, pqerror.UndefinedTable, pqerror.UndefinedColumn) != nil:
		return fmt.Errorf("%w\nthe database %s (from %s) is not migrated for this release: run '%s migrate --all' (with the same DATABASE_URL)",
			err, redact.DSN(dsn), origin, d.Name)
	case errors.Is(err, syscall.ECONNREFUSED), pq.As(err, pqerror.InvalidCatalogName) != nil:
		return fmt.Errorf("%w\nno database at %s (from %s): %s",
			err, redact.DSN(dsn), origin, hint)
	}
	return err
}

// OpenAdminDB opens a pool of at most conns connections on dsn. Its
// search_path does not matter to the migrator. An error does not show the
// password of dsn; an empty dsn is a *UsageError.
func OpenAdminDB(dsn string, conns int) (*sql.DB, error) {
	if dsn == "" {
		return nil, Usagef("no database: set DATABASE_URL or --database-url")
	}
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", redact.Error(dsn, err))
	}
	c, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", redact.Error(dsn, err))
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	return db, nil
}

// StringValue is a flag.Value that sets *P; -h shows Shown as its default,
// so a default holding a secret can be shown masked.
type StringValue struct {
	P     *string
	Shown string
}

// String returns Shown ("" for the zero value, as the flag package needs).
func (v StringValue) String() string {
	if v.P == nil {
		return ""
	}
	return v.Shown
}

// Set sets *P to s.
func (v StringValue) Set(s string) error { *v.P = s; return nil }
