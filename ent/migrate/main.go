//go:build ignore

// Command main generates the versioned SQL migrations of both tracks from the
// Ent schema, or checks that the committed ones are up to date.
//
//	go run ./ent/migrate/main.go [-dev-url URL] NAME   # write a new migration named NAME
//	go run ./ent/migrate/main.go -check                 # exit 1 if the schema has unmigrated changes
//
// It diffs the Ent schema against the state the committed migrations produce,
// replayed on a development database. The dev database comes from -dev-url or
// DEV_DATABASE_URL; without either, a throwaway database is created on the
// server of TEST_DATABASE_URL (the test server), or else on
// postgres://postgres@127.0.0.1:5432/postgres, and dropped afterwards. The
// dev database must be clean (only an empty public schema); the diff runs
// with search_path set to public alone, so the generated DDL is unqualified
// and the tenant track applies to any schema.
package main

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

	"github.com/pgtenant/pgtenant/ent"
)

const defaultServer = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// track is one directory of migrations and the tables it owns.
type track struct {
	dir    string
	tables []*schema.Table
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ent/migrate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	check := fs.Bool("check", false, "do not write: fail when the committed migrations do not reproduce the Ent schema")
	devURL := fs.String("dev-url", os.Getenv("DEV_DATABASE_URL"), "clean development database used for the diff (env DEV_DATABASE_URL; default: a throwaway database on the server of TEST_DATABASE_URL or "+defaultServer+")")
	root := fs.String("dir", "ent/migrate/migrations", "root of the migration tracks")
	if err := fs.Parse(args); err != nil {
		return err
	}
	name := "changes"
	switch {
	case fs.NArg() > 1:
		return errors.New("usage: main.go [-check] [-dev-url URL] [NAME]")
	case fs.NArg() == 1:
		name = fs.Arg(0)
	}
	tracks := []track{
		{dir: filepath.Join(*root, "public"), tables: ent.SharedTables()},
		{dir: filepath.Join(*root, "tenant"), tables: ent.TenantTables()},
	}

	db, cleanup, err := devDatabase(ctx, *devURL)
	if err != nil {
		return err
	}
	defer cleanup()

	var stale []string
	for _, t := range tracks {
		var dir migrate.Dir
		if *check {
			mem, err := checkCopy(t.dir)
			if err != nil {
				return fmt.Errorf("%s: %w", t.dir, err)
			}
			defer mem.Close()
			dir = mem
		} else {
			if err := os.MkdirAll(t.dir, 0o755); err != nil {
				return err
			}
			local, err := migrate.NewLocalDir(t.dir)
			if err != nil {
				return err
			}
			dir = local
		}
		before, err := dir.Files()
		if err != nil {
			return err
		}
		m, err := schema.NewMigrate(entsql.OpenDB(dialect.Postgres, db),
			schema.WithDir(dir),
			schema.WithMigrationMode(schema.ModeReplay),
			schema.WithDialect(dialect.Postgres),
			schema.WithFormatter(migrate.DefaultFormatter),
			schema.WithErrNoPlan(true),
		)
		if err != nil {
			return err
		}
		err = m.NamedDiff(ctx, name, t.tables...)
		switch {
		case errors.Is(err, migrate.ErrNoPlan):
			fmt.Fprintf(stdout, "%s: up to date\n", t.dir)
			continue
		case err != nil:
			return fmt.Errorf("%s: %w", t.dir, err)
		}
		after, err := dir.Files()
		if err != nil {
			return err
		}
		for _, f := range newFiles(before, after) {
			if *check {
				stale = append(stale, t.dir)
				fmt.Fprintf(stdout, "%s: the Ent schema needs a new migration:\n%s\n", t.dir, bytes.TrimSpace(f.Bytes()))
				continue
			}
			fmt.Fprintf(stdout, "%s: wrote %s\n", t.dir, f.Name())
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("migrations are stale in %v: run 'go run ./ent/migrate/main.go NAME' and commit the new files", stale)
	}
	return nil
}

// checkCopy returns an in-memory copy of the committed directory, so that a
// check never writes. A missing directory is an empty one; files that do not
// match the committed atlas.sum are an error.
func checkCopy(path string) (*migrate.MemDir, error) {
	mem := migrate.OpenMemDir(path + "-check")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return mem, migrate.WriteSumFile(mem, migrate.HashFile{})
	}
	local, err := migrate.NewLocalDir(path)
	if err != nil {
		return nil, err
	}
	if err := migrate.Validate(local); err != nil {
		return nil, fmt.Errorf("committed files do not match atlas.sum (migration files are written only by this generator): %w", err)
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
// is empty) whose search_path is public alone. A given dev database must be
// clean: no tables and no schemas but an empty public. The returned cleanup
// drops what it created.
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
			serverURL = defaultServer
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
			return fail(fmt.Errorf("create dev database (set -dev-url or DEV_DATABASE_URL to use another server): %w", err))
		}
		undo = append(undo, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
				fmt.Fprintln(os.Stderr, "ent/migrate: drop dev database:", err)
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
