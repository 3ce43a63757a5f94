-- Modify "tenants" table
ALTER TABLE "tenants" ADD COLUMN "status_reason" character varying NULL;
