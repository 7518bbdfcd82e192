import { z } from "zod";
import {
  actor,
  alertId,
  backupId,
  backupPurpose,
  backupType,
  errorInfo,
  exportId,
  isoTime,
  providerName,
  providerOutcome,
  restoreId,
  sha256Hex,
  tenantId,
} from "./common";

/**
 * Every message on NATS, as `{ type, id, at, data }`. The type names the message and its version
 * (`backup.tenant.completed.v1`); a breaking change gets a new version, never an edit.
 * Commands go to the work-queue stream (subject `cmd.<type>`), events to the event stream
 * (subject `evt.<type>`).
 */
function message<T extends string, D extends z.ZodType>(type: T, data: D) {
  return z.object({
    type: z.literal(type),
    id: z.string().min(1),
    at: isoTime,
    data,
  });
}

// ---- commands (work queue; handlers must be idempotent: JetStream redelivers) ----

export const tenantBackupRequested = message(
  "backup.tenant.requested.v1",
  z
    .object({
      tenantIds: z.array(tenantId).min(1).max(10_000).optional(),
      all: z.boolean().optional(),
      purpose: backupPurpose.default("on_demand"),
      /** Dedup key: one backup per tenant per period (e.g. "2026-11-26" for the nightly run). */
      period: z.string().min(1).max(64).optional(),
      requestedBy: actor,
    })
    .refine((d) => Boolean(d.all) !== Boolean(d.tenantIds?.length), { message: "give either tenantIds or all: true" }),
);

/** One tenant's backup job, fanned out from a request; deduplicated per tenant and period. */
export const tenantBackupJob = message(
  "backup.tenant.job.v1",
  z.object({
    tenantId,
    purpose: backupPurpose,
    period: z.string().min(1).max(64).optional(),
    requestedBy: actor,
    /** The operation this belongs to (the id of the `backup.tenant.requested.v1` that queued it): live progress is keyed by it. */
    operationId: z.string().min(1).max(64).optional(),
  }),
);

export const restoreRequested = message(
  "restore.requested.v1",
  z
    .object({
      operationId: restoreId,
      tenantIds: z.array(tenantId).min(1).optional(),
      all: z.boolean().optional(),
      backupId: backupId.optional(),
      at: isoTime.optional(),
      provider: providerName.default("b2"),
      targetDb: z.string().optional(),
      /** With targetDb: copy the global tables' rows tenant rows reference from the platform first. */
      withDependencies: z.boolean().default(false),
      allowDroppedColumns: z.boolean().default(false),
      /** A dry run: each chosen backup is fetched and verified (checksum, authenticated decrypt) and reported; no database is touched. */
      verifyOnly: z.boolean().default(false),
      requestedBy: actor,
    })
    // a backup names its tenant: alone, it is enough
    .refine((d) => (d.backupId && !d.all) || Boolean(d.all) !== Boolean(d.tenantIds?.length), { message: "give either tenantIds, all: true or a backupId" })
    .refine((d) => !(d.backupId && d.at), { message: "give a backupId or a point in time, not both" }),
);

/** Puts back what a restore replaced (its pre-restore snapshots); `restore.rolled_back.v1` carries the restore's id. */
export const restoreRollbackRequested = message("restore.rollback.requested.v1", z.object({ operationId: restoreId, requestedBy: actor }));

export const customerExportRequested = message("export.customer.requested.v1", z.object({ exportId, tenantId, requestedBy: actor }));

export const disasterBackupRequested = message(
  "dr.backup.requested.v1",
  z.object({ purpose: backupPurpose.default("on_demand"), period: z.string().optional(), requestedBy: actor }),
);

/** The id of an operation started through the API; its outcome event carries it (subscribers follow one operation by it). */
const operationId = z.string().min(1).max(100);

/**
 * A disaster backup restored into a database that is not the platform's (dr-svc checks it again before
 * anything is fetched): `targetDb` is a database name on the platform's server, or a postgres URL.
 */
export const disasterRestoreRequested = message(
  "dr.restore.requested.v1",
  z
    .object({
      operationId,
      backupId: backupId.optional(),
      latest: z.boolean().optional(),
      provider: providerName.default("b2"),
      targetDb: z.string().min(1).max(2000),
      /** Restore into a database that holds objects (those of the same names are dropped first): the CLI's --force-non-empty. */
      allowNonEmpty: z.boolean().default(false),
      /** Create none of the backup's roles the target server lacks: the CLI's --skip-roles. */
      skipRoles: z.boolean().default(false),
      requestedBy: actor,
    })
    .refine((d) => Boolean(d.backupId) !== Boolean(d.latest), { message: "give a backupId or latest: true" }),
);

export const verifyRequested = message(
  "storage.verify.requested.v1",
  z.object({
    backupId: backupId.optional(),
    /** Every good backup of this tenant (instead of one backup, or all). */
    tenantId: tenantId.optional(),
    deep: z.boolean().default(false),
    /** Deep check of a sample: this percent of the good backups (instead of the configured one). */
    sample: z.number().min(0).max(100).optional(),
    /** Set by the API: `storage.verify.completed.v1` carries it. */
    operationId: operationId.optional(),
    requestedBy: actor,
  }),
);

/** Retention now, with the rules in force (the same as the schedule); `storage.retention.applied.v1` reports it. */
export const retentionRequested = message("storage.retention.requested.v1", z.object({ operationId, requestedBy: actor }));

/** New key versions and re-wrapped sidecars for the tenants named, every tenant with a key (`all`), or those behind the highest master key. */
export const keysRotateRequested = message(
  "keys.rotate.requested.v1",
  z
    .object({
      operationId,
      tenantIds: z.array(tenantId).min(1).max(10_000).optional(),
      all: z.boolean().optional(),
      behindMaster: z.boolean().optional(),
      retire: z.boolean().default(true),
      requestedBy: actor,
    })
    .refine((d) => [Boolean(d.tenantIds?.length), Boolean(d.all), Boolean(d.behindMaster)].filter(Boolean).length === 1, {
      message: "give one of tenantIds, all: true or behindMaster: true",
    }),
);

/** Crypto-shredding of one tenant: its key seeds are deleted, every backup of it becomes unreadable. */
export const keysShredRequested = message("keys.shred.requested.v1", z.object({ operationId, tenantId, requestedBy: actor }));

export const replicateRequested = message("storage.replicate.requested.v1", z.object({ backupId, reason: z.string().optional() }));

// ---- events ----

export const tenantBackupStarted = message(
  "backup.tenant.started.v1",
  z.object({ backupId, tenantId, purpose: backupPurpose, attempt: z.number().int().positive(), operationId: z.string().min(1).max(64).optional() }),
);

export const tenantBackupProgress = message(
  "backup.tenant.progress.v1",
  z.object({
    backupId,
    tenantId,
    table: z.string().optional(),
    tablesDone: z.number().int().nonnegative(),
    tablesTotal: z.number().int().nonnegative(),
    rows: z.number().int().nonnegative(),
    bytes: z.number().int().nonnegative(),
    operationId: z.string().min(1).max(64).optional(),
  }),
);

export const tenantBackupCompleted = message(
  "backup.tenant.completed.v1",
  z.object({
    backupId,
    tenantId,
    status: z.enum(["completed", "degraded"]),
    size: z.number().int().nonnegative(),
    sha256: sha256Hex,
    rows: z.number().int().nonnegative(),
    /** Bytes of the SQL script before compression (the metrics' bytes in and compression ratio); optional: added later, older events lack it. */
    sourceBytes: z.number().int().nonnegative().optional(),
    providers: z.array(providerOutcome),
    durationMs: z.number().nonnegative(),
    operationId: z.string().min(1).max(64).optional(),
  }),
);

/**
 * No provider took the backup: its sealed artifact (encrypted, never plaintext) waits in the local
 * spool, and storage-svc uploads it when a provider answers (then `backup.tenant.completed.v1`).
 */
export const tenantBackupSpooled = message(
  "backup.tenant.spooled.v1",
  z.object({
    backupId,
    tenantId,
    key: z.string().min(1),
    size: z.number().int().nonnegative(),
    sha256: sha256Hex,
    rows: z.number().int().nonnegative(),
    /** Why no provider took it. */
    error: z.string(),
    operationId: z.string().min(1).max(64).optional(),
  }),
);

export const tenantBackupFailed = message(
  "backup.tenant.failed.v1",
  z.object({
    tenantId,
    backupId: backupId.optional(),
    attempt: z.number().int().positive(),
    /** True when no retry will follow (retries exhausted or a permanent error). */
    final: z.boolean(),
    error: errorInfo,
    operationId: z.string().min(1).max(64).optional(),
  }),
);

export const artifactStored = message(
  "storage.artifact.stored.v1",
  z.object({
    backupId,
    backupType,
    tenantId: tenantId.nullable(),
    key: z.string().min(1),
    size: z.number().int().nonnegative(),
    sha256: sha256Hex,
    providers: z.array(providerOutcome),
  }),
);

export const replicaDegraded = message(
  "storage.replica.degraded.v1",
  z.object({ backupId, provider: providerName, reason: z.enum(["missing", "corrupt", "upload_failed"]), detail: z.string().optional() }),
);

export const replicaHealed = message(
  "storage.replica.healed.v1",
  z.object({ backupId, provider: providerName, copiedFrom: providerName, size: z.number().int().nonnegative() }),
);

export const verificationResult = message(
  "storage.verification.result.v1",
  z.object({
    backupId,
    provider: providerName,
    depth: z.enum(["keyless", "deep"]),
    ok: z.boolean(),
    detail: z.string().optional(),
  }),
);

export const restoreProgress = message(
  "restore.progress.v1",
  z.object({
    operationId: restoreId,
    tenantId: tenantId.optional(),
    phase: z.enum(["verifying", "snapshotting", "restoring", "checking"]),
    percentage: z.number().min(0).max(100),
    bytesDone: z.number().int().nonnegative(),
    bytesTotal: z.number().int().nonnegative(),
    rowsDone: z.number().int().nonnegative(),
  }),
);

const tenantOutcome = z.object({
  tenantId,
  ok: z.boolean(),
  backupId: backupId.optional(),
  rows: z.number().int().nonnegative().optional(),
  error: errorInfo.optional(),
});

export const restoreCompleted = message(
  "restore.completed.v1",
  z.object({ operationId: restoreId, status: z.enum(["completed", "partial"]), providerUsed: providerName.optional(), tenants: z.array(tenantOutcome) }),
);

export const restoreFailed = message("restore.failed.v1", z.object({ operationId: restoreId, error: errorInfo, tenants: z.array(tenantOutcome) }));

export const restoreRolledBack = message("restore.rolled_back.v1", z.object({ operationId: restoreId, tenants: z.array(tenantOutcome), requestedBy: actor }));

export const customerExportReady = message(
  "export.customer.ready.v1",
  z.object({ exportId, tenantId, size: z.number().int().nonnegative(), expiresAt: isoTime }),
);

/** A customer export being built: rows and tables read so far (the tenant app's live progress). */
export const customerExportProgress = message(
  "export.customer.progress.v1",
  z.object({
    exportId,
    tenantId,
    table: z.string().optional(),
    tablesDone: z.number().int().nonnegative(),
    tablesTotal: z.number().int().nonnegative(),
    rows: z.number().int().nonnegative(),
    bytes: z.number().int().nonnegative(),
  }),
);

/** A customer export that failed for good (no retry follows): the tenant app stops waiting for it. */
export const customerExportFailed = message("export.customer.failed.v1", z.object({ exportId, tenantId, error: errorInfo }));

export const customerExportExpired = message("export.customer.expired.v1", z.object({ exportId, tenantId }));

/** A disaster backup being written: bytes of the dump so far (its size is not known before it ends). */
export const disasterBackupProgress = message(
  "dr.backup.progress.v1",
  z.object({
    backupId,
    /** preparing, dumping, storing-config, verifying, recording */
    phase: z.string().min(1).max(40),
    bytes: z.number().int().nonnegative(),
    /** The request's id: live progress follows it, and the backup's outcome by its backupId. */
    operationId: z.string().min(1).max(64).optional(),
  }),
);

export const disasterBackupCompleted = message(
  "dr.backup.completed.v1",
  z.object({
    backupId,
    status: z.enum(["completed", "degraded"]),
    size: z.number().int().nonnegative(),
    sha256: sha256Hex,
    gitCommit: z.string().optional(),
    providers: z.array(providerOutcome),
    durationMs: z.number().nonnegative(),
  }),
);

export const disasterBackupFailed = message(
  "dr.backup.failed.v1",
  z.object({ backupId: backupId.optional(), attempt: z.number().int().positive(), final: z.boolean(), error: errorInfo }),
);

/** A disaster restore's step (probing, listing, fetching, restoring, checking, writing-config). */
export const disasterRestoreProgress = message(
  "dr.restore.progress.v1",
  z.object({ operationId, phase: z.string().min(1).max(40), provider: providerName.optional() }),
);

export const disasterRestoreCompleted = message(
  "dr.restore.completed.v1",
  z.object({
    operationId,
    backupId,
    /** Every table of the manifest is there with its row count. */
    ok: z.boolean(),
    /** The target, its password redacted. */
    target: z.string(),
    providerUsed: z.string(),
    fellBack: z.boolean(),
    tables: z.number().int().nonnegative(),
    mismatches: z.number().int().nonnegative(),
    durationMs: z.number().nonnegative(),
  }),
);

export const disasterRestoreFailed = message("dr.restore.failed.v1", z.object({ operationId, error: errorInfo }));

export const verifyCompleted = message(
  "storage.verify.completed.v1",
  z.object({
    operationId,
    /** Backups checked. */
    backups: z.number().int().nonnegative(),
    /** Ids of the backups with a copy that failed (lost, or a deep check failed). */
    failed: z.array(backupId),
    deep: z.boolean(),
  }),
);

/** A verification started through the API: one backup checked of those it covers. */
export const verifyProgress = message(
  "storage.verify.progress.v1",
  z.object({ operationId, backupId, done: z.number().int().nonnegative(), total: z.number().int().nonnegative(), ok: z.boolean() }),
);

export const retentionApplied = message(
  "storage.retention.applied.v1",
  z.object({
    operationId,
    deleted: z.array(backupId),
    kept: z.number().int().nonnegative(),
    failed: z.array(z.object({ backupId, error: z.string() })),
  }),
);

export const keysRotated = message(
  "keys.rotated.v1",
  z.object({
    operationId,
    tenants: z.array(
      z.object({
        tenantId,
        newKeyVersion: z.number().int().positive().optional(),
        rewrapped: z.number().int().nonnegative(),
        failures: z.number().int().nonnegative(),
      }),
    ),
  }),
);

export const keysShredded = message("keys.shredded.v1", z.object({ operationId, tenantId, versions: z.number().int().nonnegative() }));

export const keysFailed = message("keys.failed.v1", z.object({ operationId, action: z.enum(["rotate", "shred"]), error: errorInfo }));

export const alertRaised = message(
  "alert.raised.v1",
  z.object({
    alertId,
    severity: z.enum(["info", "warning", "critical"]),
    code: z.string().min(1),
    message: z.string().min(1),
    context: z.record(z.string(), z.unknown()).default({}),
  }),
);

export const commandSchemas = [
  tenantBackupRequested,
  tenantBackupJob,
  restoreRequested,
  restoreRollbackRequested,
  customerExportRequested,
  disasterBackupRequested,
  disasterRestoreRequested,
  verifyRequested,
  replicateRequested,
  retentionRequested,
  keysRotateRequested,
  keysShredRequested,
] as const;

export const eventSchemas = [
  tenantBackupStarted,
  tenantBackupProgress,
  tenantBackupCompleted,
  tenantBackupSpooled,
  tenantBackupFailed,
  artifactStored,
  replicaDegraded,
  replicaHealed,
  verificationResult,
  restoreProgress,
  restoreCompleted,
  restoreFailed,
  restoreRolledBack,
  customerExportReady,
  customerExportProgress,
  customerExportFailed,
  customerExportExpired,
  disasterBackupProgress,
  disasterBackupCompleted,
  disasterBackupFailed,
  disasterRestoreProgress,
  disasterRestoreCompleted,
  disasterRestoreFailed,
  verifyProgress,
  verifyCompleted,
  retentionApplied,
  keysRotated,
  keysShredded,
  keysFailed,
  alertRaised,
] as const;

export const command = z.discriminatedUnion("type", commandSchemas);
export const event = z.discriminatedUnion("type", eventSchemas);
export type Command = z.infer<typeof command>;
export type Event = z.infer<typeof event>;
export type Message = Command | Event;
export type MessageType = Message["type"];
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;
export type DataOf<T extends MessageType> = MessageOf<T>["data"];
type AnySchema = (typeof commandSchemas)[number] | (typeof eventSchemas)[number];
/** What a producer passes for a message of type T: the schema's input, so defaults may be left out. */
export type DataInput<T extends MessageType> = z.input<Extract<AnySchema, { shape: { type: z.ZodLiteral<T> } }>>["data"];
