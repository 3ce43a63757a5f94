package migrategen_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"entgo.io/ent/dialect/sql/schema"
	"entgo.io/ent/schema/field"

	"github.com/pgtenant/pgtenant/entpgtenant/migrategen"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

func table(name string, columns ...string) *schema.Table {
	id := &schema.Column{Name: "id", Type: field.TypeInt, Increment: true}
	t := &schema.Table{Name: name, Columns: []*schema.Column{id}, PrimaryKey: []*schema.Column{id}}
	for _, c := range columns {
		t.Columns = append(t.Columns, &schema.Column{Name: c, Type: field.TypeString})
	}
	return t
}

func TestGenerate(t *testing.T) {
	devURL := tenanttest.URL(tenanttest.NewDatabase(t))
	root := t.TempDir()
	opts := func(check bool, shared, tenant *schema.Table) migrategen.Options {
		return migrategen.Options{
			Dir:    root,
			Name:   "initial",
			DevURL: devURL,
			Check:  check,
			Tracks: []migrategen.Track{
				{Dir: "public", Tables: []*schema.Table{shared}},
				{Dir: "tenant", Tables: []*schema.Table{tenant}},
			},
		}
	}

	// A check of a missing directory finds everything to do, and writes nothing.
	err := migrategen.Generate(t.Context(), opts(true, table("accounts", "name"), table("notes", "title")))
	if !errors.Is(err, migrategen.ErrStale) {
		t.Fatalf("check before any migration: %v; want ErrStale", err)
	}
	if _, err := os.Stat(filepath.Join(root, "public")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("check created the track directory (stat: %v)", err)
	}

	// Generate writes one file per track, holding only the track's tables.
	if err := migrategen.Generate(t.Context(), opts(false, table("accounts", "name"), table("notes", "title"))); err != nil {
		t.Fatal(err)
	}
	for track, want := range map[string]string{"public": `"accounts"`, "tenant": `"notes"`} {
		files, err := filepath.Glob(filepath.Join(root, track, "*_initial.sql"))
		if err != nil || len(files) != 1 {
			t.Fatalf("%s: files %q (%v); want one *_initial.sql", track, files, err)
		}
		sql, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(sql), "CREATE TABLE "+want) || strings.Count(string(sql), "CREATE TABLE") != 1 {
			t.Errorf("%s: migration\n%s\nwant exactly table %s", track, sql, want)
		}
		if strings.Contains(string(sql), `"public".`) {
			t.Errorf("%s: migration\n%s\nis qualified", track, sql)
		}
		if _, err := os.Stat(filepath.Join(root, track, "atlas.sum")); err != nil {
			t.Errorf("%s: %v", track, err)
		}
	}

	// The committed files reproduce the tables; a new column is stale.
	if err := migrategen.Generate(t.Context(), opts(true, table("accounts", "name"), table("notes", "title"))); err != nil {
		t.Errorf("check after generating: %v", err)
	}
	err = migrategen.Generate(t.Context(), opts(true, table("accounts", "name"), table("notes", "title", "body")))
	if !errors.Is(err, migrategen.ErrStale) || !strings.Contains(err.Error(), "tenant") || strings.Contains(err.Error(), "public") {
		t.Errorf("check with a new tenant column: %v; want ErrStale naming the tenant track only", err)
	}

	// A hand-edited file is refused by the check.
	files, _ := filepath.Glob(filepath.Join(root, "tenant", "*_initial.sql"))
	if err := os.WriteFile(files[0], []byte("-- edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = migrategen.Generate(t.Context(), opts(true, table("accounts", "name"), table("notes", "title")))
	if err == nil || errors.Is(err, migrategen.ErrStale) {
		t.Errorf("check with an edited file: %v; want a checksum error", err)
	}
}
