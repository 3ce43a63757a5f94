package command

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// jsonLines parses the --json output of 'tenant create' with several ids:
// the tenant lines by id, and the summary.
func jsonLines(t *testing.T, out string) (map[string]bulkLine, bulkSummary) {
	t.Helper()
	lines := map[string]bulkLine{}
	var sum *bulkSummary
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l bulkLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		switch {
		case sum != nil:
			t.Errorf("line %q after the summary", sc.Text())
		case l.Summary != nil:
			sum = l.Summary
		default:
			if _, dup := lines[l.ID]; dup {
				t.Errorf("two lines for tenant %q", l.ID)
			}
			lines[l.ID] = l
		}
	}
	if sum == nil {
		t.Fatalf("no summary line in\n%s", out)
	}
	return lines, *sum
}

// statuses returns the directory status of every tenant.
func statuses(t *testing.T, cli adminCLI) map[string]string {
	t.Helper()
	out, _, err := cli.run("tenant", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []struct{ ID, Status string }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, v := range list {
		m[v.ID] = v.Status
	}
	return m
}

// Several ids: each valid one is created once, a hostile and a failing one
// fail alone, the exit status says so, and running the command again
// repairs the failed tenant.
func TestTenantCreateMany(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	db := tenanttest.Open(t, cfg)
	ctx := t.Context()
	// stuck was left provisioning by an interrupted create; broken's schema
	// has a table in the way of its migrations.
	if _, err := db.ExecContext(ctx, `
INSERT INTO public.tenants (id, schema_name, status) VALUES ('stuck', 'tenant_stuck', 'provisioning');
CREATE SCHEMA tenant_broken; CREATE TABLE tenant_broken.notes (x int)`); err != nil {
		t.Fatal(err)
	}
	cli := newAdminCLI(t, cfg)
	args := []string{"tenant", "create", "--json", "--concurrency", "3", "a", "b", "a;DROP SCHEMA public CASCADE", "stuck", "broken", "c", "b", "d", "e"}
	out, stderr, err := cli.run(args...)
	if err == nil || !strings.Contains(err.Error(), "2 of 8 tenants failed") {
		t.Errorf("tenant create with a bad id = %v; want 2 of 8 failed", err)
	}
	if stderr != "" {
		t.Errorf("stderr with --json, not a terminal:\n%s", stderr)
	}
	lines, sum := jsonLines(t, out)
	if want := (bulkSummary{Total: 8, Created: 6, Failed: 2}); sum.Total != want.Total || sum.Created != want.Created || sum.Failed != want.Failed || sum.NotStarted != 0 {
		t.Errorf("summary = %+v; want %+v", sum, want)
	}
	for id, want := range map[string]string{"a": statusCreated, "b": statusCreated, "c": statusCreated, "d": statusCreated, "e": statusCreated,
		"stuck": statusCreated, "broken": statusFailed, "a;DROP SCHEMA public CASCADE": statusFailed} {
		if l := lines[id]; l.Status != want || (want == statusFailed) != (l.Error != "") {
			t.Errorf("line of %q = %+v; want status %s", id, l, want)
		}
	}
	if e := lines["a;DROP SCHEMA public CASCADE"].Error; !strings.Contains(e, "invalid id") {
		t.Errorf("error of the hostile id = %q; want invalid id", e)
	}
	st := statuses(t, cli)
	for _, id := range []string{"a", "b", "c", "d", "e", "stuck"} {
		if st[id] != "active" {
			t.Errorf("tenant %s: status %q; want active", id, st[id])
		}
	}
	if st["broken"] != "provisioning" || len(st) != 7 {
		t.Errorf("directory = %v; want broken provisioning, and no other tenant", st)
	}

	// Once its cause is gone, running the same command again repairs
	// broken and leaves the others as they are.
	if _, err := db.ExecContext(ctx, "DROP TABLE tenant_broken.notes"); err != nil {
		t.Fatal(err)
	}
	args = slices.DeleteFunc(args, func(a string) bool { return a == "a;DROP SCHEMA public CASCADE" })
	out, _, err = cli.run(args...)
	if err != nil {
		t.Fatalf("second run = %v\n%s", err, out)
	}
	if _, sum := jsonLines(t, out); sum.Created != 7 || sum.Failed != 0 {
		t.Errorf("second run summary = %+v; want 7 created", sum)
	}
	if st := statuses(t, cli); st["broken"] != "active" || len(st) != 7 {
		t.Errorf("directory after the second run = %v; want 7 active", st)
	}
}

var summaryLine = regexp.MustCompile(`^(\d+) tenants: (\d+) created, (\d+) failed in \S+ \(\S+/s\)\n$`)

// Ids from stdin and from a file: comments and blank lines are skipped,
// failures are printed on stderr, and the summary on stdout.
func TestTenantCreateFromFile(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	cli := newAdminCLI(t, cfg)
	out, stderr, err := cli.runStdin("# new customers\nacme\n\n  globex  \nBad Id\nacme\n", "tenant", "create", "--from-file", "-", "initech")
	if err == nil {
		t.Error("tenant create with a bad id in stdin succeeded")
	}
	m := summaryLine.FindStringSubmatch(out)
	if m == nil || m[1] != "4" || m[2] != "3" || m[3] != "1" {
		t.Errorf("summary = %q; want 4 tenants, 3 created, 1 failed", out)
	}
	if !strings.Contains(stderr, `invalid id "Bad Id"`) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr = %q; want one line naming the bad id", stderr)
	}
	file := filepath.Join(t.TempDir(), "ids")
	if err := os.WriteFile(file, []byte("acme\r\nhooli\n#x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, err = cli.run("tenant", "create", "--from-file", file)
	if m := summaryLine.FindStringSubmatch(out); err != nil || m == nil || m[1] != "2" || m[2] != "2" || stderr != "" {
		t.Errorf("tenant create --from-file = %v; stdout %q, stderr %q", err, out, stderr)
	}
	st := statuses(t, cli)
	for _, id := range []string{"acme", "globex", "initech", "hooli"} {
		if st[id] != "active" {
			t.Errorf("tenant %s: status %q; want active", id, st[id])
		}
	}
	if _, _, err := cli.run("tenant", "create", "--from-file", filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--from-file of a missing file = %v; want ErrNotExist", err)
	}
}

// cancelOnWrite cancels its context on the first write, as Ctrl-C would.
type cancelOnWrite struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cancel()
	return w.buf.Write(p)
}

// An interruption starts no more tenants, and the command says what was
// not done and fails.
func TestTenantCreateInterrupted(t *testing.T) {
	t.Parallel()
	cfg := migs.NewDatabase(t)
	cli := newAdminCLI(t, cfg)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// One at a time: the first tenant's line is written before the second
	// starts, and cancels.
	out := &cancelOnWrite{cancel: cancel}
	err := Run(ctx, []string{"tenant", "create", "--json", "--concurrency", "1", "one", "two", "three"}, cli.config(nil, out, io.Discard))
	if err == nil || !strings.Contains(err.Error(), "interrupted: 2 of 3 tenants not started") {
		t.Errorf("interrupted create = %v", err)
	}
	lines, sum := jsonLines(t, out.buf.String())
	if sum.Created != 1 || sum.NotStarted != 2 || lines["one"].Status != statusCreated || lines["three"].Status != statusNotStarted {
		t.Errorf("lines %v, summary %+v; want one created, two not started", lines, sum)
	}
	if st := statuses(t, cli); st["one"] != "active" || len(st) != 1 {
		t.Errorf("directory = %v; want one", st)
	}
}
