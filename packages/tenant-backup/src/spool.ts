import { storeArtifact, type StoreArtifactOptions, type StoredArtifact } from "@hesaab/artifacts";
import { errorText } from "@hesaab/config";
import type { Publish } from "@hesaab/contracts";
import { raiseAlert, type BackupRecord, type NewBackupRecord, type ProviderCopy } from "@hesaab/db";
import { isStorageError, type LocalSpool, type StorageError } from "@hesaab/storage";
import type { ExportSummary } from "@hesaab/tenant-data";
import { finishedColumns } from "./backup";
import type { TenantBackupDeps } from "./tenant-backup-deps";

/**
 * The local spool, the last resort of a tenant backup (the design document's "local backup retention
 * until successful upload"):
 *
 *  [1] the artifact went to every provider and none took it (`storage_all_providers_failed`);
 *  [2] the backup's plaintext is produced again (a small tenant's script is still in memory; a large
 *      tenant is exported again, a new snapshot) and sealed again, under a new data key, into the
 *      spool: the same write path, only the spool as its one provider, so only BKP1 bytes reach the disk;
 *  [3] the spool records it (atomic entry: backup id, key, checksum), the record becomes `spooled`
 *      and `backup.tenant.spooled.v1` is published; storage-svc uploads it when a provider answers.
 *
 * Exporting again costs a second read of the tenant only when both clouds are down, instead of a
 * local copy of every backup on every night they are up.
 */

/** True when `err` says no provider took an artifact: the case the spool is for. */
export function noProviderTook(err: unknown): boolean {
  return isStorageError(err, "storage_all_providers_failed") && !spoolFullIn(err);
}

function spoolFullIn(err: unknown): StorageError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isStorageError(e, "storage_spool_full")) return e;
  }
  return undefined;
}

/**
 * [2] and [3]'s entry: `store` (what went to the providers) written to the spool instead, sealed
 * under a new data key. A spool without room fails with `storage_spool_full` (retryable: the bus
 * tries the backup again later, when a provider may answer) and raises a critical `spool_full` alert.
 */
export async function spoolArtifact(
  deps: Pick<TenantBackupDeps, "catalog" | "publish"> & { spool: LocalSpool },
  { store, tenantId, backupId }: { store: Omit<StoreArtifactOptions, "sealed" | "backends">; tenantId: string; backupId: string },
): Promise<StoredArtifact> {
  const { spool } = deps;
  let stored: StoredArtifact;
  try {
    stored = await storeArtifact({ ...store, backends: [spool.backend], freshKey: true });
  } catch (err) {
    await spool.discard({ backupId, key: store.key }).catch(() => {});
    const full = spoolFullIn(err);
    if (!full) throw err;
    await raiseAlert(deps, {
      severity: "critical",
      code: "spool_full",
      message: `no provider took tenant ${tenantId}'s backup and the local spool is full: the backup failed`,
      context: { tenantId, backupId, maxBytes: spool.maxBytes, dir: spool.dir },
    });
    throw full;
  }
  await spool.record({ backupId, key: stored.key, sha256: stored.sha256, size: stored.size, tenantId, spooledAt: new Date().toISOString() });
  return stored;
}

/**
 * The record columns of a spooled backup: checksum, size and key sidecar of the spooled artifact
 * (the drain checks the bytes against them), every provider `failed` with why, status `spooled`.
 */
export function spooledColumns(o: {
  deps: Pick<TenantBackupDeps, "retentionDays" | "backends">;
  record: Pick<BackupRecord, "createdAt" | "metadata">;
  stored: StoredArtifact;
  summary: ExportSummary;
  started: number;
  refused: unknown;
}) {
  const columns = finishedColumns(o);
  const error = errorText(o.refused);
  const providers: Record<string, ProviderCopy> = Object.fromEntries(o.deps.backends.map((b) => [b.name, { location: o.stored.key, status: "failed", error }]));
  return {
    ...columns,
    status: "spooled" as const,
    providers,
    b2Location: null,
    r2Location: null,
    errorMessage: error,
    metadata: { ...columns.metadata, spooledAt: new Date().toISOString() },
  } satisfies Partial<NewBackupRecord>;
}

export async function publishSpooled(
  publish: Publish,
  o: { record: BackupRecord; stored: StoredArtifact; summary: ExportSummary; refused: unknown; operationId?: string | undefined },
): Promise<void> {
  await publish("backup.tenant.spooled.v1", {
    backupId: o.record.id,
    tenantId: o.record.tenantId!,
    key: o.stored.key,
    size: o.stored.size,
    sha256: o.stored.sha256,
    rows: o.summary.rows,
    error: errorText(o.refused),
    operationId: o.operationId,
  });
}
