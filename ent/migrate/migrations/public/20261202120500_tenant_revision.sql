-- Modify "tenants" table
ALTER TABLE "tenants" ADD COLUMN "revision" character varying(255) NULL;
-- Record the latest tenant migration each existing tenant schema has applied (hand-written)
DO $$
DECLARE
	t record;
	v text;
BEGIN
	FOR t IN SELECT "id", "schema_name" FROM "tenants" LOOP
		IF to_regclass(format('%I.schema_migrations', t.schema_name)) IS NOT NULL THEN
			EXECUTE format('SELECT max(version) FROM %I.schema_migrations', t.schema_name) INTO v;
			UPDATE "tenants" SET "revision" = v WHERE "id" = t.id;
		END IF;
	END LOOP;
END
$$;
