package tenant

import (
	"testing"

	"github.com/pgtenant/pgtenant/ent/migrate"
)

func TestTablesPartitionTheGraph(t *testing.T) {
	seen := map[string]int{}
	for _, tb := range TenantTables() {
		seen[tb.Name]++
	}
	for _, tb := range PublicTables() {
		seen[tb.Name]++
	}
	for _, tb := range migrate.Tables {
		if seen[tb.Name] != 1 {
			t.Errorf("table %q is in %d of TenantTables and PublicTables; want exactly 1", tb.Name, seen[tb.Name])
		}
		delete(seen, tb.Name)
	}
	for name := range seen {
		t.Errorf("table %q is listed but not in the Ent graph", name)
	}
}
