package devdb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pgctlTimeout is the -t of pg_ctl start and stop, in seconds.
const pgctlTimeout = "60"

// maxSocketPath is the longest unix socket path the kernel accepts
// (sun_path is 108 bytes with its terminating NUL).
const maxSocketPath = 107

// cluster is a private PostgreSQL cluster managed with initdb and pg_ctl.
// Its methods are called with the owning Server's mutex held.
type cluster struct {
	log  *slog.Logger
	dir  string // Options.Dir, absolute; holds the lock files
	name string // "cluster", or "private-<hex>" for a private one
	root string // the cluster folder: data/, postgres.log, the socket
	link string // dir/name, a symbolic link to root, when root is elsewhere
	vtmp string // the /var/tmp folder holding root, when root is there
	bin  string // folder of initdb and pg_ctl
	cred *syscall.Credential
	port int
	// users is a shared lock on the users file, held while this cluster
	// value uses the server; nil when released.
	users *os.File
}

func newCluster(ctx context.Context, log *slog.Logger, dir, name, bin string) (*cluster, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("devdb: %w", err)
	}
	c := &cluster{log: log, dir: dir, name: name, bin: bin, root: filepath.Join(dir, name)}
	if os.Geteuid() != 0 {
		return c, nil
	}
	cred, err := serverUser(ServerUser)
	if err != nil {
		return nil, err
	}
	c.cred = cred
	ok, err := searchable(dir, cred)
	if err != nil {
		return nil, fmt.Errorf("devdb: %w", err)
	}
	if !ok {
		sum := sha256.Sum256([]byte(dir))
		c.vtmp = filepath.Join("/var/tmp", "pgtenant-devdb-"+hex.EncodeToString(sum[:6]))
		c.link = c.root
		c.root = filepath.Join(c.vtmp, name)
		log.InfoContext(ctx, "devdb cluster folder moved out of a folder the postgres user cannot reach", "dir", dir, "cluster", c.root)
	}
	return c, nil
}

func (c *cluster) data() string      { return filepath.Join(c.root, "data") }
func (c *cluster) logFile() string   { return filepath.Join(c.root, "postgres.log") }
func (c *cluster) lockPath() string  { return filepath.Join(c.dir, c.name+".lock") }
func (c *cluster) usersPath() string { return filepath.Join(c.dir, c.name+".users") }

// ensure initializes the cluster if need be, starts it unless it runs, and
// registers c as one of its users.
func (c *cluster) ensure(ctx context.Context) error {
	lock, err := lockFile(ctx, c.lockPath(), syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := c.prepare(); err != nil {
		return fmt.Errorf("devdb: %w", err)
	}
	if _, err := os.Stat(filepath.Join(c.data(), "PG_VERSION")); errors.Is(err, fs.ErrNotExist) {
		if err := c.initdb(ctx); err != nil {
			return err
		}
	}
	running, port, err := c.status(ctx)
	if err != nil {
		return err
	}
	if running {
		c.port = port
		if err := ping(ctx, c.url()); err != nil {
			return fmt.Errorf("devdb: cluster %s runs on port %d but does not answer: %w", c.root, port, err)
		}
		c.log.InfoContext(ctx, "devdb reusing running cluster", "data", c.data(), "port", port)
	} else if err := c.startFreePort(ctx); err != nil {
		return err
	}
	return c.acquire(ctx)
}

// restart starts the stopped cluster on its former port.
func (c *cluster) restart(ctx context.Context) error {
	if c.users != nil {
		return nil
	}
	lock, err := lockFile(ctx, c.lockPath(), syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer lock.Close()
	running, port, err := c.status(ctx)
	if err != nil {
		return err
	}
	if running && port != c.port {
		return fmt.Errorf("devdb: cluster %s was restarted on port %d, not %d", c.root, port, c.port)
	}
	if !running {
		if err := c.start(ctx, c.port); err != nil {
			return err
		}
	}
	return c.acquire(ctx)
}

func (c *cluster) acquire(ctx context.Context) error {
	f, err := lockFile(ctx, c.usersPath(), syscall.LOCK_SH)
	if err != nil {
		return err
	}
	c.users = f
	return nil
}

// stop releases c's use of the cluster and, if no one else uses it, stops
// it (and deletes it if remove is set). It reports whether the cluster is
// stopped.
func (c *cluster) stop(ctx context.Context, remove bool) (bool, error) {
	lock, err := lockFile(ctx, c.lockPath(), syscall.LOCK_EX)
	if err != nil {
		return false, err
	}
	defer lock.Close()
	if c.users != nil {
		c.users.Close()
		c.users = nil
	}
	excl, err := tryLock(c.usersPath(), syscall.LOCK_EX)
	if err != nil {
		return false, err
	}
	if excl == nil {
		c.log.InfoContext(ctx, "devdb cluster left running for its other users", "data", c.data())
		return false, nil
	}
	defer excl.Close()
	running, _, err := c.status(ctx)
	if err != nil {
		return false, err
	}
	if running {
		pid, err := c.pid()
		if err != nil {
			return false, err
		}
		if err := c.run(ctx, "pg_ctl", "stop", "-w", "-t", pgctlTimeout, "-m", "fast", "-D", c.data()); err != nil {
			return false, err
		}
		if err := waitExit(ctx, pid); err != nil {
			return false, err
		}
		c.log.InfoContext(ctx, "devdb cluster stopped", "data", c.data(), "port", c.port)
	}
	if remove {
		if err := c.remove(); err != nil {
			return true, err
		}
	}
	return true, nil
}

// remove deletes the stopped cluster's files.
func (c *cluster) remove() error {
	_, err := os.Lstat(c.root)
	existed := err == nil
	if err := os.RemoveAll(c.root); err != nil {
		return fmt.Errorf("devdb: %w", err)
	}
	if c.link != "" {
		if err := os.Remove(c.link); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("devdb: %w", err)
		}
	}
	if c.vtmp != "" {
		os.Remove(c.vtmp) // only if no other cluster lives there
	}
	if strings.HasPrefix(c.name, "private-") {
		// No other process knows a private cluster's lock files. The shared
		// cluster's stay: another process may be waiting on them.
		os.Remove(c.usersPath())
		os.Remove(c.lockPath())
	}
	if existed {
		c.log.Info("devdb cluster removed", "cluster", c.root)
	}
	return nil
}

// prepare creates the cluster folder, owned by the user the server runs as,
// and the symbolic link to it when it lives outside dir.
func (c *cluster) prepare() error {
	if c.vtmp != "" {
		if err := os.Mkdir(c.vtmp, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		// /var/tmp is shared: refuse a folder someone else planted there.
		fi, err := os.Lstat(c.vtmp)
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !fi.IsDir() || !ok || st.Uid != uint32(os.Geteuid()) {
			return fmt.Errorf("%s is not a folder owned by this user", c.vtmp)
		}
		if err := os.Chmod(c.vtmp, 0o755); err != nil {
			return err
		}
	}
	if err := os.Mkdir(c.root, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Lstat(c.root)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", c.root)
	}
	if c.cred != nil {
		if err := os.Chown(c.root, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return err
		}
	}
	if c.link != "" {
		if target, err := os.Readlink(c.link); err == nil && target == c.root {
			return nil
		}
		if fi, err := os.Lstat(c.link); err == nil && fi.Mode()&fs.ModeSymlink == 0 {
			return fmt.Errorf("%s exists and is not a symbolic link to %s; remove it", c.link, c.root)
		}
		os.Remove(c.link)
		if err := os.Symlink(c.root, c.link); err != nil {
			return err
		}
	}
	return nil
}

// initdb creates the data directory and writes the settings of a throwaway
// development server.
func (c *cluster) initdb(ctx context.Context) error {
	c.log.InfoContext(ctx, "devdb initializing cluster", "data", c.data())
	// Build it aside and rename it into place, so that an interrupted
	// initdb never leaves a half-made data directory behind.
	tmp := c.data() + ".new"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("devdb: %w", err)
	}
	args := []string{"-D", tmp, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"}
	err := c.run(ctx, "initdb", append(args, "--locale=C.UTF-8")...)
	if err != nil {
		// Not every system has the C.UTF-8 locale; C always exists.
		os.RemoveAll(tmp)
		if err2 := c.run(ctx, "initdb", append(args, "--locale=C")...); err2 != nil {
			return errors.Join(err, err2)
		}
	}
	sock := c.root
	if len(sock)+len("/.s.PGSQL.65535") > maxSocketPath {
		sock = "" // TCP only: the path is too long for a unix socket
	}
	conf := fmt.Sprintf(`
# devdb: a throwaway cluster for development and tests
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
`, strings.ReplaceAll(sock, "'", "''"))
	f, err := os.OpenFile(filepath.Join(tmp, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("devdb: %w", err)
	}
	_, err = f.WriteString(conf)
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err == nil {
		err = os.Rename(tmp, c.data())
	}
	if err != nil {
		return fmt.Errorf("devdb: %w", err)
	}
	return nil
}

// status reports whether the cluster's server runs, and on which port.
func (c *cluster) status(ctx context.Context) (bool, int, error) {
	if _, err := os.Stat(filepath.Join(c.data(), "PG_VERSION")); errors.Is(err, fs.ErrNotExist) {
		return false, 0, nil // removed, or never initialized
	}
	err := c.run(ctx, "pg_ctl", "status", "-D", c.data())
	if exit, ok := errors.AsType[*exec.ExitError](err); ok && exit.ExitCode() == 3 {
		return false, 0, nil // pg_ctl: no server running
	}
	if err != nil {
		return false, 0, err
	}
	port, err := c.pidField(3)
	if err != nil {
		return false, 0, err
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return false, 0, fmt.Errorf("devdb: postmaster.pid: bad port %q", port)
	}
	return true, n, nil
}

func (c *cluster) pid() (int, error) {
	s, err := c.pidField(0)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("devdb: postmaster.pid: bad pid %q", s)
	}
	return n, nil
}

// pidField returns line i (from 0) of the data directory's postmaster.pid.
func (c *cluster) pidField(i int) (string, error) {
	b, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		return "", fmt.Errorf("devdb: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) <= i {
		return "", fmt.Errorf("devdb: postmaster.pid: no line %d", i+1)
	}
	return strings.TrimSpace(lines[i]), nil
}

// startFreePort starts the server on a free port, trying another if the
// chosen one is taken before the server binds it.
func (c *cluster) startFreePort(ctx context.Context) error {
	var err error
	for range 3 {
		var port int
		port, err = freePort()
		if err != nil {
			return fmt.Errorf("devdb: %w", err)
		}
		if err = c.start(ctx, port); err == nil || !portTaken(port) {
			return err
		}
	}
	return err
}

func (c *cluster) start(ctx context.Context, port int) error {
	start := time.Now()
	err := c.run(ctx, "pg_ctl", "start", "-w", "-t", pgctlTimeout, "-D", c.data(), "-l", c.logFile(), "-o", "-p "+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("%w\n%s:\n%s", err, c.logFile(), tail(c.logFile(), 2048))
	}
	c.port = port
	c.log.InfoContext(ctx, "devdb cluster started", "data", c.data(), "port", port, "duration", time.Since(start))
	return nil
}

func (c *cluster) url() string {
	u := localURL(c.port)
	return u.String()
}

// run runs one of the PostgreSQL programs, as the unprivileged user when
// the process is root.
func (c *cluster) run(ctx context.Context, program string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, program), args...)
	cmd.Dir = c.root
	// PG* variables (PGDATA, PGPORT, ...) would override the arguments.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PG") })
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	// pg_ctl start sends the server's output to the log file, so the
	// server does not hold these pipes open.
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("devdb: %s %s: %w\n%s", program, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// ServerUser is the system user PostgreSQL's programs run as when the
// process is root, which PostgreSQL refuses to run as. This package never
// creates it: Debian's postgresql package does, and so does scripts/dev.
const ServerUser = "postgres"

// serverUser returns the credentials of the existing system user name. It
// returns an error wrapping [ErrNoUser] when there is no such user.
func serverUser(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if _, ok := errors.AsType[user.UnknownUserError](err); ok {
		return nil, fmt.Errorf("%w %s to run initdb and pg_ctl as: run scripts/dev --install-only (creates it), or run as another user than root", ErrNoUser, name)
	}
	if err != nil {
		return nil, fmt.Errorf("devdb: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("devdb: uid of %s: %w", name, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("devdb: gid of %s: %w", name, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// searchable reports whether the user of cred may traverse every folder
// from / down to dir (by mode bits; ACLs are not considered).
func searchable(dir string, cred *syscall.Credential) (bool, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false, err
	}
	for d := real; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return false, err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return false, fmt.Errorf("%s: no owner information", d)
		}
		perm := fi.Mode().Perm()
		var x fs.FileMode
		switch {
		case st.Uid == cred.Uid:
			x = perm & 0o100
		case st.Gid == cred.Gid:
			x = perm & 0o010
		default:
			x = perm & 0o001
		}
		if x == 0 {
			return false, nil
		}
		if d == "/" {
			return true, nil
		}
	}
}

// libGlob matches the folders of Debian's PostgreSQL binaries, one per
// major version.
const libGlob = "/usr/lib/postgresql/*/bin"

// findBinaries returns the folder holding initdb, pg_ctl and postgres: that
// of pg_ctl on the process's PATH, else the highest version's in libGlob.
func findBinaries() (string, error) {
	return findBinariesIn(os.Getenv("PATH"), libGlob)
}

// findBinariesIn is findBinaries with the search path and the glob of
// versioned folders as arguments. When no folder holds all three programs,
// it returns an error wrapping ErrNoBinaries that says where it looked and
// names the script that installs them.
func findBinariesIn(path, glob string) (string, error) {
	for _, d := range filepath.SplitList(path) {
		if d == "" || !filepath.IsAbs(d) {
			continue // like exec.LookPath, never the working directory
		}
		p := filepath.Join(d, "pg_ctl")
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			continue
		}
		if real, err := filepath.EvalSymlinks(p); err == nil && hasPrograms(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		break // the pg_ctl the shell would run is not beside an initdb
	}
	dirs, _ := filepath.Glob(glob)
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int {
		va, vb := version(a), version(b)
		switch {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	for _, d := range dirs {
		if hasPrograms(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w on PATH or in %s: install PostgreSQL (scripts/dev --install-only does, as root on Debian) or use a running server", ErrNoBinaries, glob)
}

func hasPrograms(dir string) bool {
	for _, p := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// lockFile opens path and locks it with flock(how), waiting until it gets
// the lock or ctx is done. Closing the file releases the lock.
func lockFile(ctx context.Context, path string, how int) (*os.File, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		f, err := tryLock(path, how)
		if f != nil || err != nil {
			return f, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("devdb: lock %s: %w", path, ctx.Err())
		case <-tick.C:
		}
	}
}

// tryLock is lockFile without waiting: it returns a nil file when another
// holder prevents the lock.
func tryLock(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("devdb: %w", err)
	}
	err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if err == nil {
		return f, nil
	}
	f.Close()
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, nil
	}
	return nil, fmt.Errorf("devdb: lock %s: %w", path, err)
}

// waitExit waits until process pid has exited (or is a zombie, which no
// longer serves anything).
func waitExit(ctx context.Context, pid int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !exited(pid) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("devdb: server process %d still running: %w", pid, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

func exited(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return true
		}
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) // no /proc
	}
	// pid (comm) state ...; comm may contain spaces and parentheses.
	rest := b[bytes.LastIndexByte(b, ')')+1:]
	f := strings.Fields(string(rest))
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portTaken(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return true
	}
	l.Close()
	return false
}

// tail returns the last n bytes of the file at path, for error messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		f.Seek(fi.Size()-n, 0)
	}
	b := make([]byte, n)
	k, _ := f.Read(b)
	return string(bytes.TrimSpace(b[:k]))
}
