CREATE SCHEMA IF NOT EXISTS "backup";
--> statement-breakpoint
CREATE TYPE "backup"."backup_status" AS ENUM('pending', 'running', 'completed', 'degraded', 'failed', 'expired', 'deleted');--> statement-breakpoint
CREATE TYPE "backup"."backup_type" AS ENUM('tenant', 'customer', 'disaster');--> statement-breakpoint
CREATE TYPE "backup"."restore_status" AS ENUM('pending', 'verifying', 'snapshotting', 'restoring', 'completed', 'partial', 'failed', 'rolled_back');--> statement-breakpoint
CREATE TYPE "backup"."restore_type" AS ENUM('individual', 'multiple', 'full');--> statement-breakpoint
CREATE TYPE "backup"."verification_status" AS ENUM('pending', 'verified', 'partial', 'failed');--> statement-breakpoint
CREATE TABLE "backup"."alerts" (
	"id" text PRIMARY KEY NOT NULL,
	"raised_at" timestamp with time zone DEFAULT now() NOT NULL,
	"severity" text NOT NULL,
	"code" text NOT NULL,
	"message" text NOT NULL,
	"context" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"acknowledged_at" timestamp with time zone,
	"acknowledged_by" text,
	"resolved_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "backup"."audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"target_type" text,
	"target_id" text,
	"tenant_id" text,
	"outcome" text DEFAULT 'ok' NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "backup"."backup_records" (
	"id" text PRIMARY KEY NOT NULL,
	"backup_type" "backup"."backup_type" NOT NULL,
	"tenant_id" text,
	"filename" text NOT NULL,
	"file_size" bigint DEFAULT 0 NOT NULL,
	"checksum" text DEFAULT '' NOT NULL,
	"encryption_key_id" text NOT NULL,
	"b2_location" text,
	"r2_location" text,
	"local_path" text,
	"providers" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"key_sidecar" jsonb,
	"status" "backup"."backup_status" DEFAULT 'pending' NOT NULL,
	"verification_status" "backup"."verification_status" DEFAULT 'pending' NOT NULL,
	"error_message" text,
	"purpose" text DEFAULT 'on_demand' NOT NULL,
	"period" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"verified_at" timestamp with time zone,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "backup"."customer_exports" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"requested_by" text NOT NULL,
	"day" date NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"local_path" text,
	"file_size" bigint,
	"checksum" text,
	"download_token_hash" text,
	"error_message" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ready_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"downloaded_at" timestamp with time zone,
	"download_count" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "backup"."restore_operations" (
	"id" text PRIMARY KEY NOT NULL,
	"backup_record_id" text,
	"restore_type" "backup"."restore_type" NOT NULL,
	"target_tenants" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"storage_provider" text NOT NULL,
	"provider_used" text,
	"target_db" text,
	"status" "backup"."restore_status" DEFAULT 'pending' NOT NULL,
	"progress_percentage" integer DEFAULT 0 NOT NULL,
	"bytes_total" bigint DEFAULT 0 NOT NULL,
	"bytes_done" bigint DEFAULT 0 NOT NULL,
	"rows_done" bigint DEFAULT 0 NOT NULL,
	"error_message" text,
	"outcomes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"initiated_by" text NOT NULL,
	"initiated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	"rollback_available" boolean DEFAULT false NOT NULL,
	"rollback_data" jsonb
);
--> statement-breakpoint
CREATE TABLE "backup"."schedule_runs" (
	"schedule" text NOT NULL,
	"period" text NOT NULL,
	"fired_at" timestamp with time zone DEFAULT now() NOT NULL,
	"fired_by" text NOT NULL,
	CONSTRAINT "schedule_runs_schedule_period_pk" PRIMARY KEY("schedule","period")
);
--> statement-breakpoint
CREATE TABLE "backup"."settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text
);
--> statement-breakpoint
CREATE TABLE "backup"."storage_samples" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"taken_at" timestamp with time zone DEFAULT now() NOT NULL,
	"provider" text NOT NULL,
	"tenant_id" text,
	"backup_type" text,
	"bytes" bigint NOT NULL,
	"objects" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "backup"."tenant_keys" (
	"tenant_id" text NOT NULL,
	"key_version" integer NOT NULL,
	"seed" "bytea" NOT NULL,
	"master_version" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retired_at" timestamp with time zone,
	CONSTRAINT "tenant_keys_tenant_id_key_version_pk" PRIMARY KEY("tenant_id","key_version")
);
--> statement-breakpoint
CREATE TABLE "backup"."verifications" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"backup_id" text NOT NULL,
	"provider" text NOT NULL,
	"depth" text NOT NULL,
	"ok" boolean NOT NULL,
	"detail" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "backup"."restore_operations" ADD CONSTRAINT "restore_operations_backup_record_id_backup_records_id_fk" FOREIGN KEY ("backup_record_id") REFERENCES "backup"."backup_records"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "alerts_open_idx" ON "backup"."alerts" USING btree ("resolved_at","raised_at");--> statement-breakpoint
CREATE INDEX "audit_log_at_idx" ON "backup"."audit_log" USING btree ("at");--> statement-breakpoint
CREATE INDEX "audit_log_tenant_idx" ON "backup"."audit_log" USING btree ("tenant_id","at");--> statement-breakpoint
CREATE INDEX "backup_records_tenant_created_idx" ON "backup"."backup_records" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "backup_records_type_status_idx" ON "backup"."backup_records" USING btree ("backup_type","status");--> statement-breakpoint
CREATE UNIQUE INDEX "backup_records_period_uq" ON "backup"."backup_records" USING btree ("backup_type","tenant_id","period") WHERE "backup"."backup_records"."period" is not null and "backup"."backup_records"."status" <> 'failed';--> statement-breakpoint
CREATE UNIQUE INDEX "customer_exports_tenant_day_uq" ON "backup"."customer_exports" USING btree ("tenant_id","day");--> statement-breakpoint
CREATE INDEX "restore_operations_initiated_idx" ON "backup"."restore_operations" USING btree ("initiated_at");--> statement-breakpoint
CREATE INDEX "storage_samples_taken_idx" ON "backup"."storage_samples" USING btree ("taken_at","provider");--> statement-breakpoint
CREATE INDEX "verifications_backup_idx" ON "backup"."verifications" USING btree ("backup_id","at");