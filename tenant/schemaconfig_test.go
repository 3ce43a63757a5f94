package tenant

import (
	"reflect"
	"testing"

	"github.com/pgtenant/pgtenant/ent"
)

// TestQualifiedSchemaConfigCoversEveryTable checks that the schema config of
// Qualified mode places every table of the Ent graph, tenant tables in the
// tenant's schema and the others in public.
func TestQualifiedSchemaConfigCoversEveryTable(t *testing.T) {
	const s = "tenant_x"
	sc := reflect.ValueOf(qualifiedSchemaConfig(s))
	if got, want := sc.NumField(), len(TenantTables())+len(PublicTables()); got != want {
		t.Fatalf("ent.SchemaConfig has %d fields, the table lists %d tables", got, want)
	}
	count := map[string]int{}
	for i := range sc.NumField() {
		v := sc.Field(i).String()
		if v == "" {
			t.Errorf("qualifiedSchemaConfig leaves %s unqualified", sc.Type().Field(i).Name)
		}
		count[v]++
	}
	if count[s] != len(TenantTables()) || count["public"] != len(PublicTables()) {
		t.Errorf("qualifiedSchemaConfig places %d tables in the tenant schema and %d in public; want %d and %d",
			count[s], count["public"], len(TenantTables()), len(PublicTables()))
	}
	// The shared client qualifies exactly the public tables.
	shared := reflect.ValueOf(sharedSchemaConfig())
	n := 0
	for i := range shared.NumField() {
		if v := shared.Field(i).String(); v != "" {
			n++
			if v != "public" {
				t.Errorf("sharedSchemaConfig places %s in %q", shared.Type().Field(i).Name, v)
			}
		}
	}
	if n != len(PublicTables()) {
		t.Errorf("sharedSchemaConfig qualifies %d tables; want %d", n, len(PublicTables()))
	}
	var _ ent.SchemaConfig = qualifiedSchemaConfig(s)
}
