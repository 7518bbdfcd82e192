import { providerName, type ProviderName } from "@hesaab/contracts";
import { getBackupRecord, verifications, type BackupRecord, type Catalog, type CatalogDb } from "@hesaab/db";
import { StorageOpsError } from "./errors";

/** The record, or `storage_ops_not_found`. */
export async function loadRecord(db: CatalogDb, id: string): Promise<BackupRecord> {
  const record = await getBackupRecord(db, id);
  if (!record) throw new StorageOpsError({ code: "storage_ops_not_found", message: `no backup ${id} in the catalog`, context: { backupId: id } });
  return record;
}

export async function insertVerification(
  db: CatalogDb,
  row: { backupId: string; provider: string; depth: "keyless" | "deep"; ok: boolean; detail?: string | undefined; at?: Date },
): Promise<void> {
  await db
    .insert(verifications)
    .values({ backupId: row.backupId, provider: row.provider, depth: row.depth, ok: row.ok, detail: row.detail ?? null, ...(row.at ? { at: row.at } : {}) });
}

/** The contract's provider name, or undefined for a backend the events cannot name (e.g. an `fs` test backend). */
export function eventProvider(name: string): ProviderName | undefined {
  const parsed = providerName.safeParse(name);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Runs `fn` holding a session advisory lock on one backup (its own pool connection, blocking):
 * replication, verification healing and retention's deletion of one backup never overlap, in
 * this process or another. Do not nest for the same backup (a second connection would wait forever).
 */
export async function withBackupLock<T>({ catalog, backupId }: { catalog: Pick<Catalog, "pool">; backupId: string }, fn: () => Promise<T>): Promise<T> {
  const client = await catalog.pool.connect();
  const name = `hesaab.storage-ops:${backupId}`;
  try {
    await client.query("select pg_advisory_lock(hashtext($1))", [name]);
    try {
      return await fn();
    } finally {
      await client.query("select pg_advisory_unlock(hashtext($1))", [name]).catch(() => {});
    }
  } finally {
    client.release();
  }
}
