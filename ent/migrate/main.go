//go:build ignore

// Command main generates the versioned SQL migrations of both tracks from the
// Ent schema, or checks that the committed ones are up to date. Run it from
// the module root:
//
//	go run ./ent/migrate/main.go [-dev-url URL] NAME   # write a new migration named NAME
//	go run ./ent/migrate/main.go -check                 # exit 1 if the schema has unmigrated changes
//
// See package entpgtenant/migrategen for the development database it diffs
// on (-dev-url, DEV_DATABASE_URL, TEST_DATABASE_URL).
package main

import (
	"fmt"
	"os"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/entpgtenant/migrategen"
)

func main() {
	err := migrategen.Main(os.Args[1:], migrategen.Options{
		Dir: "ent/migrate/migrations",
		Tracks: []migrategen.Track{
			{Dir: "public", Tables: ent.SharedTables()},
			{Dir: "tenant", Tables: ent.TenantTables()},
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ent/migrate:", err)
		os.Exit(1)
	}
}
