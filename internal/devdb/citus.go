package devdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lib/pq"
)

// ErrNoCitus is returned by [EnsureCitus] and [StartCitus] when the Citus
// extension is not installed in the machine's PostgreSQL and cannot be
// installed from CITUS_DIST.
var ErrNoCitus = errors.New("devdb: the Citus extension is not installed")

// citusConf is appended to the postgresql.conf of every node: Citus
// preloaded, logical decoding for online moves (citus_move_shard_placement
// with logical replication), no statistics phone-home, and enough background
// workers for one Citus maintenance daemon per database that tests create
// plus the replication workers of a move, and a rebalancer that runs up to
// four moves per node at once. The nodes talk to each other over loopback
// without TLS.
//
// synchronous_commit is on again (devdb turns it off elsewhere): an online
// move decides the target has caught up by comparing it with the source's
// WAL write position, which a write committed asynchronously may not have
// reached yet; such a write, acknowledged just before the move blocks
// writes, stays behind on the old placement. With fsync off, a synchronous
// commit costs a write(2), not a disk flush.
const citusConf = `
# devdb: a node of a private Citus cluster
shared_preload_libraries = 'citus'
wal_level = logical
synchronous_commit = on
max_worker_processes = 64
max_replication_slots = 20
max_wal_senders = 20
citus.enable_statistics_collection = off
citus.node_conninfo = 'sslmode=disable'
citus.max_background_task_executors_per_node = 4
citus.max_background_task_executors = 8
`

// CitusOptions configures [StartCitus]. The zero value starts a coordinator
// and two workers in .devdb.
type CitusOptions struct {
	// Dir is the folder that holds the nodes' clusters, as Options.Dir.
	// Empty means DefaultDir.
	Dir string

	// Workers is the number of worker nodes; zero or less means 2.
	Workers int

	// Dist is the folder of a Citus build with an install.sh, used by
	// EnsureCitus when the extension is missing (CITUS_DIST).
	Dist string

	// Logger receives lifecycle events; nil discards them.
	Logger *slog.Logger
}

// Citus is a private Citus cluster on loopback: a coordinator and workers,
// each a private PostgreSQL cluster of its own ([Options.Private]) started
// with Citus preloaded. In the maintenance database postgres of every node
// the extension is created, and on the coordinator the workers are
// registered, so that database is a working Citus database; CreateDatabase
// makes more. Its methods are safe for concurrent use.
type Citus struct {
	// Coordinator is the node clients connect to.
	Coordinator *Server
	// Workers are the nodes that hold the tenant schemas. Stopping one
	// (Server.Stop) and starting it again (Server.Start) keeps its port.
	Workers []*Server
	// Startup is how long StartCitus took, from the first initdb to the
	// last worker registered.
	Startup time.Duration
}

// EnsureCitus makes sure the machine's PostgreSQL (the binaries devdb would
// start clusters from) has the Citus extension. When it does not and dist
// is not empty, it runs dist/install.sh, which needs root. It returns an
// error wrapping ErrNoCitus, saying why, when Citus cannot be had.
func EnsureCitus(ctx context.Context, log *slog.Logger, dist string) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bin, err := findBinaries()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoCitus, err)
	}
	if citusInstalled(ctx, bin) {
		return nil
	}
	if dist == "" {
		return fmt.Errorf("%w in %s (install it from Citus's packages, or set CITUS_DIST to a folder with install.sh)", ErrNoCitus, bin)
	}
	// Test processes of several packages may get here at once: one installs.
	lock, err := lockFile(ctx, filepath.Join(os.TempDir(), "pgtenant-citus-install.lock"), syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer lock.Close()
	if citusInstalled(ctx, bin) {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w, and installing it from CITUS_DIST=%s needs root", ErrNoCitus, dist)
	}
	log.InfoContext(ctx, "devdb installing citus", "dist", dist)
	out, err := exec.CommandContext(ctx, filepath.Join(dist, "install.sh")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s/install.sh: %w\n%s", ErrNoCitus, dist, err, out)
	}
	if !citusInstalled(ctx, bin) {
		return fmt.Errorf("%w: %s/install.sh ran but %s still has no citus.control", ErrNoCitus, dist, bin)
	}
	return nil
}

// citusInstalled reports whether the extension directory of the server in
// bin has citus.control.
func citusInstalled(ctx context.Context, bin string) bool {
	out, err := exec.CommandContext(ctx, filepath.Join(bin, "pg_config"), "--sharedir").Output()
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(strings.TrimSpace(string(out)), "extension", "citus.control"))
	return err == nil
}

// StartCitus starts a new private Citus cluster (see [Citus]): it installs
// Citus first when need be (EnsureCitus with opts.Dist), creates and starts
// the nodes in parallel, each on a free loopback port, creates the extension
// in database postgres on each and registers the workers with the
// coordinator. On error, the nodes already made are removed. The caller
// removes the cluster with [Citus.Remove].
func StartCitus(ctx context.Context, opts CitusOptions) (*Citus, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := EnsureCitus(ctx, log, opts.Dist); err != nil {
		return nil, err
	}
	start := time.Now()
	dir := opts.Dir
	if dir == "" {
		dir = DefaultDir
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("devdb: %w", err)
	}
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = 2
	}
	b := make([]byte, 4)
	rand.Read(b)
	prefix := "private-citus-" + hex.EncodeToString(b)
	// One initdb, copied for the workers: initdb is most of the start-up
	// time, and every node has the same settings.
	nodes := make([]*Server, 1+workers)
	errs := make([]error, len(nodes))
	nodes[0], errs[0] = initCitusNode(ctx, log, dir, prefix+"-coordinator", bin, "")
	if errs[0] == nil {
		for i := 1; i < len(nodes); i++ {
			nodes[i], errs[i] = initCitusNode(ctx, log, dir, prefix+"-worker"+strconv.Itoa(i), bin, nodes[0].c.data())
		}
	}
	if errors.Join(errs...) == nil {
		var wg sync.WaitGroup
		for i, n := range nodes {
			wg.Go(func() {
				if errs[i] = n.c.ensure(ctx); errs[i] == nil {
					n.base = localURL(n.c.port)
				}
			})
		}
		wg.Wait()
	}
	cl := &Citus{Coordinator: nodes[0], Workers: nodes[1:]}
	if err := errors.Join(errs...); err != nil {
		cl.remove(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := cl.setup(ctx, "postgres"); err != nil {
		cl.remove(context.WithoutCancel(ctx))
		return nil, err
	}
	cl.Startup = time.Since(start)
	log.InfoContext(ctx, "devdb citus cluster started", "coordinator", cl.Coordinator.Addr(), "workers", workers, "duration", cl.Startup)
	return cl, nil
}

// initCitusNode creates the data directory of a node, with initdb or as a
// copy of the stopped node's data directory from, and appends citusConf.
func initCitusNode(ctx context.Context, log *slog.Logger, dir, name, bin, from string) (*Server, error) {
	c, err := newCluster(ctx, log, dir, name, bin)
	if err != nil {
		return nil, err
	}
	s := &Server{log: log, c: c}
	if err := c.prepare(); err != nil {
		return s, fmt.Errorf("devdb: %w", err)
	}
	conf := citusConf
	if from == "" {
		err = c.initdb(ctx)
	} else {
		// cp -a keeps the owner (the postgres user when running as root).
		var out []byte
		out, err = exec.CommandContext(ctx, "cp", "-a", from, c.data()).CombinedOutput()
		if err != nil {
			err = fmt.Errorf("devdb: copy %s: %w\n%s", from, err, out)
		}
		sock := c.root
		if len(sock)+len("/.s.PGSQL.65535") > maxSocketPath {
			sock = ""
		}
		conf = fmt.Sprintf("unix_socket_directories = '%s'\n", strings.ReplaceAll(sock, "'", "''"))
	}
	if err != nil {
		return s, err
	}
	f, err := os.OpenFile(filepath.Join(c.data(), "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return s, fmt.Errorf("devdb: %w", err)
	}
	_, err = f.WriteString(conf)
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err != nil {
		return s, fmt.Errorf("devdb: %w", err)
	}
	return s, nil
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.base.Host }

// Nodes returns the coordinator followed by the workers.
func (c *Citus) Nodes() []*Server { return append([]*Server{c.Coordinator}, c.Workers...) }

// URL returns the URL of database on the coordinator.
func (c *Citus) URL(database string) string { return c.Coordinator.URL(database) }

// CreateDatabase creates database name on every node, creates the Citus
// extension in it on every node and registers the workers with the
// coordinator for it: Citus keeps its metadata per database, so a new
// database is a Citus database only once this is done. The name is quoted.
func (c *Citus) CreateDatabase(ctx context.Context, name string) error {
	for _, n := range c.Nodes() {
		if err := n.CreateDatabase(ctx, name); err != nil {
			return err
		}
	}
	return c.setup(ctx, name)
}

// setup creates the extension in database on every node and registers the
// coordinator and the workers, unless already done.
func (c *Citus) setup(ctx context.Context, database string) error {
	nodes := c.Nodes()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { errs[i] = execOn(ctx, n.URL(database), "CREATE EXTENSION IF NOT EXISTS citus") })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("devdb: create extension citus: %w", err)
	}
	host, port := splitAddr(c.Coordinator.Addr())
	stmts := []string{fmt.Sprintf("SELECT citus_set_coordinator_host(%s, %d)", pq.QuoteLiteral(host), port)}
	for _, w := range c.Workers {
		host, port := splitAddr(w.Addr())
		stmts = append(stmts, fmt.Sprintf("SELECT citus_add_node(%s, %d)", pq.QuoteLiteral(host), port))
	}
	if err := execOn(ctx, c.URL(database), stmts...); err != nil {
		return fmt.Errorf("devdb: register citus nodes: %w", err)
	}
	return nil
}

func splitAddr(addr string) (string, int) {
	host, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	return host, port
}

// execOn runs stmts one after the other on one connection to dsn.
func execOn(ctx context.Context, dsn string, stmts ...string) error {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// Remove stops every node and deletes its files. It is idempotent.
func (c *Citus) Remove(ctx context.Context) error { return c.remove(ctx) }

func (c *Citus) remove(ctx context.Context) error {
	var errs []error
	for _, n := range c.Nodes() {
		if n == nil || n.c == nil {
			continue
		}
		if err := n.Remove(ctx); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// CitusRequired reports whether tests that need Citus must run rather than
// skip: CI is true and CITUS_DIST names a Citus build to install from. Then
// a missing Citus is a failure; elsewhere such tests skip, saying why.
func CitusRequired(getenv func(string) string) bool {
	ci, _ := strconv.ParseBool(getenv("CI"))
	return ci && getenv("CITUS_DIST") != ""
}
