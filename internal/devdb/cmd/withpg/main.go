// Command withpg runs a command with a PostgreSQL server at hand.
//
//	withpg [flags] command [args...]
//
// It gets a server with devdb.Ensure (the one on 127.0.0.1:5432 if it
// answers, else a private cluster in .devdb started from the PostgreSQL
// binaries on the machine, which scripts/dev installs), sets an environment
// variable (TEST_DATABASE_URL by default) to the URL of a database on it,
// runs the command, stops a private cluster it started (deleting it with
// -remove), and exits with the command's exit status. SIGINT and SIGTERM are
// passed on to the command.
//
// Flags take their defaults from DEVDB_DIR, DEVDB_PROBE and DEVDB_PRIVATE.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/pgtenant/pgtenant/internal/devdb"
)

func main() {
	code, err := run(os.Args[1:], os.Getenv, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "withpg:", err)
	}
	os.Exit(code)
}

const usage = `usage: withpg [flags] command [args...]

Runs command with the environment variable named by -env set to the URL of
database -db on a PostgreSQL server (see internal/devdb).

`

func run(args []string, getenv func(string) string, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("withpg", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	private, _ := strconv.ParseBool(getenv("DEVDB_PRIVATE"))
	var (
		dir      = fs.String("dir", or(getenv("DEVDB_DIR"), devdb.DefaultDir), "folder of the private cluster (env DEVDB_DIR)")
		probe    = fs.String("probe", or(getenv("DEVDB_PROBE"), devdb.DefaultProbe), "server to use if it answers (env DEVDB_PROBE)")
		priv     = fs.Bool("private", private, "always start a new private cluster, and remove it afterwards (env DEVDB_PRIVATE)")
		remove   = fs.Bool("remove", false, "delete a private cluster afterwards instead of only stopping it, unless another process uses it")
		database = fs.String("db", "postgres", "database to hand to the command, created if missing")
		envName  = fs.String("env", "TEST_DATABASE_URL", "environment variable that receives the database URL")
		quiet    = fs.Bool("q", false, "log only warnings and errors")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, nil
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2, nil
	}
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	// Signals go to the command, which ends; then the server is stopped.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel() // interrupt Ensure; once the command runs, sigs is read below
		case <-ctx.Done():
		}
	}()

	s, err := devdb.Ensure(ctx, devdb.Options{Dir: *dir, Probe: *probe, Private: *priv, Logger: log})
	if err != nil {
		return 1, err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if !*priv && !*remove {
			if err := s.Stop(ctx); err != nil {
				log.Error("stop server", "err", err)
			}
			return
		}
		if err := s.Remove(ctx); errors.Is(err, devdb.ErrInUse) {
			log.Info("cluster not removed: in use by another process")
		} else if err != nil {
			log.Error("remove server", "err", err)
		}
	}()
	if *database != "postgres" {
		if err := s.CreateDatabase(ctx, *database); err != nil {
			return 1, err
		}
	}

	cancel() // stop the goroutine above; signals are forwarded from now on
	return devdb.Run(fs.Args(), *envName+"="+s.URL(*database), stderr, sigs)
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
