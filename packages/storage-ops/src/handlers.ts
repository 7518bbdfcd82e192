import { and, desc, inArray } from "drizzle-orm";
import type { Delivery, MessageOf } from "@hesaab/contracts";
import { backupRecords, getBackupRecord, raiseAlert, type BackupRecord } from "@hesaab/db";
import { loadRecord } from "./catalog";
import type { KeyRings, StorageOpsDeps } from "./storage-ops-deps";
import { StorageOpsError } from "./errors";
import { GOOD_STATUSES } from "./parts";
import { replicateArtifact, type ReplicateResult } from "./replicate";
import { deepVerifySample, verifyBackup, type DeepSampleReport, type VerifyBackupResult } from "./verify";

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
 * `storage.verify.requested.v1`: one backup (keyless, or keyless + deep), or without a backup id
 * every good backup keyless, or with `deep` the deep sample (`deepVerifySample`).
 */
export async function handleVerifyRequested(
  deps: VerifyDeps,
  { message, delivery }: { message: MessageOf<"storage.verify.requested.v1">; delivery: Delivery },
): Promise<VerifyBackupResult[] | DeepSampleReport> {
  const { backupId, deep } = message.data;
  const signal = delivery.signal;
  if (backupId) return [await verifyBackup({ ...deps, record: backupId, deep, signal })];
  if (deep) return deepVerifySample({ ...deps, percent: deps.deepPercent, maxBytes: deps.deepMaxBytes, signal });
  return verifyAll({ ...deps, signal });
}

/** Keyless verification (and healing) of every good backup, newest first. */
export async function verifyAll(
  deps: StorageOpsDeps & { deep?: boolean; heal?: boolean; keyRings?: KeyRings; workDir?: string },
): Promise<VerifyBackupResult[]> {
  const rows = await deps.catalog.db
    .select({ id: backupRecords.id })
    .from(backupRecords)
    .where(and(inArray(backupRecords.status, [...GOOD_STATUSES]), inArray(backupRecords.backupType, ["tenant", "disaster"])))
    .orderBy(desc(backupRecords.createdAt));
  const out: VerifyBackupResult[] = [];
  for (const { id } of rows) out.push(await verifyBackup({ ...deps, record: id }));
  return out;
}
