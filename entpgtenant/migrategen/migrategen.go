// Package migrategen writes the versioned SQL migrations of a
// schema-per-tenant Ent project, one directory per track, or checks that the
// committed ones are up to date.
//
// A project has two tracks: public, holding the tables of the shared
// entities (ent.SharedTables), applied once to schema public, and tenant,
// holding the tables of the tenant entities (ent.TenantTables), applied to
// every tenant schema; package tenant/migrate applies them. Each track is
// diffed on its own: Generate replays the track's committed files on a
// clean development database, compares the result with the track's tables
// and writes the difference as a new file (and updates atlas.sum), or, with
// Options.Check, only reports it. The diff runs with search_path set to
// public alone, so the DDL it writes is unqualified and the tenant track
// applies to any schema.
//
// A project calls it from a small program beside its generated ent package,
// run with go run:
//
//	//go:build ignore
//
//	package main
//
//	func main() {
//		err := migrategen.Main(os.Args[1:], migrategen.Options{
//			Dir: "ent/migrate/migrations",
//			Tracks: []migrategen.Track{
//				{Dir: "public", Tables: ent.SharedTables()},
//				{Dir: "tenant", Tables: ent.TenantTables()},
//			},
//		})
//		if err != nil {
//			fmt.Fprintln(os.Stderr, "ent/migrate:", err)
//			os.Exit(1)
//		}
//	}
//
// and then
//
//	go run ./ent/migrate/main.go NAME    # write the migrations named NAME
//	go run ./ent/migrate/main.go -check  # fail if the schema has unmigrated changes
package migrategen

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	"github.com/lib/pq"
)

// DefaultServer is the server on which Generate creates its throwaway
// development database when neither Options.DevURL nor TEST_DATABASE_URL
// names one.
const DefaultServer = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ErrStale is wrapped by the error of a check (Options.Check) that found
// changes of the Ent schema missing from the committed migrations.
var ErrStale = errors.New("migrategen: migrations are stale")

// Track is one directory of migrations and the tables it owns.
type Track struct {
	// Dir is the track's directory, relative to Options.Dir (or as given
	// when Options.Dir is empty). Generate creates it when it writes.
	Dir string

	// Tables are the Ent tables whose DDL the track holds, such as
	// ent.SharedTables() or ent.TenantTables().
	Tables []*schema.Table
}

// Options configure Generate.
type Options struct {
	// Dir is the root of the tracks' directories; empty means the current
	// directory.
	Dir string

	// Name names the new migration files (<version>_<name>.sql); default
	// "changes".
	Name string

	// DevURL is a clean development database used for the diff: no tables,
	// no schemas but an empty public. Empty means a throwaway database,
	// created on the server of the environment variable TEST_DATABASE_URL,
	// or else on DefaultServer, and dropped afterwards.
	DevURL string

	// Tracks are diffed in order, each on its own.
	Tracks []Track

	// Check writes nothing: Generate diffs in-memory copies of the
	// committed directories and fails with an error wrapping ErrStale if
	// any track needs a new migration.
	Check bool

	// Stdout receives one line per track saying what was written (or
	// would be); nil discards them.
	Stdout io.Writer
}

// Generate diffs each track's committed migrations against its tables and
// writes a new migration where they differ, or with opts.Check, reports
// stale tracks (error wrapping ErrStale, the missing DDL printed on
// opts.Stdout). A track whose files do not match its atlas.sum is an error
// in check mode. Generate drops the throwaway development database it made,
// if any, before returning.
func Generate(ctx context.Context, opts Options) error {
	if len(opts.Tracks) == 0 {
		return errors.New("migrategen: no tracks")
	}
	if opts.Name == "" {
		opts.Name = "changes"
	}
	out := opts.Stdout
	if out == nil {
		out = io.Discard
	}
	db, cleanup, err := devDatabase(ctx, opts.DevURL)
	if err != nil {
		return err
	}
	defer cleanup()

	var stale []string
	for _, t := range opts.Tracks {
		path := filepath.Join(opts.Dir, t.Dir)
		changed, err := diff(ctx, db, path, opts.Name, t.Tables, opts.Check, out)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if changed && opts.Check {
			stale = append(stale, path)
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("%w in %v: generate a new migration and commit the new files", ErrStale, stale)
	}
	return nil
}

// diff diffs one track and reports whether it needed a new migration.
func diff(ctx context.Context, db *sql.DB, path, name string, tables []*schema.Table, check bool, out io.Writer) (bool, error) {
	var dir migrate.Dir
	if check {
		mem, err := checkCopy(path)
		if err != nil {
			return false, err
		}
		defer mem.Close()
		dir = mem
	} else {
		if err := os.MkdirAll(path, 0o755); err != nil {
			return false, err
		}
		local, err := migrate.NewLocalDir(path)
		if err != nil {
			return false, err
		}
		dir = local
	}
	before, err := dir.Files()
	if err != nil {
		return false, err
	}
	m, err := schema.NewMigrate(entsql.OpenDB(dialect.Postgres, db),
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dialect.Postgres),
		schema.WithFormatter(migrate.DefaultFormatter),
		schema.WithErrNoPlan(true),
	)
	if err != nil {
		return false, err
	}
	err = m.NamedDiff(ctx, name, tables...)
	switch {
	case errors.Is(err, migrate.ErrNoPlan):
		fmt.Fprintf(out, "%s: up to date\n", path)
		return false, nil
	case err != nil:
		return false, err
	}
	after, err := dir.Files()
	if err != nil {
		return false, err
	}
	for _, f := range newFiles(before, after) {
		if check {
			fmt.Fprintf(out, "%s: the Ent schema needs a new migration:\n%s\n", path, bytes.TrimSpace(f.Bytes()))
			continue
		}
		fmt.Fprintf(out, "%s: wrote %s\n", path, f.Name())
	}
	return true, nil
}

// Main is the command line of a project's generator program: it parses
// args (the program's arguments without its name) as
//
//	[-check] [-dev-url URL] [-dir DIR] [NAME]
//
// into a copy of opts (-dev-url defaults to the environment variable
// DEV_DATABASE_URL, then to opts.DevURL; -dir to opts.Dir; NAME to
// opts.Name), and runs Generate until it returns or the process is
// interrupted, with Stdout defaulting to os.Stdout.
func Main(args []string, opts Options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	devURL := os.Getenv("DEV_DATABASE_URL")
	if devURL == "" {
		devURL = opts.DevURL
	}
	fs := flag.NewFlagSet("migrategen", flag.ContinueOnError)
	fs.BoolVar(&opts.Check, "check", opts.Check, "do not write: fail when the committed migrations do not reproduce the Ent schema")
	fs.StringVar(&opts.DevURL, "dev-url", devURL, "clean development database used for the diff (env DEV_DATABASE_URL; default: a throwaway database on the server of TEST_DATABASE_URL or "+DefaultServer+")")
	fs.StringVar(&opts.Dir, "dir", opts.Dir, "root of the migration tracks")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 1:
		return errors.New("usage: [-check] [-dev-url URL] [-dir DIR] [NAME]")
	case fs.NArg() == 1:
		opts.Name = fs.Arg(0)
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	return Generate(ctx, opts)
}

// checkCopy returns an in-memory copy of the committed directory, so that a
// check never writes. A missing directory is an empty one; files that do not
// match the committed atlas.sum are an error.
func checkCopy(path string) (*migrate.MemDir, error) {
	mem := migrate.OpenMemDir(path + "-check-" + randomHex())
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return mem, migrate.WriteSumFile(mem, migrate.HashFile{})
	}
	local, err := migrate.NewLocalDir(path)
	if err != nil {
		return nil, err
	}
	if err := migrate.Validate(local); err != nil {
		return nil, fmt.Errorf("committed files do not match atlas.sum (migration files are written only by the generator): %w", err)
	}
	files, err := local.Files()
	if err != nil {
		return nil, err
	}
	if err := mem.CopyFiles(files); err != nil {
		return nil, err
	}
	sum, err := local.Checksum()
	if err != nil {
		return nil, err
	}
	return mem, migrate.WriteSumFile(mem, sum)
}

func newFiles(before, after []migrate.File) []migrate.File {
	seen := make(map[string]bool, len(before))
	for _, f := range before {
		seen[f.Name()] = true
	}
	var out []migrate.File
	for _, f := range after {
		if !seen[f.Name()] {
			out = append(out, f)
		}
	}
	return out
}

// devDatabase opens a pool on the dev database (a throwaway database when url
// is empty) whose search_path is public alone. The returned cleanup drops
// what it created.
func devDatabase(ctx context.Context, url string) (*sql.DB, func(), error) {
	var undo []func()
	cleanup := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	fail := func(err error) (*sql.DB, func(), error) {
		cleanup()
		return nil, nil, err
	}
	var cfg pq.Config
	if url == "" {
		serverURL := os.Getenv("TEST_DATABASE_URL")
		if serverURL == "" {
			serverURL = DefaultServer
		}
		server, err := pq.NewConfig(serverURL)
		if err != nil {
			return fail(err)
		}
		admin, err := open(server, "")
		if err != nil {
			return fail(err)
		}
		name := "pgtenant_dev_" + randomHex()
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
			admin.Close()
			return fail(fmt.Errorf("create dev database (set a dev database URL to use another server): %w", err))
		}
		undo = append(undo, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
				fmt.Fprintln(os.Stderr, "migrategen: drop dev database:", err)
			}
			admin.Close()
		})
		cfg = server.Clone()
		cfg.Database = name
	} else {
		var err error
		if cfg, err = pq.NewConfig(url); err != nil {
			return fail(fmt.Errorf("dev database url: %w", err))
		}
	}
	db, err := open(cfg, "public")
	if err != nil {
		return fail(err)
	}
	undo = append(undo, func() { db.Close() })
	return db, cleanup, nil
}

func open(cfg pq.Config, searchPath string) (*sql.DB, error) {
	cfg = cfg.Clone()
	if searchPath != "" {
		if cfg.Runtime == nil {
			cfg.Runtime = map[string]string{}
		}
		cfg.Runtime["search_path"] = pq.QuoteIdentifier(searchPath)
	}
	c, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

func randomHex() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
