-- The tenant directory: which tenants exist, their schema, their status and
-- the latest tenant migration applied to their schema.
CREATE TABLE IF NOT EXISTS "tenants" (
	"id" character varying(48) NOT NULL,
	"schema_name" character varying(63) NOT NULL,
	"status" character varying NOT NULL DEFAULT 'provisioning',
	"status_reason" character varying NULL,
	"revision" character varying(255) NULL,
	"created_at" timestamptz NOT NULL DEFAULT now(),
	"updated_at" timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id"),
	CONSTRAINT "tenants_status_check" CHECK ("status" IN ('provisioning', 'active', 'suspended', 'dropping', 'failed'))
);
CREATE UNIQUE INDEX IF NOT EXISTS "tenants_schema_name_key" ON "tenants" ("schema_name");
CREATE INDEX IF NOT EXISTS "tenant_status" ON "tenants" ("status");
-- Announce every change of the directory that changes what may be served: a
-- row inserted or deleted, or a change of its id, status or schema_name,
-- whoever makes it (the migrator, the API or a manual UPDATE). Registries
-- LISTEN on tenant_directory (tenant.DirectoryChannel) and forget what they
-- cached about the tenant named in the payload. Notifications are sent on
-- commit, and not at all by a rolled-back transaction. On a Citus cluster,
-- where public.tenants is a reference table with a copy on every node, only
-- the coordinator's copy announces: the workers' copies change in prepared
-- transactions, which cannot notify.
CREATE OR REPLACE FUNCTION "tenants_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	coordinator boolean;
BEGIN
	IF to_regproc('pg_catalog.citus_is_coordinator') IS NOT NULL THEN
		EXECUTE 'SELECT pg_catalog.citus_is_coordinator()' INTO coordinator;
		IF NOT coordinator THEN
			RETURN NULL;
		END IF;
	END IF;
	IF TG_OP = 'DELETE' THEN
		PERFORM pg_notify('tenant_directory', OLD.id);
	ELSE
		PERFORM pg_notify('tenant_directory', NEW.id);
		IF TG_OP = 'UPDATE' AND NEW.id <> OLD.id THEN
			PERFORM pg_notify('tenant_directory', OLD.id);
		END IF;
	END IF;
	RETURN NULL;
END
$$;
-- Inserts and deletes.
CREATE OR REPLACE TRIGGER "tenants_notify_insert_delete" AFTER INSERT OR DELETE ON "tenants"
	FOR EACH ROW EXECUTE FUNCTION "tenants_notify"();
-- Updates that change who is served, and only those: an update that sets a
-- column to the value it had (re-creating an active tenant, say) is silent.
CREATE OR REPLACE TRIGGER "tenants_notify_update" AFTER UPDATE OF "id", "status", "schema_name" ON "tenants"
	FOR EACH ROW
	WHEN (OLD."id" IS DISTINCT FROM NEW."id" OR OLD."status" IS DISTINCT FROM NEW."status" OR OLD."schema_name" IS DISTINCT FROM NEW."schema_name")
	EXECUTE FUNCTION "tenants_notify"();
-- The tenants' API keys (package tenant/apikey): only the SHA-256 of a key is
-- stored; a key goes with its tenant.
CREATE TABLE IF NOT EXISTS "api_keys" (
	"id" uuid NOT NULL DEFAULT gen_random_uuid(),
	"prefix" character varying(16) NOT NULL,
	"hash" bytea NOT NULL,
	"name" character varying(100) NOT NULL DEFAULT '',
	"created_at" timestamptz NOT NULL DEFAULT now(),
	"expires_at" timestamptz NULL,
	"last_used_at" timestamptz NULL,
	"revoked_at" timestamptz NULL,
	"tenant_id" character varying(48) NOT NULL,
	PRIMARY KEY ("id"),
	CONSTRAINT "api_keys_tenants_tenant" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON UPDATE NO ACTION ON DELETE CASCADE
);
CREATE UNIQUE INDEX IF NOT EXISTS "api_keys_prefix_key" ON "api_keys" ("prefix");
CREATE INDEX IF NOT EXISTS "apikey_tenant_id" ON "api_keys" ("tenant_id");
