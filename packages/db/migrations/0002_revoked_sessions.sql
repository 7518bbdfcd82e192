CREATE TABLE "backup"."revoked_sessions" (
	"jti" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"revoked_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"revoked_by" text NOT NULL,
	"reason" text
);
--> statement-breakpoint
CREATE INDEX "revoked_sessions_expires_idx" ON "backup"."revoked_sessions" USING btree ("expires_at");