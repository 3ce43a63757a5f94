-- Create "notebooks" table
CREATE TABLE "notebooks" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "title" character varying NOT NULL, PRIMARY KEY ("id"));
-- Create "notes" table
CREATE TABLE "notes" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "title" character varying NOT NULL, "body" text NOT NULL DEFAULT '', "notebook_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "notes_notebooks_notes" FOREIGN KEY ("notebook_id") REFERENCES "notebooks" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "note_notebook_id" to table: "notes"
CREATE INDEX "note_notebook_id" ON "notes" ("notebook_id");
