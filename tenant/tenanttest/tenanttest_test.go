package tenanttest

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/lib/pq"
)

func TestNewDatabaseIsFreshAndSeparate(t *testing.T) {
	a, b := NewDatabase(t), NewDatabase(t)
	if a.Database == b.Database {
		t.Fatalf("NewDatabase returned %q twice", a.Database)
	}
	db := Open(t, a)
	var name string
	if err := db.QueryRowContext(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != a.Database {
		t.Fatalf("connected to %q; want %q", name, a.Database)
	}
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("new database has %d public tables; want 0", n)
	}
}

func TestDefaultIsolation(t *testing.T) {
	for _, level := range []sql.IsolationLevel{sql.LevelRepeatableRead, sql.LevelSerializable} {
		for name, cfg := range map[string]pq.Config{
			"NewDatabase":            NewDatabase(t, DefaultIsolation(level)),
			"Migrations.NewDatabase": Migrations{}.NewDatabase(t, DefaultIsolation(level)),
		} {
			var got string
			if err := Open(t, cfg).QueryRowContext(t.Context(), "SHOW transaction_isolation").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if want := strings.ToLower(level.String()); got != want {
				t.Errorf("%s(DefaultIsolation(%s)): transaction_isolation = %q; want %q", name, level, got, want)
			}
		}
	}
	if _, err := settings([]DatabaseOption{DefaultIsolation(sql.LevelSnapshot)}); err == nil {
		t.Error("DefaultIsolation(snapshot) accepted; want an error")
	}
}
