// The backup system's own tables, in their own Postgres schema (`backup`), apart from the
// platform's tables. The buckets are the source of truth; these tables are an index over them
// plus the state of operations (restores, exports), keys, audit and alerts.
import { sql } from "drizzle-orm";
import { bigint, bigserial, boolean, customType, date, index, integer, jsonb, pgSchema, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

export const backupSchema = pgSchema("backup");

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => "bytea" });
const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

export const backupType = backupSchema.enum("backup_type", ["tenant", "customer", "disaster"]);
export const backupStatus = backupSchema.enum("backup_status", [
  "pending",
  "running",
  "completed",
  "degraded", // stored in fewer providers than configured; storage-svc heals it
  "spooled", // no provider took it: the sealed artifact waits in the local spool until storage-svc uploads it
  "failed",
  "expired",
  "deleted",
]);
export const verificationStatus = backupSchema.enum("verification_status", ["pending", "verified", "partial", "failed"]);
export const restoreStatus = backupSchema.enum("restore_status", [
  "pending",
  "verifying",
  "snapshotting",
  "restoring",
  "completed",
  "partial", // several tenants: some completed, some failed
  "failed",
  "rolled_back",
]);
export const restoreType = backupSchema.enum("restore_type", ["individual", "multiple", "full"]);

/** Per-provider state of one artifact, kept in `backup_records.providers`. */
export interface ProviderCopy {
  location: string; // object key in that provider's bucket
  status: "stored" | "missing" | "failed" | "corrupt";
  size?: number;
  sha256?: string;
  verification?: "pending" | "verified" | "failed";
  verifiedAt?: string;
  deepVerifiedAt?: string;
  error?: string;
}

export const backupRecords = backupSchema.table(
  "backup_records",
  {
    id: text("id").primaryKey(), // bkp_…
    backupType: backupType("backup_type").notNull(),
    tenantId: text("tenant_id"), // null for disaster recovery
    filename: text("filename").notNull(),
    fileSize: bigint("file_size", { mode: "number" }).notNull().default(0),
    checksum: text("checksum").notNull().default(""), // SHA-256 (hex) of the ciphertext
    encryptionKeyId: text("encryption_key_id").notNull(), // dekId (hex) of the BKP1 header
    b2Location: text("b2_location"),
    r2Location: text("r2_location"),
    localPath: text("local_path"), // customer exports only
    providers: jsonb("providers").$type<Record<string, ProviderCopy>>().notNull().default({}),
    keySidecar: jsonb("key_sidecar").$type<Record<string, unknown>>(),
    status: backupStatus("status").notNull().default("pending"),
    verificationStatus: verificationStatus("verification_status").notNull().default("pending"),
    errorMessage: text("error_message"),
    /** Why it exists: scheduled, on_demand, pre_restore (rollback point of a restore). */
    purpose: text("purpose").notNull().default("on_demand"),
    /** Dedup key of a scheduled run (e.g. the day), so a period yields one backup per tenant. */
    period: text("period"),
    createdAt: tstz("created_at").notNull().defaultNow(),
    completedAt: tstz("completed_at"),
    expiresAt: tstz("expires_at"),
    verifiedAt: tstz("verified_at"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [
    index("backup_records_tenant_created_idx").on(t.tenantId, t.createdAt),
    index("backup_records_type_status_idx").on(t.backupType, t.status),
    uniqueIndex("backup_records_period_uq")
      .on(t.backupType, t.tenantId, t.period)
      .where(sql`${t.period} is not null and ${t.status} <> 'failed'`),
  ],
);

export const restoreOperations = backupSchema.table(
  "restore_operations",
  {
    id: text("id").primaryKey(), // rst_…
    backupRecordId: text("backup_record_id").references(() => backupRecords.id),
    restoreType: restoreType("restore_type").notNull(),
    targetTenants: jsonb("target_tenants").$type<string[]>().notNull().default([]),
    storageProvider: text("storage_provider").notNull(), // b2 | r2 (as asked)
    providerUsed: text("provider_used"), // where the bytes finally came from (fallback recorded)
    targetDb: text("target_db"), // restore as a copy: the target, password redacted
    status: restoreStatus("status").notNull().default("pending"),
    progressPercentage: integer("progress_percentage").notNull().default(0),
    bytesTotal: bigint("bytes_total", { mode: "number" }).notNull().default(0),
    bytesDone: bigint("bytes_done", { mode: "number" }).notNull().default(0),
    rowsDone: bigint("rows_done", { mode: "number" }).notNull().default(0),
    errorMessage: text("error_message"),
    /** Per tenant: backup used, status, rows, error. */
    outcomes: jsonb("outcomes").$type<Record<string, Record<string, unknown>>>().notNull().default({}),
    initiatedBy: text("initiated_by").notNull(),
    initiatedAt: tstz("initiated_at").notNull().defaultNow(),
    completedAt: tstz("completed_at"),
    rollbackAvailable: boolean("rollback_available").notNull().default(false),
    /** Per tenant: the pre-restore snapshot backup id. */
    rollbackData: jsonb("rollback_data").$type<Record<string, unknown>>(),
  },
  (t) => [index("restore_operations_initiated_idx").on(t.initiatedAt)],
);

/** One row per tenant per key version (bkp1-format.md, key hierarchy). Deleting a tenant's rows shreds its backups. */
export const tenantKeys = backupSchema.table(
  "tenant_keys",
  {
    tenantId: text("tenant_id").notNull(),
    keyVersion: integer("key_version").notNull(),
    seed: bytea("seed").notNull(),
    masterVersion: integer("master_version").notNull(),
    createdAt: tstz("created_at").notNull().defaultNow(),
    retiredAt: tstz("retired_at"),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.keyVersion] })],
);

export const customerExports = backupSchema.table(
  "customer_exports",
  {
    id: text("id").primaryKey(), // exp_…
    tenantId: text("tenant_id").notNull(),
    requestedBy: text("requested_by").notNull(),
    /** The tenant's calendar day of the request: one export per tenant per day, enforced by the unique index. */
    day: date("day", { mode: "string" }).notNull(),
    status: text("status").notNull().default("pending"), // pending | running | ready | failed | expired
    localPath: text("local_path"),
    fileSize: bigint("file_size", { mode: "number" }),
    checksum: text("checksum"),
    downloadTokenHash: text("download_token_hash"),
    errorMessage: text("error_message"),
    createdAt: tstz("created_at").notNull().defaultNow(),
    readyAt: tstz("ready_at"),
    expiresAt: tstz("expires_at"),
    downloadedAt: tstz("downloaded_at"),
    downloadCount: integer("download_count").notNull().default(0),
  },
  (t) => [uniqueIndex("customer_exports_tenant_day_uq").on(t.tenantId, t.day)],
);

export const auditLog = backupSchema.table(
  "audit_log",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    at: tstz("at").notNull().defaultNow(),
    actor: text("actor").notNull(), // user id, "system:<service>", or "cli:<os user>"
    action: text("action").notNull(), // e.g. restore.requested, backup.deleted
    targetType: text("target_type"),
    targetId: text("target_id"),
    tenantId: text("tenant_id"),
    outcome: text("outcome").notNull().default("ok"),
    details: jsonb("details").$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [index("audit_log_at_idx").on(t.at), index("audit_log_tenant_idx").on(t.tenantId, t.at)],
);

export const alerts = backupSchema.table(
  "alerts",
  {
    id: text("id").primaryKey(), // alr_…
    raisedAt: tstz("raised_at").notNull().defaultNow(),
    severity: text("severity").notNull(), // info | warning | critical
    code: text("code").notNull(),
    message: text("message").notNull(),
    context: jsonb("context").$type<Record<string, unknown>>().notNull().default({}),
    acknowledgedAt: tstz("acknowledged_at"),
    acknowledgedBy: text("acknowledged_by"),
    resolvedAt: tstz("resolved_at"),
    /** What the alert is about, when one thing must raise one alert (`job:<message id>`); NULL: no deduplication. */
    dedupKey: text("dedup_key"),
    /**
     * The condition it reports (`tenant_backup_failed:<tenant>`): while it is open, the same condition
     * raised again counts here (`occurrences`) instead of raising a second alert; resolved, the next one is new.
     */
    groupKey: text("group_key"),
    occurrences: integer("occurrences").notNull().default(1),
    lastRaisedAt: tstz("last_raised_at"),
  },
  (t) => [
    index("alerts_open_idx").on(t.resolvedAt, t.raisedAt),
    uniqueIndex("alerts_dedup_key_uq").on(t.dedupKey),
    uniqueIndex("alerts_group_open_uq")
      .on(t.groupKey)
      .where(sql`${t.resolvedAt} is null`),
  ],
);

/**
 * Every dedup key ever raised and the alert it went into: a key raised again (a failed job's dead
 * letter after its handler's alert) changes nothing, even when its first raise only counted in a group.
 */
export const alertKeys = backupSchema.table("alert_keys", {
  key: text("key").primaryKey(),
  alertId: text("alert_id").notNull(),
  at: tstz("at").notNull().defaultNow(),
});

/**
 * Notifications of alerts to the configured channels (webhook, email), one row per alert, kind and
 * channel: its attempts and outcome. A row that failed every attempt is `dead` and keeps its payload
 * (the dead letter: nothing is lost; `redeliverDeadAlerts` sends it again).
 */
export const alertDeliveries = backupSchema.table(
  "alert_deliveries",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    /** `<kind>:<alert id or day>:<channel>`: one delivery per alert, kind and channel. */
    key: text("key").notNull(),
    alertId: text("alert_id"), // null: a daily summary
    channel: text("channel").notNull(), // webhook | email
    kind: text("kind").notNull(), // raised | resolved | summary
    status: text("status").notNull().default("pending"), // pending | delivered | dead
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: tstz("next_attempt_at").notNull().defaultNow(),
    lastError: text("last_error"),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    createdAt: tstz("created_at").notNull().defaultNow(),
    deliveredAt: tstz("delivered_at"),
  },
  (t) => [uniqueIndex("alert_deliveries_key_uq").on(t.key), index("alert_deliveries_due_idx").on(t.status, t.nextAttemptAt)],
);

/** Schedules, retention and other runtime settings, as JSON values by key. */
export const settings = backupSchema.table("settings", {
  key: text("key").primaryKey(),
  value: jsonb("value").notNull(),
  updatedAt: tstz("updated_at").notNull().defaultNow(),
  updatedBy: text("updated_by"),
});

/** A schedule fires once per period, whatever the number of replicas: the first insert wins. */
export const scheduleRuns = backupSchema.table(
  "schedule_runs",
  {
    schedule: text("schedule").notNull(),
    period: text("period").notNull(),
    firedAt: tstz("fired_at").notNull().defaultNow(),
    firedBy: text("fired_by").notNull(),
  },
  (t) => [primaryKey({ columns: [t.schedule, t.period] })],
);

/** Verification results, one row per check (keyless or deep) per provider. */
export const verifications = backupSchema.table(
  "verifications",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    backupId: text("backup_id").notNull(),
    provider: text("provider").notNull(),
    depth: text("depth").notNull(), // keyless | deep
    ok: boolean("ok").notNull(),
    detail: text("detail"),
    at: tstz("at").notNull().defaultNow(),
  },
  (t) => [index("verifications_backup_idx").on(t.backupId, t.at)],
);

/** Storage usage samples for analytics (growth over time). */
export const storageSamples = backupSchema.table(
  "storage_samples",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    takenAt: tstz("taken_at").notNull().defaultNow(),
    provider: text("provider").notNull(),
    tenantId: text("tenant_id"), // null: the provider's total
    backupType: text("backup_type"),
    bytes: bigint("bytes", { mode: "number" }).notNull(),
    objects: integer("objects").notNull(),
  },
  (t) => [index("storage_samples_taken_idx").on(t.takenAt, t.provider)],
);

/**
 * Sessions revoked before they expire (`hesaab sessions revoke`): the gateway refuses a token whose
 * `jti` is here. `expires_at` is when every token that jti can name has expired anyway (its kind's
 * maximum lifetime after the revocation): a row past it can go, and revoking prunes them.
 */
export const revokedSessions = backupSchema.table(
  "revoked_sessions",
  {
    jti: text("jti").primaryKey(),
    kind: text("kind").notNull(), // admin | tenant | any
    revokedAt: tstz("revoked_at").notNull().defaultNow(),
    expiresAt: tstz("expires_at").notNull(),
    revokedBy: text("revoked_by").notNull(),
    reason: text("reason"),
  },
  (t) => [index("revoked_sessions_expires_idx").on(t.expiresAt)],
);

/**
 * Restore drills (packages/drills): a backup restored into a scratch database and compared with its
 * manifest, table by table. `signature` is an HMAC-SHA256 over the record's canonical JSON under a key
 * derived from the platform (DR) master key: an edited row no longer verifies (reported as tampered).
 */
export const drillRecords = backupSchema.table(
  "drill_records",
  {
    id: text("id").primaryKey(), // drl_…
    kind: text("kind").notNull(), // tenant | disaster
    backupId: text("backup_id").notNull(),
    tenantId: text("tenant_id"), // null for a disaster drill
    outcome: text("outcome").notNull(), // match | mismatch | failed
    providerUsed: text("provider_used"),
    startedAt: tstz("started_at").notNull(),
    finishedAt: tstz("finished_at").notNull(),
    /** Per phase, milliseconds (restore, checksum, total). */
    durations: jsonb("durations").$type<Record<string, number>>().notNull().default({}),
    /** Per table: expected and restored rows (and checksums for tenant drills), and whether they match. */
    tables: jsonb("tables").$type<Record<string, Record<string, unknown>>>().notNull().default({}),
    error: jsonb("error").$type<Record<string, unknown>>(),
    restoredByVersion: text("restored_by_version").notNull(),
    restoredByCommit: text("restored_by_commit"),
    /** The DR master key version the signing key was derived from. */
    keyVersion: integer("key_version").notNull(),
    signature: text("signature").notNull(),
  },
  (t) => [index("drill_records_tenant_idx").on(t.tenantId, t.finishedAt), index("drill_records_finished_idx").on(t.finishedAt)],
);
