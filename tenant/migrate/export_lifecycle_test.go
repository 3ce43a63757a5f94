package migrate_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// export dumps tenant id with m.
func export(t *testing.T, m *migrate.Migrator, id string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := m.ExportTenant(t.Context(), id, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// An export imported under another id holds byte-identical rows, and its
// own export carries the same data.
func TestExportImportRoundTrip(t *testing.T) {
	forEachLevel(t, testExportImportRoundTrip)
}

func testExportImportRoundTrip(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: countersTrack(t)})
	if _, err := m.CreateTenant(t.Context(), "acme", migrate.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fill(t, db, "tenant_acme", 20)
	// Values that stress the text format: backslashes, tabs, newlines,
	// carriage returns, \N as text, and non-ASCII.
	if _, err := db.ExecContext(t.Context(), `INSERT INTO tenant_acme.users (email, name) VALUES
		('odd@example.com', E'a\\b\tc\nd\re \\N f\u00e9\u4e16'), ('null@example.com', '\N')`); err != nil {
		t.Fatal(err)
	}
	dump := export(t, m, "acme")
	if !bytes.HasPrefix(dump, []byte("PGTENANT-DUMP 1\n")) {
		t.Fatalf("dump starts with %q", dump[:min(len(dump), 40)])
	}
	imp, err := m.ImportTenant(t.Context(), "copy", bytes.NewReader(dump))
	if err != nil {
		t.Fatal(err)
	}
	if imp.Status != "active" {
		t.Errorf("imported tenant is %s; want active", imp.Status)
	}
	for _, table := range []string{"users", "posts", "counters"} {
		a, b := tableText(t, db, "tenant_acme", table), tableText(t, db, "tenant_copy", table)
		if !slices.Equal(a, b) || len(a) == 0 {
			t.Errorf("%s: imported rows differ from the source's (%d vs %d rows)", table, len(b), len(a))
		}
	}
	// Everything after the header (which names the tenant) is the same,
	// up to the order of the rows within a table.
	again := export(t, m, "copy")
	body := func(b []byte) []string {
		lines := strings.Split(string(b[bytes.Index(b, []byte("\nTABLE ")):bytes.LastIndex(b, []byte("\nEND "))]), "\n")
		slices.Sort(lines)
		return lines
	}
	if a, b := body(dump), body(again); !slices.Equal(a, b) {
		t.Errorf("the re-export's data sections differ from the original export's: %d vs %d lines", len(a), len(b))
	}
	var id int
	if err := db.QueryRowContext(t.Context(), "INSERT INTO tenant_copy.counters (label) VALUES ('next') RETURNING id").Scan(&id); err != nil || id != 4 {
		t.Errorf("next identity after import = %d, %v; want 4", id, err)
	}
	// An existing tenant is not overwritten.
	if _, err := m.ImportTenant(t.Context(), "copy", bytes.NewReader(dump)); !errors.Is(err, migrate.ErrWrongStatus) {
		t.Errorf("import onto an existing tenant: err = %v; want ErrWrongStatus", err)
	}
}

// A dump from an older revision is migrated forward; one from a newer
// revision is refused before anything is written.
func TestImportRevisions(t *testing.T) {
	forEachLevel(t, testImportRevisions)
}

func testImportRevisions(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	v1 := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: tenantTrack(t, false)})
	v2 := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: tenantTrack(t, true)})
	if _, err := v1.CreateTenant(t.Context(), "old", migrate.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), "INSERT INTO tenant_old.users (email, name) VALUES ('a@example.com', 'A')"); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.ImportTenant(t.Context(), "fwd", bytes.NewReader(export(t, v1, "old"))); err != nil {
		t.Fatalf("import of an older dump: %v", err)
	}
	_, all := v2.Versions()
	if got := revisions(t, db, "tenant_fwd"); !slices.Equal(got, all) {
		t.Errorf("imported revision %v; want %v", got, all)
	}
	if n := len(tableText(t, db, "tenant_fwd", "users")); n != 1 {
		t.Errorf("imported users = %d; want 1", n)
	}
	newer := export(t, v2, "fwd")
	_, err := v1.ImportTenant(t.Context(), "back", bytes.NewReader(newer))
	if !errors.Is(err, migrate.ErrBadDump) || !strings.Contains(err.Error(), "upgrade") {
		t.Errorf("import of a newer dump: err = %v; want ErrBadDump asking for an upgrade", err)
	}
	if directoryStatus(t, db, "back") != "absent" || schemaExists(t, db, "tenant_back") {
		t.Error("a refused import left a directory row or a schema")
	}
}

// Hostile dumps and ids get clear errors and write nothing.
func TestImportHostileDumps(t *testing.T) {
	forEachLevel(t, testImportHostileDumps)
}

func testImportHostileDumps(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	if _, err := m.CreateTenant(t.Context(), "acme", migrate.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), `INSERT INTO tenant_acme.users (email, name) SELECT 'u'||i||'@example.com', 'N' FROM generate_series(1, 30) i;
		INSERT INTO tenant_acme.posts (title, author_id) SELECT 'T', id FROM tenant_acme.users`); err != nil {
		t.Fatal(err)
	}
	dump := string(export(t, m, "acme"))
	header := strings.SplitN(dump, "\n", 3)[1]
	posts := strings.Index(dump, "TABLE \"posts\"")
	for _, tt := range []struct{ name, dump string }{
		{"empty", ""},
		{"pg_dump", "--\n-- PostgreSQL database dump\n--\nSET statement_timeout = 0;\n"},
		{"another format", "PGTENANT-DUMP 2\n{}\n"},
		{"binary", "\x00\x01\x02PGDMP"},
		{"truncated in the header", dump[:30]},
		{"truncated in the rows", dump[:posts+200]},
		{"truncated before END", dump[:strings.LastIndex(dump, "END ")]},
		{"no final newline", dump[:len(dump)-1]},
		{"altered row", strings.Replace(dump, "u7@example.com", "u7@example.org", 1)},
		{"data after END", dump + "more\n"},
		{"unknown revision", strings.Replace(dump, `"revision":["`, `"revision":["30000101000000_other","`, 1)},
		{"other application's tables", strings.Replace(dump, header, `{"format":1,"tenant":"x","revision":["20261125220704_initial"],"tables":[{"name":"orders","columns":["id"]}]}`, 1)},
		{"hostile table name", strings.Replace(dump, `"name":"users"`, `"name":"users\"; DROP SCHEMA public CASCADE; --"`, 1)},
		{"hostile column name", strings.Replace(dump, `"columns":["id","email"`, `"columns":["id","email\") FROM STDIN; DROP SCHEMA public; --"`, 1)},
		{"unknown header key", strings.Replace(dump, `{"format":1,`, `{"format":1,"extra":true,`, 1)},
		{"extra field in a row", strings.Replace(dump, "u7@example.com", "u7@example.com\tX", 1)},
		{"bad escape", strings.Replace(dump, "u7@example.com", `u7@example.com\x41`, 1)},
		{"posts before users", strings.Replace(dump, header, swapTables(t, header), 1)},
	} {
		_, err := m.ImportTenant(t.Context(), "target", strings.NewReader(tt.dump))
		if err == nil {
			t.Errorf("%s: import succeeded", tt.name)
			continue
		}
		if !errors.Is(err, migrate.ErrBadDump) {
			t.Errorf("%s: err = %v; want ErrBadDump", tt.name, err)
		}
		if s := directoryStatus(t, db, "target"); s != "absent" || schemaExists(t, db, "tenant_target") {
			t.Fatalf("%s: the failed import (%v) left the directory row %s or a schema", tt.name, err, s)
		}
	}
	for _, id := range []string{"Target", "t;DROP", ""} {
		if _, err := m.ImportTenant(t.Context(), id, strings.NewReader(dump)); !errors.Is(err, tenant.ErrInvalidID) {
			t.Errorf("ImportTenant(%q): err = %v; want ErrInvalidID", id, err)
		}
		if err := m.ExportTenant(t.Context(), id, &bytes.Buffer{}); !errors.Is(err, tenant.ErrInvalidID) {
			t.Errorf("ExportTenant(%q): err = %v; want ErrInvalidID", id, err)
		}
	}
	if err := m.ExportTenant(t.Context(), "nobody", &bytes.Buffer{}); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("ExportTenant(nobody): err = %v; want ErrNotFound", err)
	}
}

// swapTables returns the dump header with its two tables in reverse order.
func swapTables(t *testing.T, header string) string {
	var h map[string]any
	if err := json.Unmarshal([]byte(header), &h); err != nil {
		t.Fatal(err)
	}
	tables := h["tables"].([]any)
	slices.Reverse(tables)
	b, _ := json.Marshal(h)
	return string(b)
}
