package migrate_test

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"github.com/pgtenant/pgtenant/tenant/migrate"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// TestSchemaDDL migrates public and one tenant into an empty database and
// checks from the catalogs that every table is in its schema only, with the
// exact columns, types, lengths, nullability, defaults, indexes and keys of
// the specification.
func TestSchemaDDL(t *testing.T) { forEachLevel(t, testSchemaDDL) }

func testSchemaDDL(t *testing.T, level sql.IsolationLevel) {
	t.Parallel()
	db := tenanttest.Open(t, tenanttest.NewDatabase(t, tenanttest.DefaultIsolation(level)))
	m := migrate.New(db, migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()})
	if err := m.MigratePublic(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.MigrateTenant(t.Context(), "acme"); err != nil {
		t.Fatal(err)
	}
	// Every other schema of the database, for tables that landed elsewhere.
	const others = `table_schema NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`
	checks := []struct {
		name, query, want string
	}{
		{
			name: "columns",
			query: `SELECT table_schema, table_name, column_name, data_type,
	coalesce(character_maximum_length::text, ''), is_nullable, coalesce(column_default, '')
FROM information_schema.columns WHERE ` + others + ` ORDER BY 1, 2, ordinal_position`,
			want: `
public|api_keys|id|uuid||NO|gen_random_uuid()
public|api_keys|prefix|character varying|16|NO|
public|api_keys|hash|bytea||NO|
public|api_keys|name|character varying|100|NO|''::character varying
public|api_keys|created_at|timestamp with time zone||NO|now()
public|api_keys|expires_at|timestamp with time zone||YES|
public|api_keys|last_used_at|timestamp with time zone||YES|
public|api_keys|revoked_at|timestamp with time zone||YES|
public|api_keys|tenant_id|character varying|48|NO|
public|plans|id|uuid||NO|gen_random_uuid()
public|plans|name|character varying|100|NO|
public|plans|max_users|character varying|50|YES|
public|plans|price|character varying|50|YES|
public|schema_migrations|version|text||NO|
public|schema_migrations|checksum|text||NO|
public|schema_migrations|applied_at|timestamp with time zone||NO|now()
public|tenant_plans|tenant_id|character varying|48|NO|
public|tenant_plans|plan_id|uuid||NO|
public|tenants|id|character varying|48|NO|
public|tenants|schema_name|character varying|63|NO|
public|tenants|status|character varying||NO|'provisioning'::character varying
public|tenants|status_reason|character varying||YES|
public|tenants|revision|character varying|255|YES|
public|tenants|created_at|timestamp with time zone||NO|now()
public|tenants|updated_at|timestamp with time zone||NO|now()
tenant_acme|posts|id|uuid||NO|gen_random_uuid()
tenant_acme|posts|title|character varying|255|NO|
tenant_acme|posts|content|character varying|5000|YES|
tenant_acme|posts|created_at|timestamp with time zone||NO|now()
tenant_acme|posts|author_id|uuid||YES|
tenant_acme|schema_migrations|version|text||NO|
tenant_acme|schema_migrations|checksum|text||NO|
tenant_acme|schema_migrations|applied_at|timestamp with time zone||NO|now()
tenant_acme|users|id|uuid||NO|gen_random_uuid()
tenant_acme|users|email|character varying|255|NO|
tenant_acme|users|name|character varying|255|NO|
tenant_acme|users|active|boolean||NO|true
tenant_acme|users|created_at|timestamp with time zone||NO|now()`,
		},
		{
			name: "indexes",
			query: `SELECT schemaname, tablename, indexdef FROM pg_indexes
WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 2, 3`,
			want: `
public|api_keys|CREATE INDEX apikey_tenant_id ON public.api_keys USING btree (tenant_id)
public|api_keys|CREATE UNIQUE INDEX api_keys_pkey ON public.api_keys USING btree (id)
public|api_keys|CREATE UNIQUE INDEX api_keys_prefix_key ON public.api_keys USING btree (prefix)
public|plans|CREATE UNIQUE INDEX plans_pkey ON public.plans USING btree (id)
public|schema_migrations|CREATE UNIQUE INDEX schema_migrations_pkey ON public.schema_migrations USING btree (version)
public|tenant_plans|CREATE UNIQUE INDEX tenant_plans_pkey ON public.tenant_plans USING btree (tenant_id)
public|tenants|CREATE INDEX tenant_status ON public.tenants USING btree (status)
public|tenants|CREATE UNIQUE INDEX tenants_pkey ON public.tenants USING btree (id)
public|tenants|CREATE UNIQUE INDEX tenants_schema_name_key ON public.tenants USING btree (schema_name)
tenant_acme|posts|CREATE INDEX post_author_id ON tenant_acme.posts USING btree (author_id)
tenant_acme|posts|CREATE UNIQUE INDEX posts_pkey ON tenant_acme.posts USING btree (id)
tenant_acme|schema_migrations|CREATE UNIQUE INDEX schema_migrations_pkey ON tenant_acme.schema_migrations USING btree (version)
tenant_acme|users|CREATE UNIQUE INDEX users_email_key ON tenant_acme.users USING btree (email)
tenant_acme|users|CREATE UNIQUE INDEX users_pkey ON tenant_acme.users USING btree (id)`,
		},
		{
			// pg_get_constraintdef qualifies a referenced table outside
			// search_path, so the FK shows it stays inside its schema.
			name: "constraints",
			query: `SELECT n.nspname, cl.relname, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace JOIN pg_class cl ON cl.oid = c.conrelid
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 2, 3`,
			want: `
public|api_keys|api_keys_pkey|PRIMARY KEY (id)
public|api_keys|api_keys_tenants_tenant|FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE
public|plans|plans_pkey|PRIMARY KEY (id)
public|schema_migrations|schema_migrations_pkey|PRIMARY KEY (version)
public|tenant_plans|tenant_plans_pkey|PRIMARY KEY (tenant_id)
public|tenant_plans|tenant_plans_plans_tenants|FOREIGN KEY (plan_id) REFERENCES plans(id) ON DELETE RESTRICT
public|tenants|tenants_pkey|PRIMARY KEY (id)
public|tenants|tenants_status_check|CHECK (((status)::text = ANY ((ARRAY['provisioning'::character varying, 'active'::character varying, 'suspended'::character varying, 'dropping'::character varying, 'failed'::character varying])::text[])))
tenant_acme|posts|posts_pkey|PRIMARY KEY (id)
tenant_acme|posts|posts_users_posts|FOREIGN KEY (author_id) REFERENCES tenant_acme.users(id)
tenant_acme|schema_migrations|schema_migrations_pkey|PRIMARY KEY (version)
tenant_acme|users|users_email_lower|CHECK (((email)::text = lower((email)::text)))
tenant_acme|users|users_pkey|PRIMARY KEY (id)`,
		},
	}
	for _, c := range checks {
		got := rowsText(t, db, c.query)
		if want := strings.TrimSpace(c.want); got != want {
			t.Errorf("%s:\ngot\n%s\nwant\n%s", c.name, got, want)
		}
	}
}

// rowsText renders every row of query as |-separated text, one per line.
func rowsText(t *testing.T, db *sql.DB, query string) string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var lines []string
	for rows.Next() {
		vals := make([]string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Join(vals, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
