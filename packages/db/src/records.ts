import { and, desc, eq, inArray, isNotNull, isNull, lte, sql, type SQL } from "drizzle-orm";
import { errorText } from "@hesaab/config";
import { newId, noPublish, type Publish } from "@hesaab/contracts";
import type { CatalogDb } from "./client";
import { alertKeys, alerts, backupRecords, type ProviderCopy } from "./schema";

/**
 * Catalog operations on backup records. A record is written `running` before the first byte is
 * uploaded and becomes `completed` (or `degraded`) only after every stored copy was checked, so a
 * record is never "completed" for a partial artifact.
 */

export type BackupRecord = typeof backupRecords.$inferSelect;
export type NewBackupRecord = typeof backupRecords.$inferInsert;

/** Statuses of a backup that can be restored from. */
export const RESTORABLE = ["completed", "degraded"] as const;

export async function insertBackupRecord(db: CatalogDb, record: NewBackupRecord): Promise<BackupRecord> {
  const [row] = await db.insert(backupRecords).values(record).returning();
  return row!;
}

export async function getBackupRecord(db: CatalogDb, id: string): Promise<BackupRecord | undefined> {
  const [row] = await db.select().from(backupRecords).where(eq(backupRecords.id, id));
  return row;
}

export async function updateBackupRecord(db: CatalogDb, { id, set }: { id: string; set: Partial<NewBackupRecord> }): Promise<BackupRecord | undefined> {
  const [row] = await db.update(backupRecords).set(set).where(eq(backupRecords.id, id)).returning();
  return row;
}

/** Columns a finished backup sets (see {@link finishBackupRecords}). */
const FINISHED_COLUMNS = [
  "status",
  "fileSize",
  "checksum",
  "encryptionKeyId",
  "keySidecar",
  "providers",
  "b2Location",
  "r2Location",
  "errorMessage",
  "completedAt",
  "expiresAt",
  "metadata",
] as const satisfies readonly (keyof NewBackupRecord)[];

/** `rows` as JSON with the table's column names, for `json_populate_recordset` (one parameter, whatever the number of rows). */
function recordsJson(rows: Partial<NewBackupRecord>[]): { json: string; columns: string[] } {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))] as (keyof NewBackupRecord)[];
  const columns = keys.map((k) => backupRecords[k].name);
  const json = JSON.stringify(rows.map((r) => Object.fromEntries(keys.map((k, i) => [columns[i]!, r[k] ?? null]))));
  return { json, columns };
}

/**
 * Inserts many records in one statement (a batch of backups starting). One JSON parameter instead
 * of a parameter per value: building a multi-row insert costs more CPU than the backups it records.
 * Columns no row gives take their defaults.
 */
export async function insertBackupRecords(db: CatalogDb, rows: NewBackupRecord[]): Promise<void> {
  if (rows.length === 0) return;
  const { json, columns } = recordsJson(rows);
  const list = sql.raw(columns.join(", "));
  await db.execute(sql`insert into backup.backup_records (${list}) select ${list} from json_populate_recordset(null::backup.backup_records, ${json}::json)`);
}

/**
 * Writes the outcome of many backups in one statement (a batch of backups ending): each row names
 * a record by id and gives the finished columns it sets (status, sizes, copies, times, metadata,
 * error); other fields of the row are ignored. Returns the records as they are now.
 */
export async function finishBackupRecords(db: CatalogDb, rows: (Partial<NewBackupRecord> & { id: string })[]): Promise<BackupRecord[]> {
  if (rows.length === 0) return [];
  const finished = rows.map(
    (r) => Object.fromEntries(Object.entries(r).filter(([k]) => k === "id" || (FINISHED_COLUMNS as readonly string[]).includes(k))) as Partial<NewBackupRecord>,
  );
  const { json, columns } = recordsJson(finished);
  // a column a row does not give (a failed backup has no size) keeps its value
  const set = sql.raw(
    columns
      .filter((c) => c !== "id")
      .map((c) => `${c} = coalesce(x.${c}, r.${c})`)
      .join(", "),
  );
  await db.execute(sql`update backup.backup_records r set ${set} from json_populate_recordset(null::backup.backup_records, ${json}::json) x where r.id = x.id`);
  return db
    .select()
    .from(backupRecords)
    .where(
      inArray(
        backupRecords.id,
        rows.map((r) => r.id),
      ),
    );
}

/** What a multi-provider write of one artifact returned (`storeArtifact`'s result fits). */
export interface StoredCopies {
  size: number;
  sha256: string;
  dekId: string;
  sidecar: object;
  outcomes: readonly { provider: string; ok: boolean; error?: unknown }[];
}

/**
 * The record columns a stored artifact fills: one `ProviderCopy` per provider (a stored copy pending
 * verification, a failed one with its error), the B2/R2 location of each stored copy, and the status:
 * `completed` when every provider took it, else `degraded` (storage-svc heals the rest).
 */
export function storedArtifactColumns({ key, stored }: { key: string; stored: StoredCopies }) {
  const providers: Record<string, ProviderCopy> = {};
  for (const o of stored.outcomes) {
    providers[o.provider] = o.ok
      ? { location: key, status: "stored", size: stored.size, sha256: stored.sha256, verification: "pending" }
      : { location: key, status: "failed", error: errorText(o.error) };
  }
  return {
    status: stored.outcomes.every((o) => o.ok) ? ("completed" as const) : ("degraded" as const),
    fileSize: stored.size,
    checksum: stored.sha256,
    encryptionKeyId: stored.dekId,
    keySidecar: stored.sidecar as Record<string, unknown>,
    providers,
    b2Location: providers.b2?.status === "stored" ? key : null,
    r2Location: providers.r2?.status === "stored" ? key : null,
  } satisfies Partial<NewBackupRecord>;
}

/**
 * Merges `copy` into one provider's entry of `providers` and removes the `clear` fields, in one
 * statement (atomic jsonb merge): concurrent updates of other providers (or other fields) are kept.
 */
export async function setProviderCopy(
  db: CatalogDb,
  { id, provider, copy, clear = [] }: { id: string; provider: string; copy: Partial<ProviderCopy>; clear?: (keyof ProviderCopy)[] },
): Promise<void> {
  const current = sql`coalesce(${backupRecords.providers} -> ${provider}, '{}'::jsonb)`;
  const kept = clear.length ? sql`(${current} - ${`{${clear.join(",")}}`}::text[])` : current;
  await db
    .update(backupRecords)
    .set({ providers: sql`jsonb_set(${backupRecords.providers}, ${`{${provider}}`}::text[], ${kept} || ${JSON.stringify(copy)}::jsonb)` })
    .where(eq(backupRecords.id, id));
}

export interface ListBackupsQuery {
  tenantId?: string | undefined;
  type?: BackupRecord["backupType"] | undefined;
  statuses?: BackupRecord["status"][];
  /** Only backups whose copy in `provider` is in `state` (`stored`, `missing`, `failed`, `corrupt`; `absent`: no copy there at all). */
  provider?: { name: string; state: ProviderCopy["status"] | "absent" } | undefined;
  verification?: BackupRecord["verificationStatus"] | undefined;
  /** Created at or after. */
  from?: Date | undefined;
  /** Created before. */
  to?: Date | undefined;
  /** Keyset paging: only backups listed after the one with this id (newest first: older, or as old with a smaller id). */
  after?: string | undefined;
  limit?: number;
}

/** Backups, newest first (then by id, descending), matching every filter given. */
export async function listBackupRecords(db: CatalogDb, q: ListBackupsQuery = {}): Promise<BackupRecord[]> {
  const where: SQL[] = [];
  if (q.tenantId) where.push(eq(backupRecords.tenantId, q.tenantId));
  if (q.type) where.push(eq(backupRecords.backupType, q.type));
  if (q.statuses?.length) where.push(inArray(backupRecords.status, q.statuses));
  if (q.verification) where.push(eq(backupRecords.verificationStatus, q.verification));
  if (q.from) where.push(sql`${backupRecords.createdAt} >= ${q.from.toISOString()}::timestamptz`);
  if (q.to) where.push(sql`${backupRecords.createdAt} < ${q.to.toISOString()}::timestamptz`);
  if (q.provider)
    where.push(
      q.provider.state === "absent"
        ? sql`not (${backupRecords.providers} ? ${q.provider.name})`
        : sql`${backupRecords.providers} -> ${q.provider.name} ->> 'status' = ${q.provider.state}`,
    );
  if (q.after)
    // the cursor row's own created_at (microseconds), not a JavaScript date's milliseconds
    where.push(sql`(${backupRecords.createdAt}, ${backupRecords.id}) < (select c.created_at, c.id from backup.backup_records c where c.id = ${q.after})`);
  return db
    .select()
    .from(backupRecords)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(backupRecords.createdAt), desc(backupRecords.id))
    .limit(q.limit ?? 100);
}

/** The newest restorable backup of a tenant (of `type`) created at or before `at` (default: now). */
export async function latestRestorableBackup(
  db: CatalogDb,
  { tenantId, at, type = "tenant" }: { tenantId: string | null; at?: Date | undefined; type?: BackupRecord["backupType"] },
): Promise<BackupRecord | undefined> {
  const where: SQL[] = [eq(backupRecords.backupType, type), inArray(backupRecords.status, [...RESTORABLE])];
  where.push(tenantId === null ? sql`${backupRecords.tenantId} is null` : eq(backupRecords.tenantId, tenantId));
  if (at) where.push(lte(backupRecords.createdAt, at));
  // Pre-restore snapshots are rollback points, not what "the backup of last night" means.
  where.push(sql`${backupRecords.purpose} <> 'pre_restore'`);
  const [row] = await db
    .select()
    .from(backupRecords)
    .where(and(...where))
    .orderBy(desc(backupRecords.createdAt), desc(backupRecords.id))
    .limit(1);
  return row;
}

export type Alert = typeof alerts.$inferSelect;

export async function insertAlert(db: CatalogDb, alert: typeof alerts.$inferInsert): Promise<Alert> {
  const [row] = await db.insert(alerts).values(alert).returning();
  return row!;
}

/** Open alerts (or, with `resolved`, the resolved ones), newest first. */
export async function listAlerts(db: CatalogDb, q: { resolved?: boolean; limit?: number } = {}): Promise<Alert[]> {
  return db
    .select()
    .from(alerts)
    .where(q.resolved ? isNotNull(alerts.resolvedAt) : isNull(alerts.resolvedAt))
    .orderBy(desc(alerts.raisedAt))
    .limit(q.limit ?? 100);
}

/**
 * Acknowledges (`acknowledged`) or resolves (`resolved`, which acknowledges it too) an open alert in
 * `by`'s name. The first to acknowledge stays the one who did. Returns the alert's context, or
 * undefined when no open alert has that id (unknown, or resolved already).
 */
export async function settleAlert(
  db: CatalogDb,
  o: { id: string; as: "acknowledged" | "resolved"; by: string; now?: Date },
): Promise<{ id: string; context: Record<string, unknown> } | undefined> {
  const now = o.now ?? new Date();
  const [changed] = await db
    .update(alerts)
    .set({
      acknowledgedAt: sql`coalesce(${alerts.acknowledgedAt}, ${now})`,
      acknowledgedBy: sql`coalesce(${alerts.acknowledgedBy}, ${o.by})`,
      ...(o.as === "resolved" ? { resolvedAt: now } : {}),
    })
    .where(and(eq(alerts.id, o.id), isNull(alerts.resolvedAt)))
    .returning({ id: alerts.id, context: alerts.context });
  return changed;
}

export interface AlertInput {
  severity: "info" | "warning" | "critical";
  /** Stable lowercase code (`tenant_backup_failed`, `storage_unusable`, …). */
  code: string;
  /** Lowercase, for a person; never a secret. */
  message: string;
  context?: Record<string, unknown>;
  /**
   * What the alert is about, when several places may raise one for the same thing (`job:<message
   * id>`: a failed job's handler and its dead letter). The first raise with a key is the only one:
   * later ones are neither recorded nor published (`alert_keys` decides), counted or not in a group.
   */
  key?: string;
  /**
   * The condition it reports (`tenant_backup_failed:<tenant>`): while an alert of this group is
   * open, raising it again only counts an occurrence (no new alert, nothing published); once
   * resolved (`resolveAlertGroups`), the next raise is a new alert.
   */
  group?: string;
}

/**
 * Records an alert in the catalog and publishes `alert.raised.v1`; returns its id (with `key`, the
 * id of the alert already raised for it, if any: that one is not raised again; with `group`, the open
 * alert of the group, whose occurrences it counts). Never throws (an alert must not fail, or hide the
 * error of, the operation that raised it): `undefined` when it could not be recorded.
 */
export async function raiseAlert(deps: { catalog: { db: CatalogDb }; publish?: Publish | undefined }, alert: AlertInput): Promise<string | undefined> {
  const context = alert.context ?? {};
  try {
    const raised = await deps.catalog.db.transaction(async (tx) => {
      const id = newId("alr");
      if (alert.key) {
        const [claimed] = await tx.insert(alertKeys).values({ key: alert.key, alertId: id }).onConflictDoNothing().returning({ key: alertKeys.key });
        if (!claimed) {
          const [first] = await tx.select({ id: alertKeys.alertId }).from(alertKeys).where(eq(alertKeys.key, alert.key));
          return { id: first?.id, inserted: false };
        }
      }
      const values = {
        id,
        severity: alert.severity,
        code: alert.code,
        message: alert.message,
        context,
        dedupKey: alert.key ?? null,
        groupKey: alert.group ?? null,
      };
      const [row] = alert.group
        ? await tx
            .insert(alerts)
            .values(values)
            .onConflictDoUpdate({
              target: alerts.groupKey,
              targetWhere: sql`${alerts.resolvedAt} is null`,
              set: { occurrences: sql`${alerts.occurrences} + 1`, lastRaisedAt: sql`now()` },
            })
            .returning({ id: alerts.id })
        : await tx.insert(alerts).values(values).returning({ id: alerts.id });
      // counted in the group's open alert: its key points there, so raising the key again is a no-op
      if (row!.id !== id && alert.key) await tx.update(alertKeys).set({ alertId: row!.id }).where(eq(alertKeys.key, alert.key));
      return { id: row!.id, inserted: row!.id === id };
    });
    if (raised.inserted && raised.id) {
      await (deps.publish ?? noPublish)("alert.raised.v1", { alertId: raised.id, severity: alert.severity, code: alert.code, message: alert.message, context });
    }
    return raised.id;
  } catch {
    return undefined;
  }
}

/**
 * Resolves the open alerts of these groups (their condition cleared: the tenant's next good backup, a
 * provider back); returns the ids resolved, for their "resolved" notifications.
 */
export async function resolveAlertGroups(db: CatalogDb, groups: readonly string[], now: Date = new Date()): Promise<string[]> {
  if (groups.length === 0) return [];
  const rows = await db
    .update(alerts)
    .set({ resolvedAt: now })
    .where(and(inArray(alerts.groupKey, [...groups]), isNull(alerts.resolvedAt)))
    .returning({ id: alerts.id });
  return rows.map((r) => r.id);
}

/** The open alerts raised with a group, of these codes (the conditions a rule may find cleared). */
export async function openAlertGroups(db: CatalogDb, codes: readonly string[]): Promise<Alert[]> {
  if (codes.length === 0) return [];
  return db
    .select()
    .from(alerts)
    .where(and(inArray(alerts.code, [...codes]), isNull(alerts.resolvedAt), isNotNull(alerts.groupKey)));
}

/** What the dead-letter alert needs of a dead letter (the bus's `DeadLetter`: db does not know the bus). */
export interface DeadLetterFacts {
  subject: string;
  reason: string;
  messageId?: string | undefined;
  error?: { message: string } | undefined;
}

/**
 * The service's `onDeadLetter` hook: every dead letter raises a critical `job_dead_lettered` alert.
 * With `key`, the alert carries `key(messageId)`, so a job whose handler already raised its alert
 * with that key (a backup job that failed for good) raises no second one: the catalog keeps the first.
 */
export function alertOnDeadLetter(
  deps: { catalog: { db: CatalogDb }; publish?: Publish | undefined },
  { key }: { key?: (messageId: string) => string } = {},
): (dl: DeadLetterFacts) => Promise<void> {
  return async (dl) => {
    await raiseAlert(deps, {
      severity: "critical",
      code: "job_dead_lettered",
      message: `${dl.subject} was dead-lettered (${dl.reason})`,
      context: { subject: dl.subject, reason: dl.reason, error: dl.error?.message, messageId: dl.messageId },
      ...(key && dl.messageId ? { key: key(dl.messageId) } : {}),
    });
  };
}

/**
 * A tenant backup's recorded plaintext size (`metadata.plaintextBytes`, its one artifact's), to
 * spread into the artifact's ref: `verifyStaged` then checks the decrypted size against it. Empty
 * for other backups (a disaster backup's parts are described per part) and for records without it.
 */
export function recordedPlaintext(record: Pick<BackupRecord, "backupType" | "metadata">): { plaintextBytes?: number } {
  const bytes = (record.metadata as { plaintextBytes?: unknown }).plaintextBytes;
  return record.backupType === "tenant" && typeof bytes === "number" && Number.isSafeInteger(bytes) ? { plaintextBytes: bytes } : {};
}
