// Package migrations embeds the versioned SQL migrations of the notes
// example, generated from its Ent schema by ent/migrate/main.go, in two
// tracks: public (the shared accounts table, applied once to schema public)
// and tenant (notebooks and notes, applied to every tenant schema). The DDL
// is unqualified: it lands in the first schema of search_path, which the
// applier (package tenant/migrate) sets per transaction.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed public/*.sql tenant/*.sql
var files embed.FS

// Public returns the migrations of the public schema. The files are named
// <version>_<name>.sql and apply in lexical order. The returned FS is
// read-only and safe for concurrent use.
func Public() fs.FS { return sub("public") }

// Tenant returns the migrations of a tenant schema, like Public.
func Tenant() fs.FS { return sub("tenant") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the embedded directory exists by construction
	}
	return f
}
