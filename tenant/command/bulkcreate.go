package command

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pgtenant/pgtenant/internal/bulk"
	"github.com/pgtenant/pgtenant/internal/cmdline"
	"github.com/pgtenant/pgtenant/internal/redact"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// bulkCreate is 'tenant create' with several ids, or --from-file.
type bulkCreate struct {
	dbURL       string
	ids         []string // from the arguments, then from the file
	flags       []string // values of Config.CreateFlags
	script      string   // --seed, read
	asJSON      bool
	lockTimeout time.Duration // migrate.Options.LockTimeout
	concurrency int
}

// Statuses of a tenant in the --json lines of 'tenant create'.
const (
	statusCreated    = "created"
	statusFailed     = "failed"
	statusNotStarted = "notStarted"
)

// bulkLine is one --json line: one per tenant, then the summary.
type bulkLine struct {
	ID      string       `json:"id,omitempty"`
	Status  string       `json:"status,omitempty"`
	Error   string       `json:"error,omitempty"`
	Summary *bulkSummary `json:"summary,omitempty"`
}

type bulkSummary struct {
	Total      int   `json:"total"`
	Created    int   `json:"created"`
	Failed     int   `json:"failed"`
	NotStarted int   `json:"notStarted"`
	DurationMs int64 `json:"durationMs"`
}

// createTenants provisions b.ids, b.concurrency at once. Every tenant is
// reported as it finishes: a line on stderr for a failure, or a JSON line on
// stdout with --json; on a terminal, a progress line on stderr is rewritten
// in place. A summary follows on stdout. Once ctx is done (Ctrl-C) no tenant
// is started, the ones being created are finished, and the command fails.
func (r *runner) createTenants(ctx context.Context, b bulkCreate) error {
	db, err := cmdline.OpenAdminDB(b.dbURL, b.concurrency+1)
	if err != nil {
		return fmt.Errorf("tenant create: %w", err)
	}
	defer db.Close()
	m := r.newMigrator(db, migrate.Options{LockTimeout: b.lockTimeout, Concurrency: b.concurrency})
	// A tenant under way is finished after Ctrl-C rather than rolled back
	// (a second signal ends the process).
	work := context.WithoutCancel(ctx)
	createOpts, err := r.createOptions(ctx, db, b.flags)
	if err != nil {
		return fmt.Errorf("tenant create: %w", err)
	}
	create := func(_ context.Context, id string) error {
		if _, err := m.CreateTenant(work, id, createOpts(id)); err != nil {
			return err
		}
		if b.script != "" {
			if _, err := m.SeedSQL(work, b.script, migrate.SeedOptions{IDs: []string{id}, Concurrency: 1}); err != nil {
				return fmt.Errorf("tenant %s created, but its seed failed: %w", id, err)
			}
		}
		return nil
	}
	out := newBulkOutput(r, b.asJSON, len(bulk.Unique(b.ids)), b.dbURL)
	opts := bulk.Options{Concurrency: b.concurrency, Done: out.done}
	bulk.Run(ctx, b.ids, create, opts)
	return out.finish()
}

// bulkOutput reports the tenants of createTenants as they finish.
type bulkOutput struct {
	stdout   io.Writer
	stderr   io.Writer
	asJSON   bool
	progress bool // stderr is a terminal
	dsn      string
	start    time.Time

	mu  sync.Mutex // Done is serialized; finish reads after it
	sum bulkSummary
	enc *json.Encoder
}

func newBulkOutput(r *runner, asJSON bool, total int, dsn string) *bulkOutput {
	o := &bulkOutput{stdout: r.stdout, stderr: r.stderr, asJSON: asJSON, progress: cmdline.IsTerminal(r.stderr), dsn: dsn, start: time.Now(),
		sum: bulkSummary{Total: total}, enc: json.NewEncoder(r.stdout)}
	if o.progress && total > 0 {
		o.drawProgress()
	}
	return o
}

// done records r and reports it.
func (o *bulkOutput) done(r bulk.Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	line := bulkLine{ID: r.ID, Status: statusCreated}
	switch {
	case errors.Is(r.Err, bulk.ErrNotStarted):
		line.Status = statusNotStarted
		o.sum.NotStarted++
	case r.Err != nil:
		line.Status = statusFailed
		line.Error = redact.Error(o.dsn, r.Err).Error()
		o.sum.Failed++
	default:
		o.sum.Created++
	}
	if o.asJSON {
		o.enc.Encode(line)
	} else if line.Status == statusFailed {
		if o.progress {
			fmt.Fprint(o.stderr, "\r\x1b[K") // the failure replaces the progress line
		}
		fmt.Fprintln(o.stderr, line.Error)
	}
	if o.progress {
		o.drawProgress()
	}
}

// drawProgress rewrites the progress line; o.mu is held.
func (o *bulkOutput) drawProgress() {
	n := o.sum.Created + o.sum.Failed + o.sum.NotStarted
	rate := float64(n) / time.Since(o.start).Seconds()
	fmt.Fprintf(o.stderr, "\r\x1b[K%d/%d tenants, %d failed, %.1f/s", n, o.sum.Total, o.sum.Failed, rate)
}

// finish prints the summary and returns the command's error: non-nil when
// any tenant failed or was not started.
func (o *bulkOutput) finish() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	d := time.Since(o.start)
	o.sum.DurationMs = d.Milliseconds()
	if o.progress && o.sum.Total > 0 {
		fmt.Fprintln(o.stderr)
	}
	s := o.sum
	if o.asJSON {
		o.enc.Encode(bulkLine{Summary: &s})
	} else {
		fmt.Fprintf(o.stdout, "%s: %d created, %d failed", cmdline.Plural(s.Total, "tenant"), s.Created, s.Failed)
		if s.NotStarted > 0 {
			fmt.Fprintf(o.stdout, ", %d not started", s.NotStarted)
		}
		fmt.Fprintf(o.stdout, " in %s (%.1f/s)\n", d.Round(time.Millisecond), float64(s.Created+s.Failed)/d.Seconds())
	}
	switch {
	case s.NotStarted > 0:
		return fmt.Errorf("tenant create: interrupted: %d of %s not started, %d failed; run the command again to finish", s.NotStarted, cmdline.Plural(s.Total, "tenant"), s.Failed)
	case s.Failed > 0:
		return fmt.Errorf("tenant create: %d of %s failed; run the command again to repair them", s.Failed, cmdline.Plural(s.Total, "tenant"))
	}
	return nil
}

// readIDs reads tenant ids from the file name, "-" for stdin, one a line;
// blank lines and lines starting with # are skipped, and white space
// around an id is dropped.
func readIDs(stdin io.Reader, name string) ([]string, error) {
	var r io.Reader
	if name == "-" {
		if stdin == nil {
			return nil, errors.New("--from-file -: no standard input")
		}
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var ids []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ids = append(ids, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ids, nil
}
