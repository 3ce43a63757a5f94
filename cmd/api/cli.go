package main

import (
	"flag"
	"io"

	"github.com/pgtenant/pgtenant/internal/cmdline"
	"github.com/pgtenant/pgtenant/internal/devdb"
)

// exitCode prints err to stderr, unless it was printed already, and returns
// the process's exit status: 0 for nil, 2 for a usage error, else 1.
func exitCode(err error, stderr io.Writer) int {
	return cmdline.ExitCode(err, "api", stderr)
}

// usagef returns a usage error (exit status 2) with a formatted message.
func usagef(format string, args ...any) error {
	return cmdline.Usagef(format, args...)
}

// newFlagSet returns the flag set of command name: it reports errors on
// e.stderr, and its -h prints help followed by the flags spelled with two
// dashes.
func newFlagSet(e env, name, help string) *flag.FlagSet {
	return cmdline.NewFlagSet(e.stderr, name, help)
}

// databaseURLFlag registers --database-url, whose default is DATABASE_URL,
// else the database that 'api serve' recorded, else defaultDatabaseURL,
// shown without its password, and records it in e.db.
func databaseURLFlag(fs *flag.FlagSet, e env) *string {
	if e.db == nil {
		return newDatabase(e).Flag(fs)
	}
	return e.db.Flag(fs)
}

// Where the database URL of the administrative commands comes from, and
// what to do when it does not answer.
const (
	fromRecord  = "the development database of 'api serve', recorded in .devdb/" + devdb.URLFile
	fromDefault = "the built-in default"
	databaseDoc = "the development database that 'api serve' recorded in .devdb/, else the built-in default"
	fixNotReady = "set DATABASE_URL to your database, or start the development database with 'scripts/dev' (from the checkout's root folder)"
)

// newDatabase returns the database of the administrative commands run
// with e: DATABASE_URL when set, else the URL that 'api serve' recorded
// when it brought up the development database in e.devDir, else
// defaultDatabaseURL.
func newDatabase(e env) *cmdline.Database {
	return &cmdline.Database{Name: "api", Getenv: e.getenv, Default: e.recordedURL, Doc: databaseDoc, Hint: fixNotReady}
}

// recordedURL returns the URL that 'api serve' recorded in
// e.devDir, else defaultDatabaseURL, and its origin.
func (e env) recordedURL() (url, origin string) {
	if u, err := devdb.RecordedURL(e.devDir); err == nil && u != "" {
		return u, fromRecord
	}
	return defaultDatabaseURL, fromDefault
}
