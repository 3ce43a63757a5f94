package migrate_test

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// countersTrack is the embedded tenant track plus a table with an identity
// column, whose sequence a clone must set past the copied rows.
func countersTrack(t *testing.T) fs.FS {
	m := tenantTrack(t, false).(fstest.MapFS)
	m["99990101000000_counters.sql"] = &fstest.MapFile{Data: []byte(
		"CREATE TABLE counters (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text NOT NULL);\n")}
	return m
}

// fill writes users, posts and counters rows into tenant schema.
func fill(t *testing.T, db *sql.DB, schema string, users int) {
	t.Helper()
	q := pq.QuoteIdentifier(schema)
	_, err := db.ExecContext(t.Context(), fmt.Sprintf(`
INSERT INTO %[1]s.users (email, name, active) SELECT 'u'||i||'@example.com', E'Name\t'||i||E'\\ \n', i %% 2 = 0 FROM generate_series(1, %[2]d) i;
INSERT INTO %[1]s.posts (title, content, author_id) SELECT 'T '||email, CASE WHEN active THEN NULL ELSE 'body' END, id FROM %[1]s.users;
INSERT INTO %[1]s.counters (label) SELECT 'c'||i FROM generate_series(1, 3) i`, q, users))
	if err != nil {
		t.Fatal(err)
	}
}

// tableText returns every row of schema.table as text, sorted.
func tableText(t *testing.T, db *sql.DB, schema, table string) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT r::text FROM "+pq.QuoteIdentifier(schema)+"."+pq.QuoteIdentifier(table)+" r")
	if err != nil {
		t.Fatalf("read %s.%s: %v", schema, table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func directoryStatus(t *testing.T, db *sql.DB, id string) string {
	t.Helper()
	var s string
	err := db.QueryRowContext(t.Context(), "SELECT status FROM public.tenants WHERE id = $1", id).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return "absent"
	} else if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCloneTenant(t *testing.T) {
	forEachLevel(t, testCloneTenant)
}

func testCloneTenant(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: countersTrack(t)})
	if _, err := m.CreateTenant(t.Context(), "acme", migrate.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fill(t, db, "tenant_acme", 10)

	empty, err := m.CloneTenant(t.Context(), "acme", "blank", migrate.CloneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if empty.Status != "active" || len(tableText(t, db, "tenant_blank", "users")) != 0 {
		t.Errorf("structure-only clone: status %s, users %d", empty.Status, len(tableText(t, db, "tenant_blank", "users")))
	}
	if a, b := revisions(t, db, "tenant_acme"), revisions(t, db, "tenant_blank"); !slices.Equal(a, b) {
		t.Errorf("clone's revision %v; want the source's %v", b, a)
	}
	var rev string
	if err := db.QueryRowContext(t.Context(), "SELECT revision FROM public.tenants WHERE id = 'blank'").Scan(&rev); err != nil || rev != m.Revision() {
		t.Errorf("clone's directory revision = %q, %v; want %q", rev, err, m.Revision())
	}

	if _, err := m.CloneTenant(t.Context(), "acme", "copy", migrate.CloneOptions{WithData: true}); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"users", "posts", "counters"} {
		if a, b := tableText(t, db, "tenant_acme", table), tableText(t, db, "tenant_copy", table); !slices.Equal(a, b) || len(a) == 0 {
			t.Errorf("%s: clone has %d rows, source %d, or they differ", table, len(b), len(a))
		}
	}
	// The identity sequence continues after the copied rows.
	var id int
	if err := db.QueryRowContext(t.Context(), "INSERT INTO tenant_copy.counters (label) VALUES ('next') RETURNING id").Scan(&id); err != nil || id != 4 {
		t.Errorf("next identity in the clone = %d, %v; want 4", id, err)
	}
	// The source is untouched.
	if n := len(tableText(t, db, "tenant_acme", "counters")); n != 3 {
		t.Errorf("source counters = %d; want 3", n)
	}
	// An existing target is refused.
	if _, err := m.CloneTenant(t.Context(), "acme", "copy", migrate.CloneOptions{}); !errors.Is(err, migrate.ErrWrongStatus) {
		t.Errorf("clone onto an active tenant: err = %v; want ErrWrongStatus", err)
	}
}

// A source at an older revision is built at that revision, copied, then
// migrated forward.
func TestCloneTenantOlderRevision(t *testing.T) {
	forEachLevel(t, testCloneTenantOlderRevision)
}

func testCloneTenantOlderRevision(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	if _, err := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()}).CreateTenant(t.Context(), "old", migrate.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), "INSERT INTO tenant_old.users (email, name) VALUES ('a@example.com', 'A')"); err != nil {
		t.Fatal(err)
	}
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: tenantTrack(t, true)})
	if _, err := m.CloneTenant(t.Context(), "old", "new", migrate.CloneOptions{WithData: true}); err != nil {
		t.Fatal(err)
	}
	_, all := m.Versions()
	if got := revisions(t, db, "tenant_new"); !slices.Equal(got, all) {
		t.Errorf("clone's revision %v; want %v", got, all)
	}
	var nick sql.NullString
	if err := db.QueryRowContext(t.Context(), "SELECT nickname FROM tenant_new.users WHERE email = 'a@example.com'").Scan(&nick); err != nil || nick.Valid {
		t.Errorf("migrated clone's user: nickname %v, %v", nick, err)
	}
}

func TestCloneTenantAnonymize(t *testing.T) {
	forEachLevel(t, testCloneTenantAnonymize)
}

func testCloneTenantAnonymize(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: countersTrack(t)})
	if _, err := m.CreateTenant(t.Context(), "acme", migrate.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fill(t, db, "tenant_acme", 5)
	rules, err := migrate.ParseRules(strings.NewReader(`{
		"users": {"email": {"fake": "user-{n}@example.invalid"}, "name": {"set": "Anonymous"}},
		"posts": {"content": {"null": true}}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CloneTenant(t.Context(), "acme", "anon", migrate.CloneOptions{WithData: true, Anonymize: rules}); err != nil {
		t.Fatal(err)
	}
	var emails, names, contents, orphans int
	err = db.QueryRowContext(t.Context(), `SELECT
		(SELECT count(DISTINCT email) FROM tenant_anon.users WHERE email ~ '^user-[1-5]@example\.invalid$'),
		(SELECT count(*) FROM tenant_anon.users WHERE name = 'Anonymous'),
		(SELECT count(content) FROM tenant_anon.posts),
		(SELECT count(*) FROM tenant_anon.posts p WHERE NOT EXISTS (SELECT FROM tenant_anon.users u WHERE u.id = p.author_id))`).
		Scan(&emails, &names, &contents, &orphans)
	if err != nil || emails != 5 || names != 5 || contents != 0 || orphans != 0 {
		t.Errorf("anonymised clone: %d distinct fake e-mails, %d names, %d contents, %d orphans (%v); want 5, 5, 0, 0", emails, names, contents, orphans, err)
	}
}

// Hostile ids and rules are refused before anything is written.
func TestCloneTenantHostileInput(t *testing.T) {
	forEachLevel(t, testCloneTenantHostileInput)
}

func testCloneTenantHostileInput(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	if _, err := m.CreateTenant(t.Context(), "acme", migrate.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`{"users": {"email": {"fake": "same@example.invalid"}}}`,
		`{"users": {"email": {"null": true, "set": "x"}}}`,
		`{"users": {"email": {}}}`,
		`{"users": {"email": {"hash": true}}}`,
		`{"users": {"email": {"set": "a\u0000b"}}}`,
		`{"users": {"email": {"null": true}}} {}`,
		`[1, 2]`,
	} {
		if _, err := migrate.ParseRules(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseRules(%s): no error", bad)
		}
	}
	for _, tt := range []struct{ name, rules string }{
		{"unknown table", `{"users\"; DROP SCHEMA public; --": {"email": {"null": true}}}`},
		{"unknown column", `{"users": {"email\"": {"null": true}}}`},
		{"null in NOT NULL", `{"users": {"email": {"null": true}}}`},
		{"revision table", `{"schema_migrations": {"version": {"set": "x"}}}`},
	} {
		rules, err := migrate.ParseRules(strings.NewReader(tt.rules))
		if err != nil {
			t.Fatalf("%s: ParseRules: %v", tt.name, err)
		}
		if _, err := m.CloneTenant(t.Context(), "acme", "target", migrate.CloneOptions{WithData: true, Anonymize: rules}); err == nil {
			t.Errorf("%s: clone succeeded", tt.name)
		}
	}
	for _, ids := range [][2]string{{"acme", "Target"}, {"acme", "t'; DROP SCHEMA public; --"}, {"../acme", "target"}} {
		if _, err := m.CloneTenant(t.Context(), ids[0], ids[1], migrate.CloneOptions{}); !errors.Is(err, tenant.ErrInvalidID) {
			t.Errorf("CloneTenant(%q, %q): err = %v; want ErrInvalidID", ids[0], ids[1], err)
		}
	}
	if _, err := m.CloneTenant(t.Context(), "nobody", "target", migrate.CloneOptions{}); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("clone of an unknown tenant: err = %v; want ErrNotFound", err)
	}
	if s := directoryStatus(t, db, "target"); s != "absent" || schemaExists(t, db, "tenant_target") {
		t.Errorf("refused clones left a directory row (%s) or a schema", s)
	}
}

// A clone that fails half-way leaves the target failed without a schema;
// running it again completes it.
func TestCloneTenantFailureAndRerun(t *testing.T) {
	forEachLevel(t, testCloneTenantFailureAndRerun)
}

func testCloneTenantFailureAndRerun(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: countersTrack(t)})
	if _, err := m.CreateTenant(t.Context(), "acme", migrate.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fill(t, db, "tenant_acme", 3)
	// The rule is valid JSON for an existing column but not a uuid: the
	// copy fails inside the database, after the schema was built.
	rules, err := migrate.ParseRules(strings.NewReader(`{"users": {"id": {"set": "not-a-uuid"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CloneTenant(t.Context(), "acme", "copy", migrate.CloneOptions{WithData: true, Anonymize: rules}); err == nil {
		t.Fatal("clone with a bad value succeeded")
	}
	if s := directoryStatus(t, db, "copy"); s != "failed" || schemaExists(t, db, "tenant_copy") {
		t.Fatalf("after a failed clone: status %s, schema exists %v; want failed, false", s, schemaExists(t, db, "tenant_copy"))
	}
	if _, err := m.CreateTenant(t.Context(), "copy", migrate.CreateOptions{}); !errors.Is(err, migrate.ErrWrongStatus) {
		t.Errorf("CreateTenant of a failed clone: err = %v; want ErrWrongStatus", err)
	}
	if _, err := m.CloneTenant(t.Context(), "acme", "copy", migrate.CloneOptions{WithData: true}); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if a, b := tableText(t, db, "tenant_acme", "users"), tableText(t, db, "tenant_copy", "users"); !slices.Equal(a, b) {
		t.Errorf("re-run clone's users differ from the source's")
	}
}

// Concurrent clone and drop of the same source: either the clone completes
// with every row, or it fails and leaves the target failed without a
// schema; the source ends dropped either way.
func TestCloneTenantConcurrentDrop(t *testing.T) {
	forEachLevel(t, testCloneTenantConcurrentDrop)
}

func testCloneTenantConcurrentDrop(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: countersTrack(t)})
	outcomes := map[bool]int{}
	for i := range 4 {
		src, dst := fmt.Sprintf("src%d", i), fmt.Sprintf("dst%d", i)
		if _, err := m.CreateTenant(t.Context(), src, migrate.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		fill(t, db, "tenant_"+src, 50)
		want := tableText(t, db, "tenant_"+src, "posts")
		var wg sync.WaitGroup
		var cloneErr, dropErr error
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			_, cloneErr = m.CloneTenant(t.Context(), src, dst, migrate.CloneOptions{WithData: true})
		})
		wg.Go(func() {
			<-start
			dropErr = m.DropTenant(t.Context(), src)
		})
		close(start)
		wg.Wait()
		if dropErr != nil {
			t.Fatalf("drop %s: %v", src, dropErr)
		}
		if schemaExists(t, db, "tenant_"+src) || directoryStatus(t, db, src) != "absent" {
			t.Errorf("%s not fully dropped", src)
		}
		outcomes[cloneErr == nil]++
		switch s := directoryStatus(t, db, dst); {
		case cloneErr == nil:
			if s != "active" || !slices.Equal(tableText(t, db, "tenant_"+dst, "posts"), want) {
				t.Errorf("%s: clone succeeded but status %s or rows differ", dst, s)
			}
		case s != "failed" && s != "absent", schemaExists(t, db, "tenant_"+dst):
			t.Errorf("%s: clone failed (%v) but status %s, schema exists %v", dst, cloneErr, s, schemaExists(t, db, "tenant_"+dst))
		}
	}
	t.Logf("clone outcomes against a concurrent drop: %d succeeded, %d failed cleanly", outcomes[true], outcomes[false])

	// The clone's snapshot comes first: a transaction holding the source's
	// directory row holds the drop back until the clone is complete.
	if _, err := m.CreateTenant(t.Context(), "srcx", migrate.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fill(t, db, "tenant_srcx", 20)
	want := tableText(t, db, "tenant_srcx", "posts")
	hold, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.ExecContext(t.Context(), "SELECT FROM public.tenants WHERE id = 'srcx' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	dropped := make(chan error, 1)
	go func() { dropped <- m.DropTenant(t.Context(), "srcx") }()
	if _, err := m.CloneTenant(t.Context(), "srcx", "dstx", migrate.CloneOptions{WithData: true}); err != nil {
		t.Errorf("clone while the drop waits: %v", err)
	}
	hold.Rollback()
	if err := <-dropped; err != nil {
		t.Fatalf("drop after the clone: %v", err)
	}
	if directoryStatus(t, db, "dstx") != "active" || !slices.Equal(tableText(t, db, "tenant_dstx", "posts"), want) {
		t.Error("the clone that won the race is not complete")
	}
}

// A source being written to gives a consistent snapshot: each write adds a
// user and a post together, so the clone holds as many of each.
func TestCloneTenantConsistentSnapshot(t *testing.T) {
	forEachLevel(t, testCloneTenantConsistentSnapshot)
}

func testCloneTenantConsistentSnapshot(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	_, db := newDBAt(t, level)
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	if _, err := m.CreateTenant(t.Context(), "busy", migrate.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	wrote := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			_, err := db.ExecContext(t.Context(), `WITH u AS (
				INSERT INTO tenant_busy.users (email, name) VALUES ($1, 'W') RETURNING id)
				INSERT INTO tenant_busy.posts (title, author_id) SELECT 'P', id FROM u`, fmt.Sprintf("w%d@example.com", i))
			if err != nil {
				t.Errorf("writer: %v", err)
				return
			}
			if i == 10 {
				close(wrote)
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	})
	<-wrote
	for i := range 3 {
		if _, err := m.CloneTenant(t.Context(), "busy", fmt.Sprintf("snap%d", i), migrate.CloneOptions{WithData: true}); err != nil {
			t.Errorf("clone %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	for i := range 3 {
		s := fmt.Sprintf("tenant_snap%d", i)
		users, posts := len(tableText(t, db, s, "users")), len(tableText(t, db, s, "posts"))
		if users != posts || users < 10 {
			t.Errorf("%s: %d users, %d posts; want equal counts of at least 10", s, users, posts)
		}
	}
}
