package main

import (
	"bytes"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/pgtenant/pgtenant/internal/devdb"
	"github.com/pgtenant/pgtenant/internal/redact"
)

// usageError is a mistake in the command line (an unknown command or flag,
// a missing or extra argument): main exits with status 2 instead of 1.
// printed is true when the flag package already printed the message with
// the usage, so main must not print it again.
type usageError struct {
	err     error
	printed bool
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// exitCode prints err to stderr, unless it was printed already, and returns
// the process's exit status: 0 for nil, 2 for a usage error, else 1.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		if !ue.printed {
			fmt.Fprintln(stderr, "api:", err)
		}
		return 2
	}
	fmt.Fprintln(stderr, "api:", err)
	return 1
}

// firstWrite passes writes through to w and remembers the first one, so
// run can tell whether the flag package printed the error it returned: it
// prints the message, in one write, before anything else of the command.
type firstWrite struct {
	w     io.Writer
	done  atomic.Bool
	mu    sync.Mutex
	first string
}

func (f *firstWrite) Write(p []byte) (int, error) {
	if !f.done.Load() {
		f.mu.Lock()
		if !f.done.Load() {
			f.first = string(p)
			f.done.Store(true)
		}
		f.mu.Unlock()
	}
	return f.w.Write(p)
}

// printed reports whether msg, as one line, was the first write.
func (f *firstWrite) printed(msg string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.first == msg+"\n"
}

var flagLine = regexp.MustCompile(`(?m)^  -`)

// newFlagSet returns the flag set of command name: it reports errors on
// e.stderr, and its -h prints help followed by the flags (printFlags).
func newFlagSet(e env, name, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), help); printFlags(fs) }
	return fs
}

// printFlags prints the flags of fs like fs.PrintDefaults, but spelled
// with two dashes (--all), as the documentation spells them; the flag
// package accepts both.
func printFlags(fs *flag.FlagSet) {
	out := fs.Output()
	var b bytes.Buffer
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(out)
	out.Write(flagLine.ReplaceAll(b.Bytes(), []byte("  --")))
}

// plural returns "1 tenant", "2 tenants".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// database is the database a command talks to and where its URL came from,
// for the messages that explain a failure. run shares one with every
// command; databaseURLFlag and serve fill it in.
type database struct {
	url    *string
	origin func() string
}

// origins of the database URL of the administrative commands.
const (
	fromFlag     = "--database-url"
	fromEnv      = "DATABASE_URL"
	fromRecord   = "the development database of 'api serve', recorded in .devdb/" + devdb.URLFile
	fromDefault  = "the built-in default"
	fixNotReady  = "set DATABASE_URL to your database, or start the development database with 'scripts/dev' (from the checkout's root folder)"
	fixMigration = "run 'api migrate --all' (with the same DATABASE_URL)"
)

// adminDatabaseURL returns the default of --database-url of the
// administrative commands and its origin: DATABASE_URL when set, else the
// URL that 'api serve' recorded when it brought up the development database
// in dir, else defaultDatabaseURL.
func adminDatabaseURL(e env) (url, origin string) {
	if u := e.getenv("DATABASE_URL"); u != "" {
		return u, fromEnv
	}
	if u, err := devdb.RecordedURL(e.devDir); err == nil && u != "" {
		return u, fromRecord
	}
	return defaultDatabaseURL, fromDefault
}

// databaseURLFlag registers --database-url, whose default is
// adminDatabaseURL's, shown without its password.
func databaseURLFlag(fs *flag.FlagSet, e env) *string {
	def, origin := adminDatabaseURL(e)
	p := new(string)
	*p = def
	fs.Var(stringValue{p, redact.DSN(def)}, "database-url",
		"PostgreSQL `url` or DSN; default $DATABASE_URL, else the development database that 'api serve' recorded in .devdb/, else the built-in default (prefer the variable: flags show in ps)")
	if e.db != nil {
		e.db.url = p
		e.db.origin = func() string {
			if *p != def {
				return fromFlag
			}
			return origin
		}
	}
	return p
}

// openAdminDB opens a pool of at most conns connections on dsn. Its
// search_path does not matter to the migrator. An error does not show the
// password of dsn.
func openAdminDB(dsn string, conns int) (*sql.DB, error) {
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

// explain returns err, from a command that used db, with its password
// removed and, for the mistakes a newcomer makes, what to do about it:
// a database without the public migrations (SQLSTATE 42P01 undefined_table,
// or 42703 undefined_column for one migrated by an older release), and a
// database that does not answer.
func explain(db *database, err error) error {
	if err == nil || db == nil || db.url == nil {
		return err
	}
	dsn := *db.url
	err = redact.Error(dsn, err)
	origin := fromDefault
	if db.origin != nil {
		origin = db.origin()
	}
	switch {
	case pq.As(err, pqerror.UndefinedTable, pqerror.UndefinedColumn) != nil:
		return fmt.Errorf("%w\nthe database %s (from %s) is not migrated for this release: %s",
			err, redact.DSN(dsn), origin, fixMigration)
	case errors.Is(err, syscall.ECONNREFUSED), pq.As(err, pqerror.InvalidCatalogName) != nil:
		return fmt.Errorf("%w\nno database at %s (from %s): %s",
			err, redact.DSN(dsn), origin, fixNotReady)
	}
	return err
}
