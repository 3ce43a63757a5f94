//go:build ignore

// Command entc generates the Ent client of the notes example from
// ./ent/schema, with the entpgtenant extension. go generate runs it in
// examples/notes, through the directive in main.go:
//
//	go run ./ent/entc.go
package main

import (
	"log"

	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"

	"github.com/pgtenant/pgtenant/entpgtenant/codegen"
)

func main() {
	err := entc.Generate("./ent/schema", &gen.Config{
		Features: []gen.Feature{
			gen.FeatureSchemaConfig,
			gen.FeatureVersionedMigration,
		},
	}, entc.Extensions(codegen.NewExtension()))
	if err != nil {
		log.Fatalf("ent/entc: %v", err)
	}
}
