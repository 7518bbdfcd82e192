CREATE TABLE "backup"."drill_records" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"backup_id" text NOT NULL,
	"tenant_id" text,
	"outcome" text NOT NULL,
	"provider_used" text,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone NOT NULL,
	"durations" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"tables" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"error" jsonb,
	"restored_by_version" text NOT NULL,
	"restored_by_commit" text,
	"key_version" integer NOT NULL,
	"signature" text NOT NULL
);
--> statement-breakpoint
CREATE INDEX "drill_records_tenant_idx" ON "backup"."drill_records" USING btree ("tenant_id","finished_at");--> statement-breakpoint
CREATE INDEX "drill_records_finished_idx" ON "backup"."drill_records" USING btree ("finished_at");