//go:build ignore

// Command entc generates the Ent client of this module from ./ent/schema,
// with the entpgtenant extension. Run it from the module root, as go
// generate does through the directive in generate.go:
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
			gen.FeatureUpsert,
			gen.FeatureExecQuery,
		},
	}, entc.Extensions(codegen.NewExtension()))
	if err != nil {
		log.Fatalf("ent/entc: %v", err)
	}
}
