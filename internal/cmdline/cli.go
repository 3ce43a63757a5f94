// Package cmdline is the plumbing shared by the administrative commands of
// package tenant/command and of the reference binary cmd/api: usage errors
// and exit statuses, flag sets, the database URL with its password hidden,
// the administrative pool, and the small formatting helpers of their output.
package cmdline

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// UsageError is a mistake in the command line (an unknown command or flag,
// a missing or extra argument): ExitCode returns 2 for it instead of 1.
// Printed is true when the flag package already printed the message with
// the usage, so ExitCode does not print it again.
type UsageError struct {
	Err     error
	Printed bool
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a *UsageError with a formatted message (%w wraps).
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitCode prints err to stderr as "name: err", unless it was printed
// already, and returns the process's exit status: 0 for nil, 2 for an error
// wrapping a *UsageError, else 1.
func ExitCode(err error, name string, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		if !ue.Printed {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
		}
		return 2
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}

// Run runs a command, f, with a stderr that passes writes through to
// stderr, and returns its error with the password of db's URL removed and,
// for the usual mistakes, what to do (db.Explain). An error that the flag
// package printed with the usage before anything else comes back as a
// *UsageError with Printed set.
func Run(stderr io.Writer, db *Database, f func(stderr io.Writer) error) error {
	rec := &firstWrite{w: stderr}
	err := f(rec)
	var ue *UsageError
	if err != nil && !errors.As(err, &ue) && rec.printed(err.Error()) {
		return &UsageError{Err: err, Printed: true}
	}
	return db.Explain(err)
}

// firstWrite passes writes through to w and remembers the first one, so
// Run can tell whether the flag package printed the error it returned: it
// prints the message, in one write, before anything else of the command.
type firstWrite struct {
	w     io.Writer
	done  atomic.Bool
	mu    sync.Mutex
	first string
}

func (f *firstWrite) Write(p []byte) (int, error) {
	if !f.done.Load() {
		f.mu.Lock()
		if !f.done.Load() {
			f.first = string(p)
			f.done.Store(true)
		}
		f.mu.Unlock()
	}
	return f.w.Write(p)
}

// printed reports whether msg, as one line, was the first write.
func (f *firstWrite) printed(msg string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.first == msg+"\n"
}

// IsTerminal reports whether w, or the writer that Run's stderr passes
// writes to, is a character device, such as a terminal.
func IsTerminal(w io.Writer) bool {
	for {
		fw, ok := w.(*firstWrite)
		if !ok {
			break
		}
		w = fw.w
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

var flagLine = regexp.MustCompile(`(?m)^  -`)

// NewFlagSet returns the flag set of command name: it reports errors on
// stderr, and its -h prints help followed by the flags (PrintFlags).
func NewFlagSet(stderr io.Writer, name, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), help); PrintFlags(fs) }
	return fs
}

// PrintFlags prints the flags of fs like fs.PrintDefaults, but spelled
// with two dashes (--all), as the documentation spells them; the flag
// package accepts both.
func PrintFlags(fs *flag.FlagSet) {
	out := fs.Output()
	var b bytes.Buffer
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(out)
	out.Write(flagLine.ReplaceAll(b.Bytes(), []byte("  --")))
}

// ParseInterspersed parses flags that may come before, between or after
// positional arguments (flag.Parse stops at the first positional one), and
// returns the positional arguments.
func ParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// Plural returns "1 tenant", "2 tenants".
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// Dash returns s, or "-" for an empty s.
func Dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteJSON writes v to w as indented JSON and a newline.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ConnBudget is the connection budget of the process: DB_MAX_CONNS, as
// getenv reads it, else tenant.DefaultMaxConns.
func ConnBudget(getenv func(string) string) (int, error) {
	v := getenv("DB_MAX_CONNS")
	if v == "" {
		return tenant.DefaultMaxConns, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		return 0, fmt.Errorf("DB_MAX_CONNS: invalid value %q: want an integer of at least 2", v)
	}
	return n, nil
}

// LockTimeoutFlag registers --lock-timeout; which, if not empty, names the
// subcommands it applies to.
func LockTimeoutFlag(fs *flag.FlagSet, which string) *time.Duration {
	if which != "" {
		which += ": "
	}
	return fs.Duration("lock-timeout", migrate.DefaultLockTimeout, which+
		"longest wait for a lock that another transaction holds (PostgreSQL lock_timeout); a tenant that waits longer fails, changes nothing, and is retried by the next run; 0 means no limit")
}

// LockTimeoutOption turns the value of --lock-timeout into
// migrate.Options.LockTimeout, where no limit is negative.
func LockTimeoutOption(d time.Duration) (time.Duration, error) {
	switch {
	case d < 0:
		return 0, Usagef("--lock-timeout %s: must not be negative (0 means no limit)", d)
	case d == 0:
		return -1, nil
	}
	return d, nil
}

// SelectTenants turns --all, --tenant and --tenants into RunOptions.IDs
// (nil for all), validating every id before anything touches the database.
// An invalid id is an error wrapping tenant.ErrInvalidID.
func SelectTenants(all bool, one, some string) ([]string, error) {
	var ids []string
	if one != "" {
		ids = append(ids, one)
	}
	if some != "" {
		ids = append(ids, strings.Split(some, ",")...)
	}
	switch {
	case all && ids != nil:
		return nil, errors.New("--all excludes --tenant and --tenants")
	case all:
		return nil, nil
	case ids == nil:
		return nil, errors.New("choose --all, --tenant ID or --tenants a,b")
	}
	for _, id := range ids {
		if _, err := tenant.Namer(nil).Schema(id); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// MaxSeedBytes bounds a seed script.
const MaxSeedBytes = 64 << 20

// ReadSeed reads a SQL seed script of at most MaxSeedBytes from the file
// name; an empty script is an error.
func ReadSeed(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSeedBytes+1))
	if err != nil {
		return "", err
	}
	if len(b) > MaxSeedBytes {
		return "", fmt.Errorf("%s: larger than %d bytes", name, MaxSeedBytes)
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", fmt.Errorf("%s: empty seed", name)
	}
	return string(b), nil
}
