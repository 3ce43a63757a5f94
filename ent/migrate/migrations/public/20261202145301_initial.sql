-- Create "plans" table
CREATE TABLE "plans" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(100) NOT NULL, "max_users" character varying(50) NULL, "price" character varying(50) NULL, PRIMARY KEY ("id"));
-- Create "tenant_plans" table
CREATE TABLE "tenant_plans" ("tenant_id" character varying(48) NOT NULL, "plan_id" uuid NOT NULL, PRIMARY KEY ("tenant_id"), CONSTRAINT "tenant_plans_plans_tenants" FOREIGN KEY ("plan_id") REFERENCES "plans" ("id") ON UPDATE NO ACTION ON DELETE RESTRICT);
