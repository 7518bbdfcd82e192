CREATE TABLE "backup"."alert_deliveries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"alert_id" text,
	"channel" text NOT NULL,
	"kind" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"payload" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "backup"."alert_keys" (
	"key" text PRIMARY KEY NOT NULL,
	"alert_id" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "backup"."alerts" ADD COLUMN "group_key" text;--> statement-breakpoint
ALTER TABLE "backup"."alerts" ADD COLUMN "occurrences" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "backup"."alerts" ADD COLUMN "last_raised_at" timestamp with time zone;--> statement-breakpoint
CREATE UNIQUE INDEX "alert_deliveries_key_uq" ON "backup"."alert_deliveries" USING btree ("key");--> statement-breakpoint
CREATE INDEX "alert_deliveries_due_idx" ON "backup"."alert_deliveries" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE UNIQUE INDEX "alerts_group_open_uq" ON "backup"."alerts" USING btree ("group_key") WHERE "backup"."alerts"."resolved_at" is null;--> statement-breakpoint
-- the keys raised before this table existed keep deduplicating
INSERT INTO "backup"."alert_keys" ("key", "alert_id", "at") SELECT "dedup_key", "id", "raised_at" FROM "backup"."alerts" WHERE "dedup_key" IS NOT NULL;
