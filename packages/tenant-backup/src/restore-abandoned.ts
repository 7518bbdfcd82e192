/**
 * Restore records of a process that died. A restore holds a session advisory lock named after its
 * operation on a catalog connection of its own from before its record is written until it ends; the
 * lock goes with the connection when the process dies. So a record still `pending`/`verifying`/
 * `snapshotting`/`restoring` whose lock can be taken belongs to no live process: it is marked failed
 * with {@link RESTORE_ABANDONED} (as backups are, see `ABANDONED`), and a live restore, holding its
 * lock, is never touched. The database side of a killed restore ends on its own: the load's
 * transaction sets `client_connection_check_interval`, so its backend stops within seconds.
 */
import { and, eq, inArray } from "drizzle-orm";
import type pg from "pg";
import { restoreOperations } from "@hesaab/db";
import type { TenantBackupDeps } from "./tenant-backup-deps";

export const RESTORE_ABANDONED = "abandoned: the process running this restore stopped before it finished";
const OPERATION_LOCK = "hesaab.restore-operation:";
const UNFINISHED = ["pending", "verifying", "snapshotting", "restoring"] as const;

/** Runs `fn` holding the operation's lock (a catalog connection kept for the whole restore). */
export async function withOperationLock<T>(deps: Pick<TenantBackupDeps, "catalog">, operationId: string, fn: () => Promise<T>): Promise<T> {
  const lock = await deps.catalog.pool.connect();
  let broken: Error | undefined;
  try {
    await lock.query("SELECT pg_advisory_lock(hashtext($1 || $2))", [OPERATION_LOCK, operationId]);
    try {
      return await fn();
    } finally {
      broken = await lock.query("SELECT pg_advisory_unlock(hashtext($1 || $2))", [OPERATION_LOCK, operationId]).then(
        () => undefined,
        (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
      );
    }
  } finally {
    // a connection whose unlock failed is destroyed, so the lock cannot outlive the restore in the pool
    lock.release(broken);
  }
}

/** Marks the restore records of dead processes abandoned; returns their ids. */
export async function markAbandonedRestores(deps: Pick<TenantBackupDeps, "catalog">): Promise<string[]> {
  const open = await deps.catalog.db
    .select({ id: restoreOperations.id })
    .from(restoreOperations)
    .where(inArray(restoreOperations.status, [...UNFINISHED]));
  if (open.length === 0) return [];
  const client: pg.PoolClient = await deps.catalog.pool.connect();
  const marked: string[] = [];
  try {
    for (const { id } of open) {
      const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext($1 || $2)) AS ok", [OPERATION_LOCK, id]);
      if (!rows[0]?.ok) continue; // its process is alive
      try {
        const done = await deps.catalog.db
          .update(restoreOperations)
          .set({ status: "failed", errorMessage: RESTORE_ABANDONED, completedAt: new Date() })
          .where(and(eq(restoreOperations.id, id), inArray(restoreOperations.status, [...UNFINISHED])))
          .returning({ id: restoreOperations.id });
        marked.push(...done.map((d) => d.id));
      } finally {
        await client.query("SELECT pg_advisory_unlock(hashtext($1 || $2))", [OPERATION_LOCK, id]);
      }
    }
  } finally {
    client.release();
  }
  return marked;
}
