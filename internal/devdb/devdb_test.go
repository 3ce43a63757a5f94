package devdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// needBinaries skips t when the machine cannot start a private cluster (no
// PostgreSQL binaries, or root without the user to run them as), unless CI
// is set (CI must exercise the private cluster).
func needBinaries(t *testing.T) {
	t.Helper()
	_, err := findBinaries()
	if err == nil && os.Geteuid() == 0 {
		_, err = serverUser(ServerUser)
	}
	if err != nil && !inCI() {
		t.Skipf("cannot start a private cluster: %v", err)
	}
}

// closedPortURL returns a server URL on a loopback port nothing listens on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "postgres://postgres@" + addr + "/postgres?sslmode=disable&connect_timeout=2"
}

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func queryString(t *testing.T, dsn, query string) string {
	t.Helper()
	db := open(t, dsn)
	var s string
	if err := db.QueryRowContext(t.Context(), query).Scan(&s); err != nil {
		t.Fatalf("%s on %s: %v", query, dsn, err)
	}
	return s
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// cleanupRemove removes s's cluster when t ends.
func cleanupRemove(t *testing.T, s *Server) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Remove(ctx); err != nil {
			t.Errorf("Remove: %v", err)
		}
	})
}

func TestEnsureUsesAnsweringProbe(t *testing.T) {
	t.Parallel()
	probe := os.Getenv("TEST_DATABASE_URL")
	if probe == "" {
		probe = DefaultProbe
	}
	if err := ping(t.Context(), probe); err != nil {
		if inCI() {
			t.Fatalf("no server at %s: %v", probe, err)
		}
		t.Skipf("no server at %s: %v", probe, err)
	}
	dir := t.TempDir()
	s, err := Ensure(t.Context(), Options{Dir: dir, Probe: probe, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if s.Managed() {
		t.Fatalf("Ensure started a cluster (%s) although %s answers", s.DataDir(), probe)
	}
	pu, _ := url.Parse(probe)
	u, err := url.Parse(s.URL("some db"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != pu.Host || u.Path != "/some db" || u.User.String() != pu.User.String() {
		t.Fatalf("URL(%q) = %s; want the host and user of %s", "some db", u, probe)
	}

	name := randomName("devdb Test ")
	for range 2 { // the second call finds it
		if err := s.CreateDatabase(t.Context(), name); err != nil {
			t.Fatalf("CreateDatabase(%q): %v", name, err)
		}
	}
	t.Cleanup(func() {
		db, _ := sql.Open("postgres", probe)
		defer db.Close()
		db.Exec(`DROP DATABASE IF EXISTS "` + name + `" WITH (FORCE)`)
	})
	if got := queryString(t, s.URL(name), "SELECT current_database()"); got != name {
		t.Fatalf("current_database() on URL(%q) = %q", name, got)
	}

	if err := s.Stop(t.Context()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := ping(t.Context(), probe); err != nil {
		t.Fatalf("after Stop the probe server does not answer: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("Ensure left %d entries in Dir; want none", len(entries))
	}
}

// TestEnsureStartsPrivateCluster starts the shared private cluster of a Dir
// from two goroutines at once (as two processes would), checks that both get
// the same running server, that it stops only when its last user stops, and
// that it can be started again and removed.
func TestEnsureStartsPrivateCluster(t *testing.T) {
	t.Parallel()
	needBinaries(t)
	dir := t.TempDir()
	opts := Options{Dir: dir, Probe: closedPortURL(t), Logger: testLogger(t)}

	start := time.Now()
	var servers [2]*Server
	var errs [2]error
	var wg sync.WaitGroup
	for i := range servers {
		wg.Go(func() { servers[i], errs[i] = Ensure(t.Context(), opts) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Ensure #%d: %v", i, err)
		}
		cleanupRemove(t, servers[i])
	}
	t.Logf("two concurrent Ensure calls with a new private cluster took %v", time.Since(start))
	s1, s2 := servers[0], servers[1]
	if !s1.Managed() || !s2.Managed() {
		t.Fatal("Ensure with a closed probe port returned an unmanaged server")
	}
	if s1.URL("postgres") != s2.URL("postgres") {
		t.Fatalf("two Ensure calls on one Dir returned %s and %s; want one server", s1.URL("postgres"), s2.URL("postgres"))
	}
	dsn := s1.URL("postgres")
	for _, tc := range []struct{ query, want string }{
		{"SELECT current_user", "postgres"},
		{"SHOW listen_addresses", "127.0.0.1"},
		{"SHOW fsync", "off"},
		{"SHOW server_encoding", "UTF8"},
		{"SHOW data_directory", s1.DataDir()},
	} {
		if got := queryString(t, dsn, tc.query); got != tc.want && filepath.Clean(got) != tc.want {
			t.Errorf("%s = %q; want %q", tc.query, got, tc.want)
		}
	}
	if err := s1.CreateDatabase(t.Context(), "Mixed Case"); err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	if got := queryString(t, s1.URL("Mixed Case"), "SELECT current_database()"); got != "Mixed Case" {
		t.Fatalf("current_database() = %q; want %q", got, "Mixed Case")
	}

	pid, err := s1.c.pid()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses root: the server must run as another user.
		if uid := processUID(t, pid); uid == "0" {
			t.Fatalf("server process %d runs as root", pid)
		}
		if ok, _ := searchable(dir, s1.c.cred); !ok {
			// t.TempDir's parent is mode 0700: the cluster must live elsewhere.
			target, err := os.Readlink(filepath.Join(dir, "cluster"))
			if err != nil || !strings.HasPrefix(target, "/var/tmp/pgtenant-devdb-") {
				t.Fatalf("Dir/cluster links to %q (%v); want a folder in /var/tmp", target, err)
			}
		}
	}

	if err := s1.Stop(t.Context()); err != nil {
		t.Fatalf("Stop (first user): %v", err)
	}
	if exited(pid) {
		t.Fatal("Stop of the first user stopped a cluster the second still uses")
	}
	if err := ping(t.Context(), dsn); err != nil {
		t.Fatalf("after the first user stopped: %v", err)
	}
	if err := s2.Stop(t.Context()); err != nil {
		t.Fatalf("Stop (last user): %v", err)
	}
	if !exited(pid) {
		t.Fatalf("server process %d still runs after the last Stop", pid)
	}
	if err := ping(t.Context(), dsn); err == nil {
		t.Fatal("server answers after the last Stop")
	}
	if err := s2.Stop(t.Context()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}

	if err := s2.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if got := queryString(t, s2.URL("Mixed Case"), "SELECT current_database()"); got != "Mixed Case" {
		t.Fatalf("after Start, current_database() = %q; want the database created before", got)
	}
	data := s2.DataDir()
	if err := s2.Remove(t.Context()); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := os.Lstat(data); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after Remove, Lstat(%s) = %v; want not exist", data, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "cluster")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after Remove, Dir/cluster: %v; want not exist", err)
	}
}

// TestPrivateServerOutage is the use a test has for Options.Private: its own
// server, which it stops and starts again on the same URL.
func TestPrivateServerOutage(t *testing.T) {
	t.Parallel()
	needBinaries(t)
	dir := t.TempDir()
	s, err := Ensure(t.Context(), Options{Dir: dir, Private: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	cleanupRemove(t, s)
	if !s.Managed() {
		t.Fatal("Ensure with Private returned an unmanaged server")
	}
	if s.URL("postgres") == DefaultProbe {
		t.Fatal("Ensure with Private returned the probe server")
	}

	db := open(t, s.URL("postgres"))
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if err := s.Stop(t.Context()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	db.SetMaxIdleConns(0) // no stale connection may satisfy the pings below
	if err := db.PingContext(t.Context()); err == nil {
		t.Fatal("ping succeeded while the server was stopped")
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatalf("ping after Start on the same URL: %v", err)
	}
	if err := s.Remove(t.Context()); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("Remove left %s in Dir", e.Name())
	}
}

// processUID returns the real uid of process pid, from /proc.
func processUID(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			return strings.Fields(rest)[0]
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", pid)
	return ""
}

// writeProgram creates an executable file dir/name.
func writeProgram(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestFindBinaries lays out folders of PostgreSQL programs, as Debian and a
// PATH would have them, and checks which folder is chosen, and that without
// any the error names the script that installs them.
func TestFindBinaries(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root) // so that the relative PATH entry below names a real folder
	lib := filepath.Join(root, "lib", "postgresql")
	glob := filepath.Join(lib, "*", "bin")
	full := func(dir string) {
		for _, p := range []string{"initdb", "pg_ctl", "postgres"} {
			writeProgram(t, dir, p)
		}
	}
	full(filepath.Join(lib, "9.6", "bin"))
	full(filepath.Join(lib, "15", "bin"))
	writeProgram(t, filepath.Join(lib, "16", "bin"), "pg_ctl") // a client-only install
	own := filepath.Join(root, "own", "bin")
	full(own)
	linked := filepath.Join(root, "linked")
	if err := os.MkdirAll(linked, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(own, "pg_ctl"), filepath.Join(linked, "pg_ctl")); err != nil {
		t.Fatal(err)
	}
	clientOnly := filepath.Join(root, "client")
	writeProgram(t, clientOnly, "pg_ctl")
	empty := filepath.Join(root, "empty")

	for _, tc := range []struct {
		name, path, glob, want string
	}{
		{"highest complete version", "", glob, filepath.Join(lib, "15", "bin")},
		{"pg_ctl on PATH", empty + ":" + own, glob, own},
		{"symbolic link on PATH", linked, glob, own},
		{"pg_ctl on PATH without initdb", clientOnly + ":" + own, glob, filepath.Join(lib, "15", "bin")},
		{"relative PATH entry", "own/bin", glob, filepath.Join(lib, "15", "bin")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := findBinariesIn(tc.path, tc.glob)
			if got != tc.want || err != nil {
				t.Errorf("findBinariesIn(%q, %q) = %q, %v; want %q", tc.path, tc.glob, got, err, tc.want)
			}
		})
	}

	t.Run("none", func(t *testing.T) {
		none := filepath.Join(empty, "*", "bin")
		got, err := findBinariesIn(clientOnly, none)
		if got != "" || !errors.Is(err, ErrNoBinaries) {
			t.Fatalf("findBinariesIn(%q, %q) = %q, %v; want ErrNoBinaries", clientOnly, none, got, err)
		}
		if !strings.Contains(err.Error(), "scripts/dev") {
			t.Errorf("error %q does not name scripts/dev, which installs PostgreSQL", err)
		}
	})
}

// TestServerUserMissing checks that a missing system user is reported, with
// the script that creates it, and not created.
func TestServerUserMissing(t *testing.T) {
	name := randomName("pgtnone")
	if _, err := serverUser(name); !errors.Is(err, ErrNoUser) || !strings.Contains(err.Error(), "scripts/dev") {
		t.Fatalf("serverUser(%q) = %v; want ErrNoUser naming scripts/dev", name, err)
	}
	if _, err := user.Lookup(name); err == nil {
		t.Fatalf("serverUser(%q) created the user", name)
	}
}

func TestServerUser(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	cred, err := serverUser(u.Username)
	if err != nil {
		t.Fatalf("serverUser(%q): %v", u.Username, err)
	}
	if strconv.FormatUint(uint64(cred.Uid), 10) != u.Uid || strconv.FormatUint(uint64(cred.Gid), 10) != u.Gid {
		t.Errorf("serverUser(%q) = uid %d gid %d; want %s %s", u.Username, cred.Uid, cred.Gid, u.Uid, u.Gid)
	}
}

func TestRecordedURL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	if u, err := RecordedURL(dir); u != "" || err != nil {
		t.Fatalf("RecordedURL before any record = %q, %v; want \"\", nil", u, err)
	}
	for _, u := range []string{
		"postgres://postgres@127.0.0.1:40123/multitenant?sslmode=disable",
		"postgres://postgres@127.0.0.1:40999/multitenant?sslmode=disable",
	} {
		if err := RecordURL(dir, u); err != nil {
			t.Fatal(err)
		}
		if got, err := RecordedURL(dir); got != u || err != nil {
			t.Errorf("RecordedURL = %q, %v; want %q", got, err, u)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != URLFile {
		t.Errorf("%s holds %v (%v); want only %s", dir, entries, err, URLFile)
	}
}
