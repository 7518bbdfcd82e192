ALTER TABLE "backup"."alerts" ADD COLUMN "dedup_key" text;--> statement-breakpoint
CREATE UNIQUE INDEX "alerts_dedup_key_uq" ON "backup"."alerts" USING btree ("dedup_key");