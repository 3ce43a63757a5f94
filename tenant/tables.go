package tenant

import (
	"entgo.io/ent/dialect/sql/schema"

	"github.com/pgtenant/pgtenant/ent/migrate"
)

// TenantTables returns the tables that live in every tenant schema and
// nowhere else. With PublicTables it partitions Ent's whole graph; the
// migration generator, the migrator and the Qualified mode all use these two
// lists, so a new entity is placed by adding it to one of them.
func TenantTables() []*schema.Table {
	return []*schema.Table{migrate.UsersTable, migrate.PostsTable}
}

// PublicTables returns the tables that live only in the public schema:
// shared data, the tenant directory and the tenants' API keys.
func PublicTables() []*schema.Table {
	return []*schema.Table{migrate.PlansTable, migrate.TenantsTable, migrate.APIKeysTable}
}
