package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"github.com/pgtenant/pgtenant/tenant/migrate"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// shutdownDatabase returns the URL of a migrated database with tenant acme.
func shutdownDatabase(t *testing.T) string {
	t.Helper()
	cfg := tenanttest.NewDatabase(t)
	mig := migrate.New(tenanttest.Open(t, cfg), migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	if err := mig.MigratePublic(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := mig.CreateTenant(t.Context(), "acme", migrate.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return tenanttest.URL(cfg)
}

// listenAddr finds the listening address in a log line of a server in a
// child process.
var listenAddr = regexp.MustCompile(`127\.0\.0\.1:[1-9][0-9]*`)

// refused reports whether err means the server no longer accepted the
// connection, so the request never reached it.
func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// TestShutdownDrainsInFlight cancels run's context (what SIGTERM does through
// signal.NotifyContext in main) while clients are sending requests: every
// request the server received is answered, with success (the server's request
// log counts exactly the responses the clients got, none a 5xx), and run
// returns nil.
func TestShutdownDrainsInFlight(t *testing.T) {
	const clients = 8
	db := shutdownDatabase(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	srv := startE2E(t, ctx, map[string]string{"DATABASE_URL": db, "SHUTDOWN_TIMEOUT": "20s", "LOG_LEVEL": "info"})
	base, logs, done := srv.base, srv.logs, srv.done

	// A fresh connection per request: after shutdown starts, a request is
	// either refused at connect or was received and must be answered.
	tr := &http.Transport{DisableKeepAlives: true}
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var ok, notOK, refusedN, otherErr, seq atomic.Int64
	var mu sync.Mutex
	var first []string
	note := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		if len(first) < 10 {
			first = append(first, s)
		}
	}
	shutdownAt := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			for {
				n := seq.Add(1)
				var req *http.Request
				if n%2 == 0 {
					body := fmt.Sprintf(`{"email":"s%d-%d@acme.test","name":"S"}`, w, n)
					req, _ = http.NewRequest(http.MethodPost, base+"/users", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
				} else {
					req, _ = http.NewRequest(http.MethodGet, base+"/users", nil)
				}
				req.Header.Set("X-Tenant-ID", "acme")
				resp, err := c.Do(req)
				if err != nil {
					if refused(err) {
						refusedN.Add(1)
						return // the listener is closed: shutdown is under way
					}
					otherErr.Add(1)
					note(fmt.Sprintf("%s %s: %v", req.Method, req.URL.Path, err))
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					notOK.Add(1)
					note(fmt.Sprintf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, b))
				} else if ok.Add(1) == 400 {
					once.Do(func() { close(shutdownAt) })
				}
			}
		})
	}
	select {
	case <-shutdownAt:
	case <-time.After(60 * time.Second):
		t.Fatal("400 requests did not succeed within 60s")
	}
	okAtCancel := ok.Load()
	canceled := time.Now()
	cancel()
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30s of the cancel")
	}
	returned := time.Since(canceled)
	wg.Wait()

	logged, failed := logs.requests()
	t.Logf("%d requests ok (%d after the cancel), %d non-2xx, %d refused at connect, %d reset before the server accepted them; %d request log lines, %d with 5xx; run returned %v after %v",
		ok.Load(), ok.Load()-okAtCancel, notOK.Load(), refusedN.Load(), otherErr.Load(), logged, len(failed), runErr, returned.Round(time.Millisecond))
	for _, f := range first {
		t.Log("client:", f)
	}
	for _, f := range failed {
		t.Log("5xx:", f)
	}
	if runErr != nil {
		t.Errorf("run = %v; want nil after a graceful shutdown", runErr)
	}
	if notOK.Load() != 0 || len(failed) != 0 {
		t.Errorf("%d requests answered non-2xx, %d logged 5xx during shutdown; want 0", notOK.Load(), len(failed))
	}
	// A request the kernel queued on the listener but the server never
	// accepted is reset when the listener closes (EOF or ECONNRESET on the
	// client): it never reached the server. Every request that did reach it
	// is in the request log, and must have been answered: the log counts
	// exactly the responses the clients received.
	if int64(logged) != ok.Load()+notOK.Load() {
		t.Errorf("server logged %d requests; clients received %d responses: %d in-flight requests lost their answer",
			logged, ok.Load()+notOK.Load(), int64(logged)-ok.Load()-notOK.Load())
	}
	if refusedN.Load() != clients {
		t.Errorf("%d clients saw the listener close; want all %d", refusedN.Load(), clients)
	}
}

// blockedRequest starts a POST whose body never ends, so its handler stays
// in flight until the server gives up on it. It returns once the request's
// headers and the first body bytes were sent.
func blockedRequest(t *testing.T, base string) {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	req, _ := http.NewRequest(http.MethodPost, base+"/users", pr)
	req.Header.Set("X-Tenant-ID", "acme")
	req.Header.Set("Content-Type", "application/json")
	go func() {
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
	}()
	if _, err := pw.Write([]byte(`{"email":`)); err != nil {
		t.Fatal(err)
	}
}

// TestShutdownTimeoutForcesExit holds a request in flight forever and
// cancels run's context: run returns within SHUTDOWN_TIMEOUT and a margin
// instead of waiting for the request.
func TestShutdownTimeoutForcesExit(t *testing.T) {
	const shutdownTimeout = 300 * time.Millisecond
	db := shutdownDatabase(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	srv := startE2E(t, ctx, map[string]string{"DATABASE_URL": db, "SHUTDOWN_TIMEOUT": shutdownTimeout.String()})
	base, done := srv.base, srv.done
	for range 3 {
		blockedRequest(t, base)
	}
	canceled := time.Now()
	cancel()
	select {
	case err := <-done:
		t.Logf("run returned %v %v after the cancel, with 3 requests stuck in flight and SHUTDOWN_TIMEOUT=%v",
			err, time.Since(canceled).Round(time.Millisecond), shutdownTimeout)
	case <-time.After(shutdownTimeout + 10*time.Second):
		t.Fatalf("run still running %v after the cancel; SHUTDOWN_TIMEOUT is %v", shutdownTimeout+10*time.Second, shutdownTimeout)
	}
}

// TestHelperServeProcess is not a test: TestSecondSignalForcesExit runs the
// test binary with it as the api command.
func TestHelperServeProcess(t *testing.T) {
	if os.Getenv("PGTENANT_API_HELPER") != "1" {
		t.Skip("helper process for TestSecondSignalForcesExit")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Args = append([]string{"api"}, args...)
	main()
	os.Exit(0)
}

// TestSecondSignalForcesExit runs the real main in a child process with a
// long SHUTDOWN_TIMEOUT and a request stuck in flight, sends SIGTERM, then a
// second SIGTERM: the process exits promptly after the second.
func TestSecondSignalForcesExit(t *testing.T) {
	db := shutdownDatabase(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServeProcess$", "--", "serve", "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "PGTENANT_API_HELPER=1", "DATABASE_URL="+db, "SHUTDOWN_TIMEOUT=60s")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		found := false
		for sc.Scan() {
			if a := listenAddr.FindString(sc.Text()); a != "" && !found {
				found = true
				addr <- a
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
	})
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-exited:
		t.Fatalf("api exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("api did not report a listening address within 30s")
	}
	blockedRequest(t, base)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The first SIGTERM starts a graceful shutdown, which waits for the
	// stuck request (up to 60s). Once the listener is closed, the shutdown
	// is under way; then the second signal must end the process.
	for limit := time.Now().Add(10 * time.Second); ; {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(limit) {
			t.Fatal("listener still open 10s after SIGTERM")
		}
		select {
		case err := <-exited:
			t.Fatalf("api exited after one SIGTERM with a request in flight and SHUTDOWN_TIMEOUT=60s: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	second := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		t.Logf("api exited %v after the second SIGTERM (%v)", time.Since(second).Round(time.Millisecond), err)
	case <-time.After(10 * time.Second):
		t.Fatal("api still running 10s after a second SIGTERM")
	}
}
