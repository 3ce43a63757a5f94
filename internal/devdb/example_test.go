package devdb_test

import (
	"context"
	"database/sql"
	"log"

	"github.com/pgtenant/pgtenant/internal/devdb"
)

// A program that needs a database when none is configured: the server on
// 127.0.0.1:5432 if it answers, else a private cluster in .devdb.
func ExampleEnsure() {
	ctx := context.Background()
	s, err := devdb.Ensure(ctx, devdb.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Stop(context.Background())
	if err := s.CreateDatabase(ctx, "multitenant"); err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("postgres", s.URL("multitenant"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
}

// A test simulating an outage: its own server, stopped and started again on
// the same URL.
func ExampleServer_Stop() {
	ctx := context.Background()
	s, err := devdb.Ensure(ctx, devdb.Options{Dir: "/tmp/outage", Private: true})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Remove(context.Background())
	url := s.URL("postgres")
	if err := s.Stop(ctx); err != nil { // the server is down
		log.Fatal(err)
	}
	if err := s.Start(ctx); err != nil { // and back, at url
		log.Fatal(err)
	}
	_ = url
}
