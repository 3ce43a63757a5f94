-- Announce every change of the tenant directory that changes what may be
-- served: a row inserted or deleted, or a change of its id, status or
-- schema_name, whoever makes it (the migrator, the API or a manual UPDATE).
-- Registries LISTEN on tenant_directory (tenant.DirectoryChannel) and forget
-- what they cached about the tenant named in the payload. Notifications are
-- sent on commit, and not at all by a rolled-back transaction. On a Citus
-- cluster, where public.tenants is a reference table with a copy on every
-- node, only the coordinator's copy announces: the workers' copies change in
-- prepared transactions, which cannot notify.
CREATE FUNCTION "tenants_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER "tenants_notify_insert_delete" AFTER INSERT OR DELETE ON "tenants"
	FOR EACH ROW EXECUTE FUNCTION "tenants_notify"();
-- Updates that change who is served, and only those: an update that sets a
-- column to the value it had (re-creating an active tenant, say) is silent.
CREATE TRIGGER "tenants_notify_update" AFTER UPDATE OF "id", "status", "schema_name" ON "tenants"
	FOR EACH ROW
	WHEN (OLD."id" IS DISTINCT FROM NEW."id" OR OLD."status" IS DISTINCT FROM NEW."status" OR OLD."schema_name" IS DISTINCT FROM NEW."schema_name")
	EXECUTE FUNCTION "tenants_notify"();
