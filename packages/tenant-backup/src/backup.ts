import { and, eq, inArray, notInArray } from "drizzle-orm";
import type pg from "pg";
import { storeArtifact, type StoreArtifactOptions, type StoredArtifact } from "@hesaab/artifacts";
import { errorText } from "@hesaab/config";
import { newId, noPublish, type ProviderName, type Publish } from "@hesaab/contracts";
import { backupRecords, insertBackupRecord, storedArtifactColumns, updateBackupRecord, type BackupRecord, type NewBackupRecord } from "@hesaab/db";
import { tenantBackupKey, type StorageBackend } from "@hesaab/storage";
import {
  discoverTenantPlan,
  exportTenant,
  exportTenantBounded,
  browseTenants,
  countTenantRows,
  listTenants,
  screenTenants,
  type TenantDirectoryPage,
  type TenantRank,
  type ExportProgress,
  type ExportSummary,
  type TenantPlan,
  type TenantScreening,
  ROW_CHECKSUM_ALGORITHM,
} from "@hesaab/tenant-data";
import { backupCompression, type TenantBackupDeps, readPool } from "./tenant-backup-deps";
import { TenantBackupError } from "./errors";
import { noProviderTook, publishSpooled, spoolArtifact, spooledColumns } from "./spool";
import { type BoundedReason, boundedManifest, boundedMetadata, sizeOrTimeFailure, sqlStateIn, startsBounded } from "./bounded";

export interface BackupTenantOptions {
  tenantId: string;
  purpose: "scheduled" | "on_demand" | "pre_restore";
  /** One backup per tenant per period: a second run for the same period returns the first one. */
  period?: string | undefined;
  requestedBy: string;
  /** Delivery count of the job (events and logs). */
  attempt?: number | undefined;
  /** Export a suspended tenant too (rollback points). Default false: a suspended tenant is refused. */
  allowInactive?: boolean | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((p: ExportProgress & { backupId: string }) => void) | undefined;
  /** The operation the backup belongs to (its request's id): carried on its events, so live progress finds them. */
  operationId?: string | undefined;
}

export interface BackupTenantResult {
  record: BackupRecord;
  /** True when the period already had a backup and nothing was done. */
  skipped: boolean;
}

const DAY_MS = 86_400_000;

/**
 * One tenant's backup, end to end:
 *
 *  [1] a period that already has a good backup → that backup (idempotent: JetStream redelivers);
 *  [2] a per-tenant lock in the catalog, so two workers never back up one tenant at once;
 *  [3] a `running` record (a record left `running` by a worker that died is marked failed first);
 *  [4] export (one REPEATABLE READ snapshot; bounded for large tenants, see `bounded.ts`) → gzip → BKP1 → SHA-256 → B2 and R2 at once;
 *  [5] the record becomes `completed` (both providers) or `degraded` (one), with sizes, checksum,
 *      per-provider locations, the key sidecar and the manifest; or `failed` with the error;
 *  [6] no provider took it and `deps.spool` is set: exported again into the local spool (sealed,
 *      see `spool.ts`), the record becomes `spooled`; storage-svc uploads it later.
 *
 * The record is never `completed` for a partial artifact: it is updated only after every stored
 * copy and its sidecars were written.
 */
export async function backupTenant(deps: TenantBackupDeps, opts: BackupTenantOptions): Promise<BackupTenantResult> {
  const { catalog } = deps;
  const publish = deps.publish ?? noPublish;
  const period = async () =>
    opts.period && existingPeriodBackup((await periodRecords(deps, { tenantIds: [opts.tenantId], period: opts.period })).get(opts.tenantId));
  const done = await period();
  if (done) return done;
  const lock = await catalog.pool.connect();
  let broken: Error | undefined;
  try {
    const { rows } = await lock.query<{ ok: boolean }>("select pg_try_advisory_lock(hashtext($1 || $2)) as ok", [LOCK_PREFIX, opts.tenantId]);
    if (!rows[0]?.ok) throw backupInProgress(opts.tenantId);
    try {
      const existing = await period();
      if (existing) return existing;
      // We hold the tenant's lock: a record still `running` belongs to a worker that is gone.
      await catalog.db
        .update(backupRecords)
        .set({ status: "failed", errorMessage: ABANDONED, completedAt: new Date() })
        .where(and(eq(backupRecords.backupType, "tenant"), eq(backupRecords.tenantId, opts.tenantId), inArray(backupRecords.status, ["pending", "running"])));
      return { record: await runBackupRetryingStandby(deps, opts, publish), skipped: false };
    } finally {
      broken = await unlock(lock, [opts.tenantId]);
    }
  } finally {
    lock.release(broken);
  }
}

/**
 * Releases tenants' backup locks held by `lock`. Returns the error when that failed: release the
 * connection with it (destroyed, not pooled), so no lock outlives the backup in a pooled session.
 */
export async function unlock(lock: pg.PoolClient, tenantIds: string[]): Promise<Error | undefined> {
  if (tenantIds.length === 0) return undefined;
  try {
    await lock.query("select pg_advisory_unlock(hashtext($2 || t)) from unnest($1::text[]) as t", [tenantIds, LOCK_PREFIX]);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** The advisory lock of a tenant's backup is `hashtext(LOCK_PREFIX || tenantId)`, taken by single and batch backups alike. */
export const LOCK_PREFIX = "hesaab.tenant-backup:";
export const ABANDONED = "abandoned: the worker running this backup stopped before it finished";

export function backupInProgress(tenantId: string): TenantBackupError {
  return new TenantBackupError({
    code: "backup_in_progress",
    retryable: true,
    message: `a backup of tenant ${tenantId} is already running`,
    hint: "It will be retried when that one ends",
  });
}

/**
 * The record a period already has for each of `tenantIds` (at most one that is not `failed`, by the
 * catalog's unique index): a good one is the period's backup; an expired or deleted one means the
 * period had its backup (see {@link periodTaken}); one still `pending`/`running` is not returned.
 */
export async function periodRecords(
  deps: Pick<TenantBackupDeps, "catalog">,
  { tenantIds, period }: { tenantIds: string[]; period: string },
): Promise<Map<string, BackupRecord>> {
  const rows = await deps.catalog.db
    .select()
    .from(backupRecords)
    .where(
      and(
        eq(backupRecords.backupType, "tenant"),
        inArray(backupRecords.tenantId, tenantIds),
        eq(backupRecords.period, period),
        notInArray(backupRecords.status, ["failed", "pending", "running"]),
      ),
    );
  return new Map(rows.map((r) => [r.tenantId!, r]));
}

/** A period whose backup expired or was deleted gets no second one: the record is there, and a new one would break the one-per-period rule. */
export function periodTaken(record: BackupRecord): TenantBackupError {
  return new TenantBackupError({
    code: "backup_period_taken",
    retryable: false,
    message: `tenant ${record.tenantId}'s backup for period ${record.period} (${record.id}) is ${record.status}: the period gets no other`,
    hint: "Take an on-demand backup (no period) instead",
    context: { tenantId: record.tenantId, period: record.period, backupId: record.id },
  });
}

/** A period's existing good backup (skipped), or `periodTaken`; undefined when the period has none yet. */
function existingPeriodBackup(record: BackupRecord | undefined): BackupTenantResult | undefined {
  if (!record) return undefined;
  if (record.status === "completed" || record.status === "degraded") return { record, skipped: true };
  throw periodTaken(record);
}

/** Attempts of a backup: a standby's replay cancelled it (SQLSTATE 40001, `max_standby_streaming_delay`), or it failed for size or time and runs bounded. */
const STANDBY_ATTEMPTS = 3;

/**
 * Runs the backup, and again when it failed in a way another run may cure:
 *
 * - for size or time (see `bounded.ts`: a statement or snapshot that lived too long, memory): once
 *   more in the bounded mode (short per-table, keyset-paged transactions; no single snapshot), unless
 *   it already ran bounded; a tenant named in the settings or larger than their threshold starts so;
 * - a standby cancels a long read that holds back its replay (`max_standby_streaming_delay`) with
 *   SQLSTATE 40001: the next attempt runs bounded (short reads are what replay tolerates), a few times.
 *
 * Each attempt is a new record; the one that failed stays `failed` with its error. A rollback point
 * (`pre_restore`) is never bounded: it must be one snapshot of the rows the restore replaces.
 */
async function runBackupRetryingStandby(
  deps: TenantBackupDeps,
  opts: BackupTenantOptions,
  publish: NonNullable<TenantBackupDeps["publish"]>,
): Promise<BackupRecord> {
  const mayBound = opts.purpose !== "pre_restore";
  let bounded = mayBound ? await startsBounded(deps, opts.tenantId) : undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await runBackup(deps, { ...opts, bounded }, publish);
    } catch (err) {
      const fromStandby = deps.platformRead !== undefined && mayBound;
      if (attempt >= STANDBY_ATTEMPTS || opts.signal?.aborted) throw err;
      const reason = mayBound ? sizeOrTimeFailure(err, { fromStandby }) : undefined;
      if (reason && !bounded) bounded = `failure:${reason}`;
      else if (!(fromStandby && sqlStateIn(err) === "40001")) throw err;
    }
  }
}

/** One attempt; `bounded` says why it runs in the bounded mode (see `bounded.ts`), if it does. */
async function runBackup(
  deps: TenantBackupDeps,
  opts: BackupTenantOptions & { bounded: BoundedReason | undefined },
  publish: NonNullable<TenantBackupDeps["publish"]>,
): Promise<BackupRecord> {
  const { bounded } = opts;
  const started = Date.now();
  const running = runningRecord(opts);
  if (bounded) Object.assign(running.metadata, { mode: "bounded", boundedReason: bounded });
  const { id: backupId, createdAt } = running;
  const key = running.metadata.key;
  let record = await insertBackupRecord(deps.catalog.db, running);
  await publish("backup.tenant.started.v1", {
    backupId,
    tenantId: opts.tenantId,
    purpose: opts.purpose,
    attempt: opts.attempt ?? 1,
    operationId: opts.operationId,
  });
  // [4] export → seal → every provider; when none took it and a spool is set, export again into the spool
  const exportAndStore = async (backends: StorageBackend[] | "spool") => {
    const exported = await (bounded ? exportTenantBounded : exportTenant)({
      // a rollback point must hold the rows the restore replaces: the primary's, never a lagging standby's
      pool: opts.purpose === "pre_restore" ? deps.platform : readPool(deps),
      pageRows: deps.bounded?.pageRows,
      tenantId: opts.tenantId,
      backupId,
      plan: await tenantPlan(deps),
      discover: deps.discover,
      allowInactive: opts.allowInactive,
      signal: opts.signal,
      onProgress: (p) => {
        opts.onProgress?.({ ...p, backupId });
        void publish("backup.tenant.progress.v1", {
          backupId,
          tenantId: opts.tenantId,
          table: p.table,
          tablesDone: p.tablesDone,
          tablesTotal: p.tablesTotal,
          rows: p.rows,
          bytes: p.bytes,
          operationId: opts.operationId,
        });
      },
    });
    let summary: ExportSummary | undefined;
    const summaryReady = exported.done.then((s) => (summary = s));
    summaryReady.catch(() => {});
    const store = {
      plaintext: exported.stream,
      identity: { kind: "tenant" as const, tenantId: opts.tenantId, backupId },
      keyRing: deps.keyRing,
      key,
      ...backupCompression(deps),
      // `key` holds the backup id minted above: no provider can have it, so no head per provider.
      freshKey: true,
      meta: artifactMeta(opts, createdAt, () => summary),
      signal: opts.signal,
    };
    const stored =
      backends === "spool"
        ? await spoolArtifact({ ...deps, spool: deps.spool! }, { store, tenantId: opts.tenantId, backupId })
        : await storeArtifact({ ...store, backends });
    await summaryReady;
    return { stored, summary: summary! };
  };
  try {
    let refused: unknown;
    const { stored, summary } = await exportAndStore(deps.backends).catch(async (err: unknown) => {
      if (!deps.spool || !noProviderTook(err)) throw err;
      refused = err;
      return exportAndStore("spool");
    });
    if (refused !== undefined) {
      const set = spooledColumns({ deps, record, stored, summary, started, refused });
      record = (await updateBackupRecord(deps.catalog.db, { id: backupId, set }))!;
      await publishSpooled(publish, { record, stored, summary, refused, operationId: opts.operationId });
      return record;
    }
    record = (await updateBackupRecord(deps.catalog.db, { id: backupId, set: finishedColumns({ deps, record, stored, summary, started }) }))!;
    await publishStored(publish, { record, stored, summary, started, operationId: opts.operationId });
    return record;
  } catch (err) {
    await updateBackupRecord(deps.catalog.db, { id: backupId, set: { status: "failed", errorMessage: errorText(err), completedAt: new Date() } }).catch(
      () => {},
    );
    throw err;
  }
}

type BackupRun = Pick<BackupTenantOptions, "tenantId" | "purpose" | "period" | "requestedBy" | "attempt">;

/** The `running` record a backup starts with: a fresh backup id, and the object key it will be stored under. */
export function runningRecord(opts: BackupRun) {
  const id = newId("bkp");
  const createdAt = new Date();
  const key = tenantBackupKey({ tenantId: opts.tenantId, backupId: id, createdAt });
  return {
    id,
    backupType: "tenant" as const,
    tenantId: opts.tenantId,
    filename: key.slice(key.lastIndexOf("/") + 1),
    encryptionKeyId: "",
    status: "running" as const,
    purpose: opts.purpose,
    period: opts.period ?? null,
    createdAt,
    metadata: { requestedBy: opts.requestedBy, attempt: opts.attempt ?? 1, key },
  } satisfies NewBackupRecord;
}

/** The description a tenant backup's key sidecar carries (`summary` is known once the export ended). */
export function artifactMeta(
  opts: Pick<BackupRun, "purpose" | "period">,
  createdAt: Date,
  summary: () => ExportSummary | undefined,
): StoreArtifactOptions["meta"] {
  return {
    type: "tenant",
    createdAt,
    // purpose and period let a catalog rebuilt from the bucket alone tell rollback points and nightly runs apart
    manifest: () => {
      const s = summary();
      return {
        tables: s?.tables.length,
        rows: s?.rows,
        schemaVersion: s?.schemaFingerprint,
        plaintextBytes: s?.bytes,
        // per table [rows, checksum] (tenant-data ./checksum), as JSON text: the summary holds flat values only
        tableChecksums: s ? JSON.stringify(Object.fromEntries(s.tables.map((t) => [t.name, [t.rows, t.checksum]]))) : undefined,
        checksumAlgorithm: s ? ROW_CHECKSUM_ALGORITHM : undefined,
        purpose: opts.purpose,
        period: opts.period ?? null,
        // a bounded backup says so where a catalog rebuilt from the bucket alone can see it
        ...boundedManifest(s),
      };
    },
  };
}

/** The record columns of a stored backup: copies and status (`completed` or `degraded`), expiry, counts. */
export function finishedColumns(o: {
  deps: Pick<TenantBackupDeps, "retentionDays">;
  record: Pick<BackupRecord, "createdAt" | "metadata">;
  stored: StoredArtifact;
  summary: ExportSummary;
  started: number;
}) {
  const { record, summary } = o;
  return {
    ...storedArtifactColumns({ key: o.stored.key, stored: o.stored }),
    completedAt: new Date(),
    expiresAt: new Date(record.createdAt.getTime() + o.deps.retentionDays * DAY_MS),
    metadata: {
      ...record.metadata,
      rows: summary.rows,
      plaintextBytes: summary.bytes,
      // what the artifact's header says too: a meta sidecar regenerated from the catalog needs it
      contentEncoding: o.stored.contentEncoding,
      schemaFingerprint: summary.schemaFingerprint,
      tables: Object.fromEntries(summary.tables.map((t) => [t.name, t.rows])),
      checksums: Object.fromEntries(summary.tables.map((t) => [t.name, t.checksum])),
      checksumAlgorithm: ROW_CHECKSUM_ALGORITHM,
      durationMs: Date.now() - o.started,
      ...(summary.source ? { readFrom: summary.source.standby ? "standby" : "primary", replayLagSeconds: summary.source.replayLagSeconds } : {}),
      ...boundedMetadata(summary),
    },
  } satisfies Partial<NewBackupRecord>;
}

/** The events of a stored backup: stored (storage-svc verifies and heals from it), degraded per failed provider, completed. */
export async function publishStored(
  publish: Publish,
  o: { record: BackupRecord; stored: StoredArtifact; summary: ExportSummary; started: number; operationId?: string | undefined },
): Promise<void> {
  const { record, stored } = o;
  const backupId = record.id;
  const tenantId = record.tenantId!;
  const outcomes = stored.outcomes.map((x) => ({ provider: x.provider as ProviderName, ok: x.ok, ...(x.ok ? {} : { error: errorText(x.error) }) }));
  await publish("storage.artifact.stored.v1", {
    backupId,
    backupType: "tenant",
    tenantId,
    key: stored.key,
    size: stored.size,
    sha256: stored.sha256,
    providers: outcomes,
  });
  for (const failed of stored.failedProviders) {
    await publish("storage.replica.degraded.v1", {
      backupId,
      provider: failed as ProviderName,
      reason: "upload_failed",
      detail: errorText(stored.outcomes.find((x) => x.provider === failed)?.error),
    });
  }
  await publish("backup.tenant.completed.v1", {
    backupId,
    tenantId,
    status: record.status === "degraded" ? "degraded" : "completed",
    size: stored.size,
    sha256: stored.sha256,
    rows: o.summary.rows,
    sourceBytes: o.summary.bytes,
    providers: outcomes,
    durationMs: Date.now() - o.started,
    operationId: o.operationId,
  });
}

const plans = new WeakMap<object, { plan: Promise<TenantPlan>; at: number }>();

/**
 * The tenant plan, discovered at most once per `planTtlMs` for these deps (0: every time): a table
 * created since is picked up by the next discovery, so keep the TTL short next to migrations.
 * Callers that come while a discovery runs share it (one connection, not one each). Never call it
 * holding a connection of `deps.platform`: it takes one of its own.
 */
export async function tenantPlan(deps: Pick<TenantBackupDeps, "platform" | "platformRead" | "discover" | "planTtlMs">): Promise<TenantPlan> {
  const ttl = deps.planTtlMs ?? 60_000;
  const hit = plans.get(deps);
  if (ttl > 0 && hit && Date.now() - hit.at < ttl) return hit.plan;
  const discovering = (async () => {
    const client = await readPool(deps).connect();
    try {
      return await discoverTenantPlan({ client, ...deps.discover });
    } finally {
      client.release();
    }
  })();
  if (ttl > 0) {
    const entry = { plan: discovering, at: Date.now() };
    plans.set(deps, entry);
    // a failed discovery is not cached: the next caller tries again
    discovering.catch(() => {
      if (plans.get(deps) === entry) plans.delete(deps);
    });
  }
  return discovering;
}

/** The platform's active tenants (not suspended or deleted), from the discovered root table, in key order. */
export async function activeTenants(deps: Pick<TenantBackupDeps, "platform" | "discover" | "planTtlMs">): Promise<string[]> {
  return listTenants({ pool: deps.platform, plan: await tenantPlan(deps), which: "active" });
}

/** One page of the platform's tenants (id, name, status) from the discovered root table: see `browseTenants`. */
export async function tenantDirectory(
  deps: Pick<TenantBackupDeps, "platform" | "discover" | "planTtlMs">,
  q: { limit: number; cursor?: string | undefined; search?: string | undefined; status?: string | undefined; rank?: TenantRank | undefined },
): Promise<TenantDirectoryPage> {
  return browseTenants({ pool: deps.platform, plan: await tenantPlan(deps), ...q });
}

/**
 * A tenant's rows per table of the discovered plan as they are now (the restore wizard's "rows now"
 * beside a backup's), counted in one read-only snapshot on the read pool. An id that is no tenant of
 * the platform is refused (`invalid_tenant_id`, `tenant_not_found`) before any count runs.
 */
export async function tenantRowCounts(
  deps: Pick<TenantBackupDeps, "platform" | "platformRead" | "discover" | "planTtlMs">,
  tenantId: string,
): Promise<Record<string, number>> {
  const plan = await tenantPlan(deps);
  const { refused } = await screenTenants({ pool: deps.platform, plan, tenantIds: [tenantId] });
  const why = refused[0];
  // a suspended tenant still has rows to count: only ids that are no tenant at all are refused
  if (why && why.code !== "tenant_not_active")
    throw new TenantBackupError({
      code: why.code === "invalid_tenant_id" ? "invalid_tenant_id" : "tenant_not_found",
      message: why.message,
      hint: "Give the id of a tenant of the platform (tenants.list)",
    });
  const client = await readPool(deps).connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const rows = await countTenantRows({ client, plan, tenantId });
    await client.query("COMMIT");
    client.release();
    return rows;
  } catch (err) {
    client.release(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
}

/** The platform's tenants not deleted (retention keeps each one's last good backup: a suspended tenant may come back), in key order. */
export async function existingTenants(deps: Pick<TenantBackupDeps, "platform" | "discover" | "planTtlMs">): Promise<string[]> {
  return listTenants({ pool: deps.platform, plan: await tenantPlan(deps), which: "existing" });
}

/**
 * Which of the requested ids may be backed up (tenants of the platform, active), and why the others
 * may not: checked before anything is queued, so "back up now" answers per id instead of a job
 * failing later (see `screenTenants`).
 */
export async function screenBackupRequest(
  deps: Pick<TenantBackupDeps, "platform" | "discover" | "planTtlMs">,
  { tenantIds }: { tenantIds: string[] },
): Promise<TenantScreening> {
  return screenTenants({ pool: deps.platform, plan: await tenantPlan(deps), tenantIds });
}
