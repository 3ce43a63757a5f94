// Package command gives a service's own binary the administrative commands
// of its tenants, over the service's migration tracks:
//
//	NAME migrate (--all | --tenant ID | --tenants a,b) ...  apply migrations
//	NAME status [--json]                                    applied, pending, drifted
//	NAME tenant create ID... | drop ID --force | list       manage tenants
//
// A main is a few lines:
//
//	func main() {
//		command.Main(command.Config{Name: "notes", Public: migrations.Public(), Tenant: migrations.Tenant()})
//	}
//
// The commands find their database in --database-url, else DATABASE_URL,
// else Config.DefaultDatabaseURL. Passwords are never printed: not in help,
// errors nor output. The exit status is 0 on success, 2 for a mistake in
// the command line and 1 for any other failure.
//
// The hooks of Config (CreateFlags, Columns, AfterDrop) connect the
// service's own data about its tenants, such as a plan, to 'tenant create',
// 'tenant list' and 'tenant drop'.
package command

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pgtenant/pgtenant/internal/cmdline"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// Config is a program's commands: its name, its migrations, its hooks and
// its process. The tracks are required; the zero value of every other
// field is usable.
type Config struct {
	// Name is the program's name in help and messages, e.g. "notes";
	// empty means the base name of os.Args[0].
	Name string

	// Public and Tenant are the service's migration tracks, as in
	// migrate.Options.
	Public, Tenant fs.FS

	// DefaultDatabaseURL, if not nil, returns the database URL used when
	// neither --database-url nor DATABASE_URL is set, and a phrase naming
	// where it comes from for error messages (e.g. "the built-in
	// default"). When it is nil or returns an empty url, a command that
	// needs the database fails with a usage error asking for one.
	DefaultDatabaseURL func() (url, origin string)
	// DefaultDatabaseDoc describes DefaultDatabaseURL in the help of
	// --database-url, which reads "default $DATABASE_URL, else " followed
	// by it.
	DefaultDatabaseDoc string
	// DatabaseHint says what to do when the database does not answer
	// (connection refused, or no such database); empty means "set
	// DATABASE_URL to your database".
	DatabaseHint string

	// CreateFlags are the service's flags of 'tenant create', for its own
	// data about new tenants.
	CreateFlags []CreateFlag
	// Columns are the service's columns of 'tenant list', and keys of the
	// JSON of 'tenant create --json', after the status and before the
	// creation time.
	Columns []Column
	// AfterDrop, if not nil, runs after 'tenant drop' has dropped tenant id
	// (its schema and its directory row), for the service's own rows about
	// it; its error fails the command, and the tenant stays dropped.
	AfterDrop func(ctx context.Context, db *sql.DB, id string) error

	// TenantHelp, if not empty, replaces the text that 'tenant -h' prints
	// before the flags: for a program that adds its own tenant subcommands
	// or CreateFlags and describes them there.
	TenantHelp string

	// Stdin is read by 'tenant create --from-file -'; nil is no input.
	Stdin io.Reader
	// Stdout and Stderr receive the output and the diagnostics; nil
	// discards.
	Stdout, Stderr io.Writer
	// Getenv reads DATABASE_URL and DB_MAX_CONNS; nil reads nothing.
	Getenv func(string) string
}

// CreateFlag is a string flag of 'tenant create' that the service adds for
// its own data about a new tenant, such as a plan.
type CreateFlag struct {
	// Name and Usage are the flag's, as for flag.String.
	Name, Usage string
	// Options is called once when the flag is given a non-empty value,
	// after the database is opened and before any tenant is created, and
	// returns the options of CreateTenant for each tenant (typically a
	// Then that writes the service's row in the tenant's transaction). An
	// error fails the command before any tenant is created; one made by
	// Usagef exits with status 2.
	Options func(ctx context.Context, db *sql.DB, value string) (func(id string) migrate.CreateOptions, error)
}

// Column is a column of the service's own data in 'tenant list' and in the
// JSON of a tenant.
type Column struct {
	// Header heads the column in the table, e.g. "PLAN".
	Header string
	// Key is the column's key in JSON, e.g. "planId".
	Key string
	// Values returns the column's value of each of the tenants ids; a
	// missing or empty value shows as "-" in the table and is left out of
	// the JSON.
	Values func(ctx context.Context, db *sql.DB, ids []string) (map[string]string, error)
}

// Usagef returns an error, with a message formatted as fmt.Errorf formats
// it, that ExitCode reports as a mistake in the command line (status 2).
func Usagef(format string, args ...any) error {
	return cmdline.Usagef(format, args...)
}

// ExitCode prints err, unless nil or already printed with a usage, to
// stderr as "name: err", and returns the exit status for it: 0 for nil, 2
// for a mistake in the command line, 1 for any other error.
func ExitCode(err error, name string, stderr io.Writer) int {
	return cmdline.ExitCode(err, name, stderr)
}

// Main runs the command line of the process, os.Args, with cfg, and exits
// with the status of ExitCode. Nil fields of cfg's process (Stdin, Stdout,
// Stderr, Getenv) are the process's. The first SIGINT or SIGTERM cancels
// the command's context (a command under way finishes what it must and
// stops); a second ends the process at once.
func Main(cfg Config) {
	ctx, cancel := cmdline.SignalContext()
	if cfg.Stdin == nil {
		cfg.Stdin = os.Stdin
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	err := Run(ctx, os.Args[1:], cfg)
	cancel()
	if code := ExitCode(err, programName(cfg), cfg.Stderr); code != 0 {
		os.Exit(code)
	}
}

// Run runs one command line, args without the program's name, with cfg:
// "migrate ...", "status ...", or "tenant create|drop|list ...". "-h" lists
// the commands; "COMMAND -h" prints the help and flags of one. Output goes
// to cfg.Stdout, diagnostics and progress to cfg.Stderr. The error has no
// password in it; ExitCode prints it and maps it to an exit status. Run is
// safe for concurrent use with distinct writers.
func Run(ctx context.Context, args []string, cfg Config) error {
	r := &runner{cfg: cfg, name: programName(cfg), stdin: cfg.Stdin, stdout: cfg.Stdout, getenv: cfg.Getenv}
	if r.stdout == nil {
		r.stdout = io.Discard
	}
	stderr := cfg.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	if r.getenv == nil {
		r.getenv = func(string) string { return "" }
	}
	r.db = &cmdline.Database{Name: r.name, Getenv: r.getenv, Default: cfg.DefaultDatabaseURL,
		Doc: cfg.DefaultDatabaseDoc, Hint: cfg.DatabaseHint}
	return cmdline.Run(stderr, r.db, func(stderr io.Writer) error {
		r.stderr = stderr
		return r.dispatch(ctx, args)
	})
}

// programName is cfg.Name, else the base name of os.Args[0].
func programName(cfg Config) string {
	if cfg.Name != "" {
		return cfg.Name
	}
	if len(os.Args) > 0 {
		return filepath.Base(os.Args[0])
	}
	return "command"
}

// runner is one Run.
type runner struct {
	cfg    Config
	name   string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	db     *cmdline.Database
}

const usage = `usage: %[1]s (migrate | status | tenant) [flags]

  migrate   apply migrations: --all | --tenant ID | --tenants a,b
  status    applied, pending and drifted migrations per tenant
  tenant    create ID... [--from-file F] | drop ID --force | list

Run '%[1]s COMMAND -h' for the flags of a command.
`

func (r *runner) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintf(r.stderr, usage, r.name)
		return cmdline.Usagef("missing command")
	}
	switch cmd, args := args[0], args[1:]; cmd {
	case "migrate":
		return r.migrate(ctx, args)
	case "status":
		return r.status(ctx, args)
	case "tenant":
		return r.tenant(ctx, args)
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(r.stdout, usage, r.name)
		return nil
	default:
		fmt.Fprintf(r.stderr, usage, r.name)
		return cmdline.Usagef("unknown command %q", cmd)
	}
}

// newMigrator returns a migrator of the program's tracks over db.
func (r *runner) newMigrator(db *sql.DB, opts migrate.Options) *migrate.Migrator {
	opts.Public, opts.Tenant = r.cfg.Public, r.cfg.Tenant
	return migrate.New(db, opts)
}

// help returns the help text h with the program's name in it.
func (r *runner) help(h string) string {
	return fmt.Sprintf(h, r.name)
}
