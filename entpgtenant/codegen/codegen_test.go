package codegen_test

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/entpgtenant/codegen"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// features are those this module's own ent uses.
var features = []gen.Feature{
	gen.FeatureSchemaConfig,
	gen.FeatureVersionedMigration,
	gen.FeatureUpsert,
	gen.FeatureExecQuery,
}

// newModule copies testdata/notes into a temporary module that requires
// this module through a replace directive, and so the versions of Ent and
// lib/pq this module requires, with this module's go.sum. It makes it the
// working directory of the test and of the go commands it runs.
func newModule(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/notes")); err != nil {
		t.Fatal(err)
	}
	gomod := fmt.Sprintf(`module example.com/notes

go 1.26.0

require github.com/pgtenant/pgtenant v0.0.0

replace github.com/pgtenant/pgtenant => %s
`, root)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	t.Setenv("GOWORK", "off")
	t.Setenv("GOFLAGS", strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"))
	return dir
}

// generate runs entc on the schema package at path (relative to the
// temporary module) with the extension.
func generate(path string, features ...gen.Feature) error {
	return entc.Generate(path, &gen.Config{Features: features}, entc.Extensions(codegen.NewExtension()))
}

// goCmd runs the go command with args in dir, with env added.
func goCmd(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	t.Logf("go %s:\n%s", strings.Join(args, " "), out)
	if err != nil {
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
}

func TestGenerate(t *testing.T) {
	dir := newModule(t)
	if err := generate("./ent/schema", features...); err != nil {
		t.Fatalf("generate: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ent", "pgtenant.go")); err != nil {
		t.Fatalf("generate wrote no pgtenant.go: %v", err)
	}
	goCmd(t, dir, nil, "vet", "./...")
	goCmd(t, dir, nil, "test", "-race", "-count=1", "-run", "^(TestTables|TestTenantSchemaConfig)$", ".")

	t.Run("postgres", func(t *testing.T) {
		admin := tenanttest.ServerConfig(t)
		name := newDatabase(t, admin)
		server := os.Getenv("TEST_DATABASE_URL")
		if server == "" {
			server = tenanttest.DefaultServerURL
		}
		goCmd(t, dir, []string{"ENTPGTENANT_TEST_SERVER=" + server, "ENTPGTENANT_TEST_DATABASE=" + name},
			"test", "-race", "-count=1", "-run", "^TestClientForTenant$", "-v", ".")
	})
}

// newDatabase creates an empty database on the server of admin and drops it
// when t ends.
func newDatabase(t *testing.T, admin pq.Config) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "entpgtenant_test_" + hex.EncodeToString(b)
	c, err := pq.NewConnectorConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	if _, err := db.ExecContext(t.Context(), "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The test's context is canceled by now.
		if _, err := db.Exec("DROP DATABASE " + pq.QuoteIdentifier(name) + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return name
}

func TestGenerateWithoutSchemaConfig(t *testing.T) {
	dir := newModule(t)
	err := generate("./ent/schema", gen.FeatureVersionedMigration, gen.FeatureUpsert)
	if !errors.Is(err, codegen.ErrNoSchemaConfig) {
		t.Fatalf("generate without sql/schemaconfig: error %v; want %v", err, codegen.ErrNoSchemaConfig)
	}
	if msg := err.Error(); !strings.Contains(msg, "gen.FeatureSchemaConfig") {
		t.Errorf("error %q does not name the fix", msg)
	}
	assertNothingGenerated(t, filepath.Join(dir, "ent"))
}

func TestGeneratePlacement(t *testing.T) {
	for _, tt := range []struct {
		name, schema string
		// want are parts of the message: what cannot be placed and how to fix it.
		want []string
	}{
		{"tenant-shared join table", "./mixed/schema",
			[]string{`edge "notes" of Account`, "shared entity Account", "tenant entity Note", `"account_notes"`, "entpgtenant.Shared()", "edge.Through"}},
		{"shared table referencing tenant table", "./sharedfk/schema",
			[]string{`shared table "accounts"`, `tenant table "notes"`, "annotate Note with entpgtenant.Shared()"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := newModule(t)
			err := generate(tt.schema, features...)
			if !errors.Is(err, codegen.ErrPlacement) {
				t.Fatalf("generate(%s): error %v; want %v", tt.schema, err, codegen.ErrPlacement)
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("generate(%s): error %q does not mention %s", tt.schema, err, w)
				}
			}
			assertNothingGenerated(t, filepath.Join(dir, filepath.Dir(tt.schema)))
		})
	}
}

// assertNothingGenerated checks that dir holds only its schema package.
func assertNothingGenerated(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "schema" {
			t.Errorf("generation that failed wrote %s", filepath.Join(dir, e.Name()))
		}
	}
}
