// Command withcitus runs a command with a private Citus cluster at hand.
//
//	withcitus [flags] command [args...]
//
// It starts a coordinator and two workers with devdb.StartCitus (installing
// Citus from CITUS_DIST first when it is missing and the process is root),
// sets an environment variable (TEST_DATABASE_URL by default) to the URL of
// the coordinator's database postgres, which is a Citus database with the
// workers registered, runs the command, removes the cluster and exits with
// the command's exit status. SIGINT and SIGTERM are passed on to the command.
//
// When Citus cannot be had, it prints one line saying why and exits 0
// without running the command, unless CI is true and CITUS_DIST is set
// (devdb.CitusRequired): then it fails.
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
	"syscall"
	"time"

	"github.com/pgtenant/pgtenant/internal/devdb"
)

func main() {
	code, err := run(os.Args[1:], os.Getenv, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "withcitus:", err)
	}
	os.Exit(code)
}

const usage = `usage: withcitus [flags] command [args...]

Runs command with the environment variable named by -env set to the URL of
the database postgres on the coordinator of a private Citus cluster (see
internal/devdb).

`

func run(args []string, getenv func(string) string, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("withcitus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var (
		dir     = fs.String("dir", or(getenv("DEVDB_DIR"), devdb.DefaultDir), "folder of the clusters (env DEVDB_DIR)")
		dist    = fs.String("dist", getenv("CITUS_DIST"), "folder of a Citus build with install.sh, used when Citus is missing (env CITUS_DIST)")
		envName = fs.String("env", "TEST_DATABASE_URL", "environment variable that receives the coordinator's URL")
		quiet   = fs.Bool("q", false, "log only warnings and errors")
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

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()

	c, err := devdb.StartCitus(ctx, devdb.CitusOptions{Dir: *dir, Dist: *dist, Logger: log})
	if errors.Is(err, devdb.ErrNoCitus) && !devdb.CitusRequired(getenv) {
		fmt.Fprintf(stderr, "withcitus: skipping %s: %v\n", fs.Arg(0), err)
		return 0, nil
	}
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(stderr, "withcitus: citus cluster (coordinator %s, %d workers) started in %v\n",
		c.Coordinator.Addr(), len(c.Workers), c.Startup.Round(time.Millisecond))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Remove(ctx); err != nil {
			log.Error("remove citus cluster", "err", err)
		}
	}()

	cancel()
	return devdb.Run(fs.Args(), *envName+"="+c.URL("postgres"), stderr, sigs)
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
