package devdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/pgtenant/pgtenant/internal/redact"
)

// DefaultProbe is the server [Ensure] uses when it answers and
// [Options.Probe] is empty.
const DefaultProbe = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// DefaultDir is the folder of the private cluster when [Options.Dir] is empty.
const DefaultDir = ".devdb"

// probeTimeout bounds one attempt to reach the probe server.
const probeTimeout = 2 * time.Second

// ErrNoBinaries is returned by [Ensure] when it needs a private cluster (no
// server answers, or [Options.Private]) and no PostgreSQL binaries (initdb,
// pg_ctl) can be found. This package never installs them; scripts/dev does.
var ErrNoBinaries = errors.New("devdb: no PostgreSQL binaries (initdb, pg_ctl) found")

// ErrNoUser is returned by [Ensure] when the process runs as root, which
// PostgreSQL refuses, and the system user [ServerUser] to run it as does not
// exist. This package never creates it; scripts/dev does.
var ErrNoUser = errors.New("devdb: PostgreSQL refuses to run as root, and there is no system user")

// ErrInUse is returned by [Server.Remove] when another [Server] still uses the
// cluster.
var ErrInUse = errors.New("devdb: cluster in use by another process")

// Options configures [Ensure]. The zero value uses the server on
// 127.0.0.1:5432 if it answers, else a private cluster in .devdb.
type Options struct {
	// Dir is the folder that holds the private cluster (or a symbolic link
	// to it) and its lock files, relative to the working directory.
	// Empty means DefaultDir.
	Dir string

	// Probe is the URL of a server to use if it answers a ping within two
	// seconds; its path names the maintenance database. Empty means
	// DefaultProbe. Ignored when Private is set.
	Probe string

	// Private asks for a new private cluster of its own, in a fresh folder
	// under Dir, whether or not the probe server answers. No other call of
	// Ensure shares it. Tests use it to stop and restart a server
	// ([Server.Stop], [Server.Start]); [Server.Remove] deletes it.
	Private bool

	// Logger receives lifecycle events (server found, cluster initialized,
	// started, stopped). Nil discards them.
	Logger *slog.Logger
}

// Server is a running PostgreSQL server: either one found at the probe URL,
// which this package never stops, or a private cluster it manages. Its
// methods are safe for concurrent use.
type Server struct {
	log  *slog.Logger
	base url.URL  // the maintenance database
	c    *cluster // nil for a server found at the probe URL

	mu sync.Mutex // serializes Start, Stop and Remove
}

// Ensure returns a running PostgreSQL server: the one at opts.Probe if it
// answers (unless opts.Private), else a private cluster in opts.Dir, created
// and started if need be from the PostgreSQL binaries already on the
// machine. It installs nothing and creates no user. See the package
// documentation.
//
// The caller should call [Server.Stop] when done; it stops a private cluster
// that no other Server uses and does nothing to a server found at the probe.
// Ensure returns an error wrapping [ErrNoBinaries] when there are no binaries
// to start a cluster from, and one wrapping [ErrNoUser] when the process is
// root and there is no user to run them as; both name the script that
// installs what is missing.
func Ensure(ctx context.Context, opts Options) (*Server, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := opts.Dir
	if dir == "" {
		dir = DefaultDir
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("devdb: %w", err)
	}
	probe := opts.Probe
	if probe == "" {
		probe = DefaultProbe
	}
	var probeURL *url.URL
	if !opts.Private {
		probeURL, err = url.Parse(probe)
		if err != nil {
			return nil, fmt.Errorf("devdb: probe: %w", redact.Error(probe, err))
		}
		if s, ok := tryProbe(ctx, log, probeURL); ok {
			return s, nil
		}
	}

	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}

	name := "cluster"
	if opts.Private {
		b := make([]byte, 6)
		rand.Read(b)
		name = "private-" + hex.EncodeToString(b)
	}
	c, err := newCluster(ctx, log, dir, name, bin)
	if err != nil {
		return nil, err
	}
	if err := c.ensure(ctx); err != nil {
		return nil, err
	}
	s := &Server{log: log, c: c, base: localURL(c.port)}
	return s, nil
}

func tryProbe(ctx context.Context, log *slog.Logger, u *url.URL) (*Server, bool) {
	err := ping(ctx, u.String())
	if err != nil {
		log.InfoContext(ctx, "devdb probe failed", "server", redact.DSN(u.String()), "err", redact.Error(u.String(), err))
		return nil, false
	}
	log.InfoContext(ctx, "devdb using running server", "server", redact.DSN(u.String()))
	return &Server{log: log, base: *u}, true
}

func localURL(port int) url.URL {
	return url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     "127.0.0.1:" + strconv.Itoa(port),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
}

// ping reports whether the server at dsn accepts a connection within
// probeTimeout.
func ping(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

// URL returns the connection URL of database on s, with the user and query
// parameters of the server's maintenance database URL. It does not check that
// the database exists (see [Server.CreateDatabase]).
func (s *Server) URL(database string) string {
	u := s.base
	u.Path = "/" + database
	u.RawPath = ""
	return u.String()
}

// Managed reports whether s is a private cluster run by this package, as
// opposed to a server found at the probe URL.
func (s *Server) Managed() bool { return s.c != nil }

// DataDir returns the data directory of a private cluster, or "" for a
// server found at the probe URL. Its server log is postgres.log beside it.
func (s *Server) DataDir() string {
	if s.c == nil {
		return ""
	}
	return s.c.data()
}

// CreateDatabase creates the database name on s unless it exists. The name is
// quoted, so any name is taken literally. Concurrent calls for one name are
// safe: all succeed and one creates it.
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	db, err := sql.Open("postgres", s.base.String())
	if err != nil {
		return fmt.Errorf("devdb: create database %q: %w", name, err)
	}
	defer db.Close()
	var exists bool
	err = db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		return fmt.Errorf("devdb: create database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name))
	if err != nil && pq.As(err, pqerror.DuplicateDatabase) == nil {
		return fmt.Errorf("devdb: create database %q: %w", name, err)
	}
	return nil
}

// Stop releases s. For a private cluster that no other [Server] (in this or
// another process) uses, it shuts the server down (pg_ctl stop -m fast) and
// returns once its process has exited. For a server found at the probe URL,
// or a cluster still used by others, it does nothing to the server. Stop is
// idempotent; after it, [Server.Start] may start the cluster again.
func (s *Server) Stop(ctx context.Context) error {
	if s.c == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.c.stop(ctx, false)
	return err
}

// Start starts a private cluster stopped by [Server.Stop] again, on the same
// port, so that URLs handed out before stay valid, and makes s one of its
// users again. It does nothing if s is already using the running cluster or
// is a server found at the probe URL. It fails if the port has been taken
// meanwhile.
func (s *Server) Start(ctx context.Context) error {
	if s.c == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.restart(ctx)
}

// Remove stops a private cluster like [Server.Stop] and deletes its files. It
// returns an error wrapping [ErrInUse], leaving the cluster alone, when another
// Server still uses it. It does nothing for a server found at the probe URL.
func (s *Server) Remove(ctx context.Context) error {
	if s.c == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stopped, err := s.c.stop(ctx, true)
	if err != nil {
		return err
	}
	if !stopped {
		return fmt.Errorf("remove %s: %w", s.c.root, ErrInUse)
	}
	return nil
}
