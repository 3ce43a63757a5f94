package tenanttest

import "testing"

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
