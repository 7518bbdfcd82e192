import { and, eq, inArray, sql } from "drizzle-orm";
import type { Pool } from "pg";
import { discoverTenantPlan, listTenants, type DiscoverOptions } from "@hesaab/tenant-data";
import { noPublish, type Delivery, type MessageOf, type RuntimeSettings } from "@hesaab/contracts";
import { errorText } from "@hesaab/config";
import { backupRecords, raiseAlert, writeAudit, type BackupRecord, type CatalogDb } from "@hesaab/db";
import { isStorageError, keysSidecarKey, metaSidecarKey } from "@hesaab/storage";
import { withBackupLock } from "./catalog";
import type { StorageOpsDeps } from "./storage-ops-deps";
import { StorageOpsError } from "./errors";
import { recordParts } from "./parts";

const DAY_MS = 86_400_000;

/**
 * How long backups of one type live. `days` applies when a record has no `expires_at`. The keep
 * counts are grandfather-father-son: the newest good backup of each of the last N days / ISO weeks /
 * months that have one (UTC) is kept even when expired (restic's `--keep-daily` semantics).
 */
export interface RetentionRule {
  days: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

export interface RetentionRules {
  tenant: RetentionRule;
  disaster: RetentionRule;
}

/** The parsed retention variables (`envPieces.retention` and `envPieces.retentionKeeps` from @hesaab/config). */
export interface RetentionEnv {
  BACKUP_RETENTION_DAYS: number;
  DISASTER_BACKUP_RETENTION_DAYS: number;
  BACKUP_RETENTION_KEEP_DAILY: number;
  BACKUP_RETENTION_KEEP_WEEKLY: number;
  BACKUP_RETENTION_KEEP_MONTHLY: number;
  DISASTER_RETENTION_KEEP_DAILY: number;
  DISASTER_RETENTION_KEEP_WEEKLY: number;
  DISASTER_RETENTION_KEEP_MONTHLY: number;
}

/** The rules the retention variables describe, the same for the CLI and storage-svc. */
export function retentionRulesFromEnv(env: RetentionEnv): RetentionRules {
  return {
    tenant: {
      days: env.BACKUP_RETENTION_DAYS,
      keepDaily: env.BACKUP_RETENTION_KEEP_DAILY,
      keepWeekly: env.BACKUP_RETENTION_KEEP_WEEKLY,
      keepMonthly: env.BACKUP_RETENTION_KEEP_MONTHLY,
    },
    disaster: {
      days: env.DISASTER_BACKUP_RETENTION_DAYS,
      keepDaily: env.DISASTER_RETENTION_KEEP_DAILY,
      keepWeekly: env.DISASTER_RETENTION_KEEP_WEEKLY,
      keepMonthly: env.DISASTER_RETENTION_KEEP_MONTHLY,
    },
  };
}

export interface RetentionOptions extends StorageOpsDeps {
  rules: RetentionRules;
  now?: Date;
  /** List what would go, change nothing. */
  dryRun?: boolean;
  /**
   * Tenants whose last good backup is never deleted, expired or not. Default `"all"`: every tenant
   * (the safe choice when the platform's tenant list is not at hand).
   */
  activeTenants?: Iterable<string> | "all";
}

export interface RetentionItem {
  backupId: string;
  type: BackupRecord["backupType"];
  tenantId: string | null;
  status: BackupRecord["status"];
  purpose: string;
  createdAt: string;
  expiresAt: string;
}

export type KeepReason = "last_good" | "keep_daily" | "keep_weekly" | "keep_monthly";

export interface RetentionReport {
  at: string;
  dryRun: boolean;
  rules: RetentionRules;
  /** Expired backups that go (dry run: would go). */
  expired: RetentionItem[];
  /** Expired backups kept, and why. */
  kept: (RetentionItem & { reasons: KeepReason[] })[];
  /** Deleted from every provider and marked `deleted` in the catalog. Empty on a dry run. */
  deleted: string[];
  /** Could not be deleted everywhere (left `expired`, tried again next run). */
  failed: { backupId: string; error: string }[];
}

/** Statuses retention looks at: good ones, and the leftovers of failed or interrupted deletions. */
const CANDIDATE_STATUSES = ["completed", "degraded", "failed", "expired"] as const;

/**
 * What retention would do now ([1] and [2] of `applyRetention`), from the catalog alone: no provider
 * is touched. `doomed` are the records that go.
 */
export async function planRetention(
  opts: Pick<RetentionOptions, "rules" | "now" | "dryRun" | "activeTenants"> & { db: CatalogDb },
): Promise<{ report: RetentionReport; doomed: BackupRecord[] }> {
  const { rules } = opts;
  const now = opts.now ?? new Date();
  const dryRun = opts.dryRun ?? false;
  for (const [type, rule] of Object.entries(rules)) {
    if (!Number.isFinite(rule.days) || rule.days <= 0)
      throw new StorageOpsError({ code: "storage_ops_invalid_argument", message: `retention days for ${type} backups must be positive` });
  }
  const rows = await opts.db
    .select()
    .from(backupRecords)
    .where(and(inArray(backupRecords.backupType, ["tenant", "disaster"]), inArray(backupRecords.status, [...CANDIDATE_STATUSES])));
  const active = opts.activeTenants === undefined || opts.activeTenants === "all" ? "all" : new Set(opts.activeTenants);

  const expiry = (r: BackupRecord): Date =>
    r.expiresAt ?? new Date(r.createdAt.getTime() + rules[r.backupType === "disaster" ? "disaster" : "tenant"].days * DAY_MS);
  const item = (r: BackupRecord): RetentionItem => ({
    backupId: r.id,
    type: r.backupType,
    tenantId: r.tenantId,
    status: r.status,
    purpose: r.purpose,
    createdAt: r.createdAt.toISOString(),
    expiresAt: expiry(r).toISOString(),
  });

  // [2] keep rules, per series
  const keep = new Map<string, KeepReason[]>();
  const series = new Map<string, BackupRecord[]>();
  for (const r of rows) {
    if ((r.status !== "completed" && r.status !== "degraded") || r.purpose === "pre_restore") continue;
    const name = `${r.backupType}:${r.tenantId ?? ""}`;
    series.set(name, [...(series.get(name) ?? []), r]);
  }
  const mark = (id: string, reason: KeepReason) => keep.set(id, [...(keep.get(id) ?? []), reason]);
  for (const list of series.values()) {
    list.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
    const newest = list[0]!;
    const rule = rules[newest.backupType === "disaster" ? "disaster" : "tenant"];
    if (newest.backupType === "disaster" || active === "all" || active.has(newest.tenantId ?? "")) mark(newest.id, "last_good");
    for (const [reason, count, bucket] of [
      ["keep_daily", rule.keepDaily ?? 0, dayOf],
      ["keep_weekly", rule.keepWeekly ?? 0, isoWeekOf],
      ["keep_monthly", rule.keepMonthly ?? 0, monthOf],
    ] as const) {
      const seen = new Set<string>();
      for (const r of list) {
        if (seen.size >= count) break;
        const b = bucket(r.createdAt);
        if (seen.has(b)) continue;
        seen.add(b);
        mark(r.id, reason);
      }
    }
  }

  const report: RetentionReport = { at: now.toISOString(), dryRun, rules, expired: [], kept: [], deleted: [], failed: [] };
  const doomed: BackupRecord[] = [];
  for (const r of rows.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())) {
    if (expiry(r).getTime() > now.getTime()) continue;
    const reasons = keep.get(r.id);
    if (reasons) report.kept.push({ ...item(r), reasons });
    else {
      report.expired.push(item(r));
      doomed.push(r);
    }
  }
  return { report, doomed };
}

/**
 * Applies retention:
 *
 *  [1] a backup expires at its `expires_at`, else `created_at` + the type's `days`;
 *  [2] per series (one tenant's backups; the disaster backups) the expired backups that a keep
 *      rule holds stay: the newest good backup of an active tenant (and the newest good disaster
 *      backup) always, then the daily/weekly/monthly keeps. Pre-restore snapshots follow the tenant
 *      rule and are never what a keep rule keeps;
 *  [3] each backup to go is first marked `expired` (so nothing heals it back), then its artifacts
 *      and both sidecars are deleted from every provider, then it is marked `deleted`, with an audit
 *      entry. A provider that fails leaves the record `expired`; the next run finishes it.
 */
export async function applyRetention(opts: RetentionOptions): Promise<RetentionReport> {
  const { catalog } = opts;
  const { report, doomed } = await planRetention({ ...opts, db: catalog.db });
  if (report.dryRun) return report;

  // [3] delete
  for (const r of doomed) {
    try {
      await deleteBackup({ ...opts, record: r });
      report.deleted.push(r.id);
    } catch (error) {
      if (isStorageError(error, "storage_aborted")) throw error;
      report.failed.push({ backupId: r.id, error: errorText(error) });
    }
  }
  if (report.failed.length > 0) {
    await raiseAlert(
      { catalog, publish: opts.publish ?? noPublish },
      {
        severity: "warning",
        code: "retention_incomplete",
        message: `retention could not delete ${report.failed.length} expired backup(s) everywhere; the next run tries again`,
        context: { failed: report.failed.slice(0, 20) },
      },
    );
  }
  return report;
}

/**
 * Deletes one backup from every provider (artifacts first, then their sidecars) and marks it
 * `deleted`, with an audit entry. Marked `expired` first, so no healing brings it back halfway.
 */
export async function deleteBackup(opts: StorageOpsDeps & { record: BackupRecord; reason?: string }): Promise<void> {
  const { catalog, backends, record, signal } = opts;
  await withBackupLock({ catalog, backupId: record.id }, async () => {
    await catalog.db.update(backupRecords).set({ status: "expired" }).where(eq(backupRecords.id, record.id));
  });
  let keys: string[] = [];
  try {
    keys = recordParts(record).map((p) => p.key);
  } catch {
    keys = []; // never stored anything (failed before upload)
  }
  const sig = signal ? { signal } : {};
  await Promise.all(
    backends.map(async (backend) => {
      for (const key of keys) await backend.delete(key, sig);
      for (const key of keys) {
        await backend.delete(keysSidecarKey(key), sig);
        await backend.delete(metaSidecarKey(key), sig);
      }
    }),
  );
  const deletedAt = new Date();
  await catalog.db
    .update(backupRecords)
    .set({
      status: "deleted",
      metadata: sql`${backupRecords.metadata} || ${JSON.stringify({ deletedAt: deletedAt.toISOString(), deletedBy: opts.actor ?? "system:retention", deletedReason: opts.reason ?? "retention" })}::jsonb`,
    })
    .where(eq(backupRecords.id, record.id));
  await writeAudit(catalog.db, {
    actor: opts.actor ?? "system:retention",
    action: "backup.deleted",
    targetType: "backup",
    targetId: record.id,
    tenantId: record.tenantId,
    details: {
      reason: opts.reason ?? "retention",
      type: record.backupType,
      createdAt: record.createdAt.toISOString(),
      expiresAt: record.expiresAt?.toISOString() ?? null,
      keys,
      providers: backends.map((b) => b.name),
    },
  });
}

function dayOf(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function monthOf(d: Date): string {
  return d.toISOString().slice(0, 7);
}

/** ISO 8601 week (`2026-W48`), UTC. */
function isoWeekOf(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const dow = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - dow);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / DAY_MS + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

export const retentionInternals = { dayOf, monthOf, isoWeekOf };

/**
 * The platform's tenants whose last good backup retention must keep: every tenant not marked
 * deleted (a suspended tenant may come back), from the root table discovery finds (`discover` as the
 * backups are configured: TENANT_COLUMN), whatever the platform calls it.
 */
export async function platformTenants({ pool, discover = {} }: { pool: Pool; discover?: DiscoverOptions }): Promise<string[]> {
  const client = await pool.connect();
  try {
    const plan = await discoverTenantPlan({ client, ...discover });
    return await listTenants({ client, plan, which: "existing" });
  } finally {
    client.release();
  }
}

/** The retention rules in force: the environment's, with the catalog's runtime settings (`retention.*`) over them. */
export function retentionRulesInForce(env: RetentionEnv, settings: RuntimeSettings): RetentionRules {
  const rules = retentionRulesFromEnv(env);
  return {
    tenant: {
      days: settings["retention.tenant.days"] ?? env.BACKUP_RETENTION_DAYS,
      keepDaily: settings["retention.tenant.keep_daily"] ?? env.BACKUP_RETENTION_KEEP_DAILY,
      keepWeekly: settings["retention.tenant.keep_weekly"] ?? env.BACKUP_RETENTION_KEEP_WEEKLY,
      keepMonthly: settings["retention.tenant.keep_monthly"] ?? env.BACKUP_RETENTION_KEEP_MONTHLY,
    },
    disaster: { ...rules.disaster, days: settings["retention.disaster.days"] ?? env.DISASTER_BACKUP_RETENTION_DAYS },
  };
}

/**
 * `storage.retention.requested.v1` → `applyRetention` with the rules and tenants the schedule uses,
 * then `storage.retention.applied.v1` with the operation id. Applying again deletes what has expired
 * since, so a redelivery is harmless.
 */
export async function handleRetentionRequested(
  deps: StorageOpsDeps & { rules: () => Promise<RetentionRules>; activeTenants: () => Promise<Iterable<string> | "all"> },
  { message, delivery }: { message: MessageOf<"storage.retention.requested.v1">; delivery: Delivery },
): Promise<RetentionReport> {
  const { rules, activeTenants, ...ops } = deps;
  const report = await applyRetention({
    ...ops,
    actor: message.data.requestedBy,
    signal: delivery.signal,
    rules: await rules(),
    activeTenants: await activeTenants(),
  });
  await (deps.publish ?? noPublish)("storage.retention.applied.v1", {
    operationId: message.data.operationId,
    deleted: report.deleted,
    kept: report.kept.length,
    failed: report.failed,
  });
  return report;
}
