-- Create "plans" table
CREATE TABLE "plans" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(100) NOT NULL, "max_users" character varying(50) NULL, "price" character varying(50) NULL, PRIMARY KEY ("id"));
-- Create "tenants" table
CREATE TABLE "tenants" ("id" character varying(48) NOT NULL, "schema_name" character varying(63) NOT NULL, "status" character varying NOT NULL DEFAULT 'provisioning', "created_at" timestamptz NOT NULL DEFAULT now(), "updated_at" timestamptz NOT NULL DEFAULT now(), "plan_id" uuid NULL, PRIMARY KEY ("id"), CONSTRAINT "tenants_plans_tenants" FOREIGN KEY ("plan_id") REFERENCES "plans" ("id") ON UPDATE NO ACTION ON DELETE RESTRICT);
-- Create index "tenant_status" to table: "tenants"
CREATE INDEX "tenant_status" ON "tenants" ("status");
-- Create index "tenants_schema_name_key" to table: "tenants"
CREATE UNIQUE INDEX "tenants_schema_name_key" ON "tenants" ("schema_name");
