//go:build ignore

// Command main generates the versioned SQL migrations of the notes example
// from its Ent schema, or checks that the committed ones are up to date. Run
// it from the module root:
//
//	go run ./examples/notes/ent/migrate/main.go NAME    # write a new migration named NAME
//	go run ./examples/notes/ent/migrate/main.go -check  # exit 1 if the schema has unmigrated changes
//
// See package entpgtenant/migrategen for its flags and the development
// database it diffs on.
package main

import (
	"fmt"
	"os"

	"github.com/pgtenant/pgtenant/entpgtenant/migrategen"
	"github.com/pgtenant/pgtenant/examples/notes/ent"
)

func main() {
	err := migrategen.Main(os.Args[1:], migrategen.Options{
		Dir: "examples/notes/ent/migrate/migrations",
		Tracks: []migrategen.Track{
			{Dir: "public", Tables: ent.SharedTables()},
			{Dir: "tenant", Tables: ent.TenantTables()},
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "examples/notes/ent/migrate:", err)
		os.Exit(1)
	}
}
