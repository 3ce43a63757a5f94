package command_test

import (
	"context"
	"io"
	"log"
	"os"
	"testing/fstest"

	"github.com/pgtenant/pgtenant/tenant/command"
)

// A service's tracks, here one tenant table, are all the commands need;
// the database is DATABASE_URL's.
func ExampleRun() {
	cfg := command.Config{
		Name: "notes",
		Tenant: fstest.MapFS{
			"20250101000000_notes.sql": {Data: []byte("CREATE TABLE notes (id bigserial PRIMARY KEY, body text NOT NULL);\n")},
		},
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
	}
	ctx := context.Background()
	quiet := cfg
	quiet.Stdout = io.Discard // migrate prints durations
	if err := command.Run(ctx, []string{"migrate", "--all"}, quiet); err != nil {
		log.Fatal(err)
	}
	for _, args := range [][]string{
		{"tenant", "create", "example"},
		{"tenant", "drop", "example", "--force"},
	} {
		if err := command.Run(ctx, args, cfg); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// tenant example: schema tenant_example, status active
	// tenant example dropped
}
