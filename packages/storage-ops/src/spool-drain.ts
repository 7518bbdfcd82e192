import { and, eq } from "drizzle-orm";
import { errorText } from "@hesaab/config";
import { noPublish, type ProviderName } from "@hesaab/contracts";
import { backupRecords, getBackupRecord, raiseAlert, storedArtifactColumns, type BackupRecord } from "@hesaab/db";
import {
  isStorageError,
  keysSidecarKey,
  putEverywhere,
  readAll,
  type LocalSpool,
  type ProviderOutcome,
  type SpoolEntry,
  type StorageBackend,
} from "@hesaab/storage";
import type { StorageOpsDeps } from "./storage-ops-deps";

export interface DrainReport {
  /** Uploaded (or found already there) and recorded: `completed` or `degraded`. */
  uploaded: { backupId: string; status: "completed" | "degraded"; written: string[]; alreadyStored: string[] }[];
  /** Still in the spool: no provider answered, or another drain holds it, or its backup is still running. */
  waiting: { backupId: string; reason: string }[];
  /** Removed without an upload: its record is finished already (a drain killed before removing it) or gone. */
  removed: string[];
}

/** The advisory lock one drain holds on a spooled backup, so two replicas never upload it at once. */
const LOCK_PREFIX = "hesaab.spool-drain:";

/**
 * Uploads what the local spool holds, oldest first; restart-safe and idempotent (storage-svc runs it
 * at start and on every tick). For each entry:
 *
 *  [1] its record: `spooled` → upload it; `pending`/`running` → its backup is still writing it, wait;
 *      anything else (finished by an earlier drain killed before [5], abandoned, deleted) → [5];
 *  [2] the sealed bytes to every provider through `putEverywhere` with the entry's checksum and size:
 *      a provider that already holds the same bytes (an earlier drain uploaded them, then died) is
 *      done without writing; a copy with other bytes is split brain (alert, left for a person); bytes
 *      that do not match the checksum are refused before any write completes;
 *  [3] the key sidecar (with the artifact's description) to every provider that took the artifact
 *      and lacks it; a provider that took the artifact but not the sidecar counts as failed;
 *  [4] the record: `completed` (every provider) or `degraded` (some; storage-svc heals the rest from
 *      the stored event), only while it is still `spooled`; then the events;
 *  [5] only then the spooled files go. Killed anywhere before: the next drain starts again at [1].
 */
export async function drainSpool(deps: StorageOpsDeps & { spool: LocalSpool }): Promise<DrainReport> {
  const report: DrainReport = { uploaded: [], waiting: [], removed: [] };
  const entries = await deps.spool.entries();
  for (const entry of entries) {
    if (deps.signal?.aborted) break;
    const lock = await deps.catalog.pool.connect();
    let broken: Error | undefined;
    try {
      const { rows } = await lock.query<{ ok: boolean }>("select pg_try_advisory_lock(hashtext($1 || $2)) as ok", [LOCK_PREFIX, entry.backupId]);
      if (!rows[0]?.ok) {
        report.waiting.push({ backupId: entry.backupId, reason: "another drain holds it" });
        continue;
      }
      try {
        await drainEntry(deps, entry, report);
      } finally {
        broken = await lock.query("select pg_advisory_unlock(hashtext($1 || $2))", [LOCK_PREFIX, entry.backupId]).then(
          () => undefined,
          (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
        );
      }
    } finally {
      lock.release(broken);
    }
  }
  return report;
}

async function drainEntry(deps: StorageOpsDeps & { spool: LocalSpool }, entry: SpoolEntry, report: DrainReport): Promise<void> {
  const record = await getBackupRecord(deps.catalog.db, entry.backupId);
  if (record?.status === "pending" || record?.status === "running") {
    report.waiting.push({ backupId: entry.backupId, reason: "its backup is still running" });
    return;
  }
  if (record?.status !== "spooled") {
    await deps.spool.discard(entry);
    report.removed.push(entry.backupId);
    return;
  }
  const outcomes = await uploadEverywhere(deps, entry);
  if (!outcomes) {
    report.waiting.push({ backupId: entry.backupId, reason: "no provider took it" });
    return;
  }
  const updated = await recordUploaded(deps, { record, entry, outcomes });
  if (updated) {
    await publishUploaded(deps, { record: updated, entry, outcomes }).catch(() => {});
    report.uploaded.push({
      backupId: entry.backupId,
      status: updated.status === "completed" ? "completed" : "degraded",
      written: outcomes.filter((o) => o.ok && !o.alreadyStored).map((o) => o.provider),
      alreadyStored: outcomes.filter((o) => o.alreadyStored).map((o) => o.provider),
    });
  }
  await deps.spool.discard(entry);
}

/** [2] and [3]; `undefined` when no provider holds the artifact with its sidecar (try again later). */
async function uploadEverywhere(deps: StorageOpsDeps & { spool: LocalSpool }, entry: SpoolEntry): Promise<ProviderOutcome[] | undefined> {
  const { spool, signal } = deps;
  let outcomes: ProviderOutcome[];
  try {
    const put = await putEverywhere({
      backends: deps.backends,
      key: entry.key,
      source: await spool.backend.get(entry.key, { signal }),
      expectedSha256: entry.sha256,
      expectedSize: entry.size,
      contentType: "application/octet-stream",
      signal,
    });
    outcomes = put.outcomes.map((o) => ({ ...o }));
  } catch (err) {
    if (isStorageError(err, "storage_all_providers_failed") && err.retryable) return undefined;
    await raiseAlert(deps, {
      severity: "critical",
      code: "spool_upload_refused",
      message: `the spooled backup ${entry.backupId} cannot be uploaded: ${errorText(err)}`,
      context: { backupId: entry.backupId, key: entry.key, code: (err as { code?: string }).code },
      key: `spool:${entry.backupId}:${(err as { code?: string }).code ?? "error"}`,
    });
    return undefined;
  }
  const keysKey = keysSidecarKey(entry.key);
  const info = await spool.backend.head(keysKey, { signal });
  const keys = info && (await readAll(await spool.backend.get(keysKey, { signal })));
  await Promise.all(
    outcomes.map(async (o, i) => {
      if (!o.ok) return;
      const backend = deps.backends.find((b) => b.name === o.provider)!;
      try {
        if (!keys || !info) throw new Error(`the spool holds no key sidecar for ${entry.key}`);
        await putSidecarOnce({ backend, key: keysKey, bytes: keys, metadata: info.metadata, signal });
      } catch (error) {
        outcomes[i] = { ...o, ok: false, error };
      }
    }),
  );
  return outcomes.some((o) => o.ok) ? outcomes : undefined;
}

async function putSidecarOnce(o: { backend: StorageBackend; key: string; bytes: Buffer; metadata: Record<string, string>; signal?: AbortSignal | undefined }) {
  if (await o.backend.head(o.key, { signal: o.signal })) return;
  await o.backend.put(o.key, o.bytes, { contentType: "application/json", metadata: o.metadata, signal: o.signal });
}

/** [4]: the record, only while still `spooled` (another drain may have finished it); the updated record, or undefined. */
async function recordUploaded(
  deps: StorageOpsDeps,
  { record, entry, outcomes }: { record: BackupRecord; entry: SpoolEntry; outcomes: ProviderOutcome[] },
): Promise<BackupRecord | undefined> {
  const columns = storedArtifactColumns({
    key: entry.key,
    stored: { size: entry.size, sha256: entry.sha256, dekId: record.encryptionKeyId, sidecar: record.keySidecar ?? {}, outcomes },
  });
  const [updated] = await deps.catalog.db
    .update(backupRecords)
    .set({ ...columns, errorMessage: null, metadata: { ...record.metadata, uploadedFromSpoolAt: new Date().toISOString() } })
    .where(and(eq(backupRecords.id, record.id), eq(backupRecords.status, "spooled")))
    .returning();
  return updated;
}

async function publishUploaded(
  deps: StorageOpsDeps,
  { record, entry, outcomes }: { record: BackupRecord; entry: SpoolEntry; outcomes: ProviderOutcome[] },
): Promise<void> {
  const publish = deps.publish ?? noPublish;
  const providers = outcomes.map((x) => ({ provider: x.provider as ProviderName, ok: x.ok, ...(x.ok ? {} : { error: errorText(x.error) }) }));
  await publish("storage.artifact.stored.v1", {
    backupId: record.id,
    backupType: "tenant",
    tenantId: record.tenantId,
    key: entry.key,
    size: entry.size,
    sha256: entry.sha256,
    providers,
  });
  const rows = (record.metadata as { rows?: unknown }).rows;
  await publish("backup.tenant.completed.v1", {
    backupId: record.id,
    tenantId: record.tenantId!,
    status: record.status === "completed" ? "completed" : "degraded",
    size: entry.size,
    sha256: entry.sha256,
    rows: typeof rows === "number" ? rows : 0,
    providers,
    durationMs: (record.completedAt ?? new Date()).getTime() - record.createdAt.getTime(),
  });
}
