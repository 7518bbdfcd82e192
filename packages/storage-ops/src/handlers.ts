import { and, desc, eq, inArray } from "drizzle-orm";
import { noPublish, type Delivery, type MessageOf } from "@hesaab/contracts";
import { backupRecords, getBackupRecord, raiseAlert, readRuntimeSettings, type BackupRecord } from "@hesaab/db";
import { loadRecord } from "./catalog";
import type { KeyRings, StorageOpsDeps } from "./storage-ops-deps";
import { StorageOpsError } from "./errors";
import { GOOD_STATUSES } from "./parts";
import { replicateArtifact, type ReplicateResult } from "./replicate";
import { deepVerifySample, verifyBackup, verifyFailed, type DeepSampleReport, type VerifiedHook, type VerifyBackupResult } from "./verify";

/**
 * Replicates and reports; a copy that could not be healed because a provider is unreachable
 * throws a retryable error (the bus tries again with backoff), except on the last delivery, where
 * an alert says reconciliation will pick it up.
 */
async function replicateOrRetry(deps: StorageOpsDeps, { record, delivery }: { record: BackupRecord; delivery: Delivery }): Promise<ReplicateResult> {
  const result = await replicateArtifact({ ...deps, record, heal: true, signal: delivery.signal });
  if (result.pending) {
    if (!delivery.final) {
      throw new StorageOpsError({
        code: "storage_ops_heal_pending",
        message: `backup ${record.id}: ${result.degraded.join(", ")} not healed yet (unreachable)`,
        context: { backupId: record.id, providers: result.degraded },
      });
    }
    await raiseAlert(deps, {
      severity: "warning",
      code: "replica_heal_pending",
      message: `backup ${record.id} is still degraded (${result.degraded.join(", ")} unreachable); the next reconciliation tries again`,
      context: { backupId: record.id, providers: result.degraded },
    });
  }
  return result;
}

/**
 * `storage.artifact.stored.v1` → keyless verification of every copy and replication to every
 * provider. An event about a backup this catalog does not know is acknowledged and ignored.
 */
export async function handleArtifactStored(
  deps: StorageOpsDeps,
  { message, delivery }: { message: MessageOf<"storage.artifact.stored.v1">; delivery: Delivery },
): Promise<ReplicateResult | undefined> {
  const record = await getBackupRecord(deps.catalog.db, message.data.backupId);
  if (!record) return undefined;
  return replicateOrRetry(deps, { record, delivery });
}

/** `storage.replicate.requested.v1` → the same, on demand. */
export async function handleReplicateRequested(
  deps: StorageOpsDeps,
  { message, delivery }: { message: MessageOf<"storage.replicate.requested.v1">; delivery: Delivery },
): Promise<ReplicateResult> {
  const record = await loadRecord(deps.catalog.db, message.data.backupId);
  return replicateOrRetry(deps, { record, delivery });
}

export interface VerifyDeps extends StorageOpsDeps {
  keyRings?: KeyRings;
  workDir?: string;
  deepPercent: number;
  deepMaxBytes: number;
}

/**
 * `storage.verify.requested.v1`: one backup (keyless, or keyless + deep), every good backup of one
 * tenant (`tenantId`), a deep sample (`sample` percent, or `deep` without a backup or tenant: the
 * catalog's `verify.deep_sample_percent`, else the configured percent), or every good backup keyless.
 * With an operation id, `storage.verify.completed.v1` reports it.
 */
export async function handleVerifyRequested(
  deps: VerifyDeps,
  { message, delivery }: { message: MessageOf<"storage.verify.requested.v1">; delivery: Delivery },
): Promise<VerifyBackupResult[] | DeepSampleReport> {
  const { backupId, tenantId, deep, sample, operationId } = message.data;
  const signal = delivery.signal;
  const publish = deps.publish ?? noPublish;
  const onVerified: VerifiedHook | undefined = operationId
    ? (r, done, total) => publish("storage.verify.progress.v1", { operationId, backupId: r.backupId, done, total, ok: !verifyFailed(r) })
    : undefined;
  let outcome: VerifyBackupResult[] | DeepSampleReport;
  if (backupId) {
    const result = await verifyBackup({ ...deps, record: backupId, deep, signal });
    await onVerified?.(result, 1, 1);
    outcome = [result];
  } else if (tenantId) outcome = await verifyAll({ ...deps, tenantId, deep, signal, onVerified });
  else if (deep || sample !== undefined) {
    const percent = sample ?? (await readRuntimeSettings(deps.catalog.db))["verify.deep_sample_percent"] ?? deps.deepPercent;
    outcome = await deepVerifySample({ ...deps, percent, maxBytes: deps.deepMaxBytes, signal, onVerified });
  } else outcome = await verifyAll({ ...deps, signal, onVerified });
  if (operationId) {
    const results = Array.isArray(outcome) ? outcome : outcome.results;
    await publish("storage.verify.completed.v1", {
      operationId,
      backups: results.length,
      failed: results.filter(verifyFailed).map((r) => r.backupId),
      deep: deep || sample !== undefined,
    });
  }
  return outcome;
}

/** Keyless verification (and healing) of every good backup, newest first. */
export async function verifyAll(
  deps: StorageOpsDeps & {
    deep?: boolean;
    heal?: boolean;
    keyRings?: KeyRings;
    workDir?: string;
    tenantId?: string | undefined;
    onVerified?: VerifiedHook | undefined;
  },
): Promise<VerifyBackupResult[]> {
  const { tenantId, onVerified, ...opts } = deps;
  const rows = await deps.catalog.db
    .select({ id: backupRecords.id })
    .from(backupRecords)
    .where(
      and(
        inArray(backupRecords.status, [...GOOD_STATUSES]),
        tenantId ? eq(backupRecords.tenantId, tenantId) : undefined,
        inArray(backupRecords.backupType, tenantId ? ["tenant"] : ["tenant", "disaster"]),
      ),
    )
    .orderBy(desc(backupRecords.createdAt));
  const out: VerifyBackupResult[] = [];
  for (const { id } of rows) {
    const result = await verifyBackup({ ...opts, record: id });
    out.push(result);
    await onVerified?.(result, out.length, rows.length);
  }
  return out;
}
