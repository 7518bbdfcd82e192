import { setMaxListeners } from "node:events";
import { and, eq, inArray } from "drizzle-orm";
import type pg from "pg";
import pMap from "p-map";
import { storeArtifact, type StoredArtifact } from "@hesaab/artifacts";
import { errorText } from "@hesaab/config";
import { noPublish } from "@hesaab/contracts";
import { backupRecords, finishBackupRecords, insertBackupRecords, type BackupRecord, type NewBackupRecord } from "@hesaab/db";
import { exportTenantBatch, type ExportProgress, type ExportSummary } from "@hesaab/tenant-data";
import {
  ABANDONED,
  LOCK_PREFIX,
  artifactMeta,
  backupInProgress,
  backupTenant,
  finishedColumns,
  periodRecords,
  periodTaken,
  publishStored,
  runningRecord,
  tenantPlan,
  unlock,
  type BackupTenantOptions,
} from "./backup";
import { noProviderTook, publishSpooled, spoolArtifact, spooledColumns } from "./spool";
import { largerThan, sizeOrTimeFailure } from "./bounded";
import { backupCompression, type TenantBackupDeps, readPool } from "./tenant-backup-deps";

export interface BackupTenantsOptions extends Omit<BackupTenantOptions, "tenantId" | "onProgress"> {
  tenantIds: string[];
  /** Units of work at once: a batch of small tenants, or one large tenant. Default 2. */
  concurrency?: number;
  /** Small tenants per batch (one snapshot, one COPY per table). Default 50. */
  batchSize?: number;
  /**
   * Plaintext bytes up to which a tenant is small: held in memory and backed up in a batch. A tenant
   * whose last backup was larger, or that passes it while a batch reads it, is backed up alone,
   * streamed. Memory of a batch ≤ batchSize × this. Default 1 MiB.
   */
  smallTenantBytes?: number;
  /** Called as each tenant's backup ends (progress for a terminal, events for a service). */
  onResult?: (result: TenantBackupOutcome) => void;
  /** Progress of the large tenants, backed up alone (a batch is short: it reports through `onResult`). */
  onProgress?: (p: ExportProgress & { backupId: string; tenantId: string }) => void;
}

export type TenantBackupOutcome = { tenantId: string; ok: true; record: BackupRecord; skipped: boolean } | { tenantId: string; ok: false; error: unknown };

/**
 * Tenants backed up alone, streamed: their last good backup had more plaintext than `bytes` (their
 * history routes them), or the bounded mode is set for them (by name or size: see `bounded.ts`).
 */
async function largeTenants(deps: TenantBackupDeps, tenantIds: string[], bytes: number): Promise<Set<string>> {
  const large = await largerThan(deps, tenantIds, bytes);
  for (const t of tenantIds) if (deps.bounded?.tenants?.has(t)) large.add(t);
  return large;
}

/**
 * Back up many tenants: the nightly run, `hesaab backup tenant --all`. Each tenant gets what
 * {@link backupTenant} gives it (a record, an artifact in every provider, events, the per-tenant
 * lock and period dedup) and its own outcome; one tenant's failure does not stop the others.
 *
 * What differs is the cost per tenant. Thousands of small tenants are bound by round trips, not
 * bytes, so small tenants go in batches: one lock query, one snapshot and one COPY per table for
 * the batch (`exportTenantBatch`), their keys in two queries, their scripts compressed and encrypted
 * in memory and written with one put per object, their records written in one statement each way.
 * Large tenants (by their last backup, or found during a batch) are backed up alone, streamed.
 */
export async function backupTenants(deps: TenantBackupDeps, given: BackupTenantsOptions): Promise<TenantBackupOutcome[]> {
  // Every upload of a run listens to its signal (8 artifacts at once, a few listeners each): a
  // signal of the run's own, raised once from the caller's, and allowed that many listeners.
  const run = new AbortController();
  setMaxListeners(STORE_CONCURRENCY * 16, run.signal);
  const onAbort = (): void => run.abort(given.signal?.reason);
  if (given.signal?.aborted) onAbort();
  else given.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await runUnits(deps, { ...given, signal: run.signal });
  } finally {
    given.signal?.removeEventListener("abort", onAbort);
  }
}

async function runUnits(deps: TenantBackupDeps, opts: BackupTenantsOptions): Promise<TenantBackupOutcome[]> {
  const ids = [...new Set(opts.tenantIds)];
  const small = opts.smallTenantBytes ?? 1024 * 1024;
  const batchSize = Math.max(1, opts.batchSize ?? 50);
  const large = ids.length > 1 ? await largeTenants(deps, ids, small) : new Set(ids);
  const results = new Map<string, TenantBackupOutcome>();
  const done = (r: TenantBackupOutcome): void => {
    results.set(r.tenantId, r);
    opts.onResult?.(r);
  };

  // Large tenants first: each is a long stream, best started early beside the batches.
  const units: (() => Promise<void>)[] = [];
  const alone = (tenantId: string) => async () => {
    try {
      const onProgress = opts.onProgress && ((p: ExportProgress & { backupId: string }) => opts.onProgress!({ ...p, tenantId }));
      const { record, skipped } = await backupTenant(deps, { ...opts, tenantId, onProgress });
      done({ tenantId, ok: true, record, skipped });
    } catch (error) {
      done({ tenantId, ok: false, error });
    }
  };
  for (const id of ids) if (large.has(id)) units.push(alone(id));
  const smalls = ids.filter((id) => !large.has(id));
  for (let i = 0; i < smalls.length; i += batchSize) {
    const batch = smalls.slice(i, i + batchSize);
    units.push(async () => {
      const tooLarge = await backupBatch(deps, { ...opts, tenantIds: batch, smallTenantBytes: small }, done);
      units.splice(next, 0, ...tooLarge.map(alone)); // next in line: a long stream should not start last
    });
  }
  // Units never throw (each reports its tenants). A batch may add units (its too-large tenants):
  // an idle worker waits while others run, so those get every worker too.
  let next = 0;
  let active = 0;
  const idle: (() => void)[] = [];
  const worker = async (): Promise<void> => {
    for (;;) {
      if (next < units.length) {
        active++;
        await units[next++]!();
        active--;
        for (const wake of idle.splice(0)) wake();
      } else if (active > 0) {
        await new Promise<void>((resolve) => idle.push(resolve));
      } else return;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 2) }, worker));
  return ids.map((id) => results.get(id)!);
}

/** Artifacts of a batch compressed, encrypted and uploaded at once. */
const STORE_CONCURRENCY = 8;

/**
 * One batch of small tenants. Reports each tenant through `done`; returns the tenants found too
 * large while reading, for the caller to back up alone (their records are removed: they were read
 * only in part, nothing was stored or announced). Never throws: a failure of the batch as a whole
 * (the catalog gone) fails each tenant not reported yet.
 */
async function backupBatch(deps: TenantBackupDeps, opts: BackupTenantsOptions, done: (r: TenantBackupOutcome) => void): Promise<string[]> {
  const reported = new Set<string>();
  const report = (r: TenantBackupOutcome): void => {
    if (reported.has(r.tenantId)) return;
    reported.add(r.tenantId);
    done(r);
  };
  let lock: pg.PoolClient | undefined;
  let locked: string[] = [];
  let broken: Error | undefined;
  try {
    lock = await deps.catalog.pool.connect();
    // [1] The per-tenant locks backupTenant takes, in one query.
    const { rows } = await lock.query<{ tenant_id: string; ok: boolean }>(
      "select t as tenant_id, pg_try_advisory_lock(hashtext($2 || t)) as ok from unnest($1::text[]) as t",
      [opts.tenantIds, LOCK_PREFIX],
    );
    locked = rows.filter((r) => r.ok).map((r) => r.tenant_id);
    for (const r of rows) if (!r.ok) report({ tenantId: r.tenant_id, ok: false, error: backupInProgress(r.tenant_id) });
    // [2] A period that already has its backup: that backup (or, expired or deleted, no other).
    if (opts.period && locked.length > 0) {
      for (const record of (await periodRecords(deps, { tenantIds: locked, period: opts.period })).values()) {
        const good = record.status === "completed" || record.status === "degraded";
        report(good ? { tenantId: record.tenantId!, ok: true, record, skipped: true } : { tenantId: record.tenantId!, ok: false, error: periodTaken(record) });
      }
    }
    const todo = locked.filter((t) => !reported.has(t));
    if (todo.length === 0) return [];
    // [3] We hold the locks: a record still `running` belongs to a worker that is gone.
    await deps.catalog.db
      .update(backupRecords)
      .set({ status: "failed", errorMessage: ABANDONED, completedAt: new Date() })
      .where(and(eq(backupRecords.backupType, "tenant"), inArray(backupRecords.tenantId, todo), inArray(backupRecords.status, ["pending", "running"])));
    return await runBatch(deps, { ...opts, tenantIds: todo }, report);
  } catch (error) {
    for (const t of opts.tenantIds) report({ tenantId: t, ok: false, error });
    return [];
  } finally {
    if (lock) {
      broken = await unlock(lock, locked);
      lock.release(broken);
    }
  }
}

/** [4] to [7] for the locked tenants of a batch. Throws only when the catalog or the bus failed: its records are then marked failed, best effort. */
async function runBatch(deps: TenantBackupDeps, opts: BackupTenantsOptions, report: (r: TenantBackupOutcome) => void): Promise<string[]> {
  const publish = deps.publish ?? noPublish;
  const started = Date.now();
  // [4] `running` records, one statement (all or none).
  const running = opts.tenantIds.map((tenantId) => runningRecord({ ...opts, tenantId }));
  await insertBackupRecords(deps.catalog.db, running);
  const finished = new Map<string, NewBackupRecord>();
  const fail = (record: (typeof running)[number], error: unknown): void => {
    finished.set(record.id, { ...record, status: "failed", errorMessage: errorText(error), completedAt: new Date() });
    report({ tenantId: record.tenantId, ok: false, error });
  };
  let written = false;
  try {
    // [5] One snapshot, one COPY per table.
    let exported;
    try {
      exported = await exportTenantBatch({
        pool: readPool(deps),
        plan: await tenantPlan(deps),
        tenants: running.map((r) => ({ tenantId: r.tenantId, backupId: r.id })),
        allowInactive: opts.allowInactive,
        maxTenantBytes: opts.smallTenantBytes,
        signal: opts.signal,
      });
    } catch (error) {
      // One snapshot over the whole batch lived too long (a timeout, a standby's replay): its tenants
      // leave it, each backed up alone, streamed (and bounded if that fails too). Their records go:
      // nothing was stored or announced.
      if (!opts.signal?.aborted && sizeOrTimeFailure(error, { fromStandby: deps.platformRead !== undefined })) {
        await deps.catalog.db.delete(backupRecords).where(
          inArray(
            backupRecords.id,
            running.map((r) => r.id),
          ),
        );
        written = true;
        return running.map((r) => r.tenantId);
      }
      for (const r of running) fail(r, error);
      await finishBackupRecords(deps.catalog.db, [...finished.values()]);
      written = true;
      return [];
    }
    const tooLarge = running.filter((_, i) => {
      const e = exported[i]!;
      return !e.ok && e.error.code === "export_tenant_too_large";
    });
    // Events of a batch go out together, not one round trip after another (issue 18, the night).
    await Promise.all(
      running
        .filter((r) => !tooLarge.includes(r))
        .map((r) =>
          publish("backup.tenant.started.v1", {
            backupId: r.id,
            tenantId: r.tenantId,
            purpose: opts.purpose,
            attempt: opts.attempt ?? 1,
            operationId: opts.operationId,
          }),
        ),
    );
    const scripts: { record: (typeof running)[number]; script: Buffer; summary: ExportSummary }[] = [];
    for (const [i, e] of exported.entries()) {
      const record = running[i]!;
      if (e.ok) scripts.push({ record, script: e.script, summary: e.summary });
      else if (!tooLarge.includes(record)) fail(record, e.error);
    }

    // [6] Keys in two queries, then each artifact compressed, encrypted and put, a few at once.
    const sealed = await deps.keyRing.sealNewArtifacts(scripts.map((x) => ({ kind: "tenant" as const, tenantId: x.record.tenantId, backupId: x.record.id })));
    const stored: { record: (typeof running)[number]; stored: StoredArtifact; summary: ExportSummary }[] = [];
    const spooled: { record: (typeof running)[number]; stored: StoredArtifact; summary: ExportSummary; refused: unknown }[] = [];
    const storeOne = async ({ record, script, summary }: (typeof scripts)[number], i: number): Promise<void> => {
      const keys = sealed[i]!;
      try {
        if (keys instanceof Error) throw keys;
        const artifact = await storeArtifact({
          plaintext: script,
          identity: { kind: "tenant", tenantId: record.tenantId, backupId: record.id },
          keyRing: deps.keyRing,
          sealed: keys,
          backends: deps.backends,
          key: record.metadata.key,
          ...backupCompression(deps),
          freshKey: true,
          meta: artifactMeta(opts, record.createdAt, () => summary),
          signal: opts.signal,
        });
        stored.push({ record, stored: artifact, summary });
      } catch (error) {
        if (!deps.spool || !noProviderTook(error)) {
          fail(record, error);
          return;
        }
        // no provider took it: the script is still in memory, sealed again (a new data key) into the spool
        try {
          const store = {
            plaintext: script,
            identity: { kind: "tenant" as const, tenantId: record.tenantId, backupId: record.id },
            keyRing: deps.keyRing,
            key: record.metadata.key,
            ...backupCompression(deps),
            meta: artifactMeta(opts, record.createdAt, () => summary),
            signal: opts.signal,
          };
          const artifact = await spoolArtifact({ ...deps, spool: deps.spool }, { store, tenantId: record.tenantId, backupId: record.id });
          spooled.push({ record, stored: artifact, summary, refused: error });
        } catch (spoolError) {
          fail(record, spoolError);
        }
      }
    };
    await pMap(scripts, storeOne, { concurrency: STORE_CONCURRENCY }); // never throws: each outcome is recorded

    // [7] Every outcome in one statement; the too-large tenants' records go; then the outcomes and the events.
    for (const x of stored)
      finished.set(x.record.id, { ...x.record, ...finishedColumns({ deps, record: x.record, stored: x.stored, summary: x.summary, started }) });
    for (const x of spooled)
      finished.set(x.record.id, {
        ...x.record,
        ...spooledColumns({ deps, record: x.record, stored: x.stored, summary: x.summary, started, refused: x.refused }),
      });
    const records = new Map((await finishBackupRecords(deps.catalog.db, [...finished.values()])).map((r) => [r.id, r]));
    written = true;
    if (tooLarge.length > 0)
      await deps.catalog.db.delete(backupRecords).where(
        inArray(
          backupRecords.id,
          tooLarge.map((r) => r.id),
        ),
      );
    for (const x of [...stored, ...spooled]) report({ tenantId: x.record.tenantId, ok: true, record: records.get(x.record.id)!, skipped: false });
    // The backup is done and recorded: an event that cannot be sent is not a reason to do it again
    // (storage-svc's sweep verifies and heals what its stored event would have announced).
    // Each tenant's events keep their order; the tenants' go out together (issue 18, the night).
    await Promise.all([
      ...stored.map((x) =>
        publishStored(publish, { record: records.get(x.record.id)!, stored: x.stored, summary: x.summary, started, operationId: opts.operationId }).catch(
          () => {},
        ),
      ),
      ...spooled.map((x) =>
        publishSpooled(publish, {
          record: records.get(x.record.id)!,
          stored: x.stored,
          summary: x.summary,
          refused: x.refused,
          operationId: opts.operationId,
        }).catch(() => {}),
      ),
    ]);
    return tooLarge.map((r) => r.tenantId);
  } catch (error) {
    if (!written) {
      const open = running
        .filter((r) => !finished.has(r.id))
        .map((r) => ({ ...r, status: "failed" as const, errorMessage: errorText(error), completedAt: new Date() }));
      await finishBackupRecords(deps.catalog.db, [...finished.values(), ...open]).catch(() => {});
    }
    throw error;
  }
}
