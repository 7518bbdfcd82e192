import { and, eq, inArray } from "drizzle-orm";
import { storeArtifact } from "@hesaab/artifacts";
import { errorText, HesaabError } from "@hesaab/config";
import { newId, noPublish, type ProviderName } from "@hesaab/contracts";
import { backupRecords, insertBackupRecord, storedArtifactColumns, updateBackupRecord, type BackupRecord } from "@hesaab/db";
import { tenantBackupKey } from "@hesaab/storage";
import { discoverTenantPlan, exportTenant, type ExportProgress, type ExportSummary, type TenantPlan } from "@hesaab/tenant-data";
import type { TenantBackupDeps } from "./deps";

export interface BackupTenantOptions {
  tenantId: string;
  purpose: "scheduled" | "on_demand" | "pre_restore";
  /** One backup per tenant per period: a second run for the same period returns the first one. */
  period?: string;
  requestedBy: string;
  /** Delivery count of the job (events and logs). */
  attempt?: number;
  /** Export a suspended tenant too (rollback points). Default false: a suspended tenant is refused. */
  allowInactive?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: ExportProgress & { backupId: string }) => void;
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
 *  [4] export (one REPEATABLE READ snapshot) → gzip → BKP1 → SHA-256 → B2 and R2 at once;
 *  [5] the record becomes `completed` (both providers) or `degraded` (one), with sizes, checksum,
 *      per-provider locations, the key sidecar and the manifest; or `failed` with the error.
 *
 * The record is never `completed` for a partial artifact: it is updated only after every stored
 * copy and its sidecars were written.
 */
export async function backupTenant(deps: TenantBackupDeps, opts: BackupTenantOptions): Promise<BackupTenantResult> {
  const { catalog } = deps;
  const publish = deps.publish ?? noPublish;
  if (opts.period) {
    const existing = await findPeriodBackup(deps, { tenantId: opts.tenantId, period: opts.period });
    if (existing) return { record: existing, skipped: true };
  }
  const lock = await catalog.pool.connect();
  try {
    const { rows } = await lock.query<{ ok: boolean }>("select pg_try_advisory_lock(hashtext($1)) as ok", [`hesaab.tenant-backup:${opts.tenantId}`]);
    if (!rows[0]?.ok) {
      throw new HesaabError({ code: "backup_in_progress", retryable: true, message: `a backup of tenant ${opts.tenantId} is already running`, hint: "It will be retried when that one ends" });
    }
    try {
      if (opts.period) {
        const existing = await findPeriodBackup(deps, { tenantId: opts.tenantId, period: opts.period });
        if (existing) return { record: existing, skipped: true };
      }
      // We hold the tenant's lock: a record still `running` belongs to a worker that is gone.
      await catalog.db
        .update(backupRecords)
        .set({ status: "failed", errorMessage: "abandoned: the worker running this backup stopped before it finished", completedAt: new Date() })
        .where(and(eq(backupRecords.backupType, "tenant"), eq(backupRecords.tenantId, opts.tenantId), inArray(backupRecords.status, ["pending", "running"])));
      return { record: await runBackup(deps, opts, publish), skipped: false };
    } finally {
      await lock.query("select pg_advisory_unlock(hashtext($1))", [`hesaab.tenant-backup:${opts.tenantId}`]).catch(() => {});
    }
  } finally {
    lock.release();
  }
}

async function findPeriodBackup(deps: TenantBackupDeps, { tenantId, period }: { tenantId: string; period: string }): Promise<BackupRecord | undefined> {
  const [row] = await deps.catalog.db
    .select()
    .from(backupRecords)
    .where(
      and(
        eq(backupRecords.backupType, "tenant"),
        eq(backupRecords.tenantId, tenantId),
        eq(backupRecords.period, period),
        inArray(backupRecords.status, ["completed", "degraded"]),
      ),
    );
  return row;
}

async function runBackup(deps: TenantBackupDeps, opts: BackupTenantOptions, publish: NonNullable<TenantBackupDeps["publish"]>): Promise<BackupRecord> {
  const backupId = newId("bkp");
  const createdAt = new Date();
  const key = tenantBackupKey({ tenantId: opts.tenantId, backupId, createdAt });
  const started = Date.now();
  let record = await insertBackupRecord(deps.catalog.db, {
    id: backupId,
    backupType: "tenant",
    tenantId: opts.tenantId,
    filename: key.slice(key.lastIndexOf("/") + 1),
    encryptionKeyId: "",
    status: "running",
    purpose: opts.purpose,
    period: opts.period ?? null,
    createdAt,
    metadata: { requestedBy: opts.requestedBy, attempt: opts.attempt ?? 1 },
  });
  await publish("backup.tenant.started.v1", { backupId, tenantId: opts.tenantId, purpose: opts.purpose, attempt: opts.attempt ?? 1 });
  try {
    const exported = await exportTenant({
      pool: deps.platform,
      tenantId: opts.tenantId,
      backupId,
      plan: await cachedPlan(deps),
      discover: deps.discover,
      allowInactive: opts.allowInactive,
      signal: opts.signal,
      onProgress: (p) => {
        opts.onProgress?.({ ...p, backupId });
        void publish("backup.tenant.progress.v1", { backupId, tenantId: opts.tenantId, table: p.table, tablesDone: p.tablesDone, tablesTotal: p.tablesTotal, rows: p.rows, bytes: p.bytes });
      },
    });
    let summary: ExportSummary | undefined;
    const summaryReady = exported.done.then((s) => (summary = s));
    summaryReady.catch(() => {});
    const stored = await storeArtifact({
      plaintext: exported.stream,
      identity: { kind: "tenant", tenantId: opts.tenantId, backupId },
      keyRing: deps.keyRing,
      backends: deps.backends,
      key,
      gzipLevel: deps.gzipLevel,
      // `key` holds the backup id minted above: no provider can have it, so no head per provider.
      freshKey: true,
      meta: {
        type: "tenant",
        createdAt,
        // purpose and period let a catalog rebuilt from the bucket alone tell rollback points and nightly runs apart
        manifest: () => ({ tables: summary?.tables.length, rows: summary?.rows, schemaVersion: summary?.schemaFingerprint, plaintextBytes: summary?.bytes, purpose: opts.purpose, period: opts.period ?? null }),
      },
      signal: opts.signal,
    });
    await summaryReady;
    const done = summary!;
    const columns = storedArtifactColumns({ key, stored });
    const { status } = columns;
    record = (await updateBackupRecord(deps.catalog.db, {
      id: backupId,
      set: {
        ...columns,
        completedAt: new Date(),
        expiresAt: new Date(createdAt.getTime() + deps.retentionDays * DAY_MS),
        metadata: {
          ...record.metadata,
          key,
          rows: done.rows,
          plaintextBytes: done.bytes,
          schemaFingerprint: done.schemaFingerprint,
          tables: Object.fromEntries(done.tables.map((t) => [t.name, t.rows])),
          durationMs: Date.now() - started,
        },
      },
    }))!;
    const outcomes = stored.outcomes.map((o) => ({ provider: o.provider as ProviderName, ok: o.ok, ...(o.ok ? {} : { error: errorText(o.error) }) }));
    await publish("storage.artifact.stored.v1", { backupId, backupType: "tenant", tenantId: opts.tenantId, key, size: stored.size, sha256: stored.sha256, providers: outcomes });
    for (const failed of stored.failedProviders) {
      await publish("storage.replica.degraded.v1", { backupId, provider: failed as ProviderName, reason: "upload_failed", detail: errorText(stored.outcomes.find((o) => o.provider === failed)?.error) });
    }
    await publish("backup.tenant.completed.v1", {
      backupId,
      tenantId: opts.tenantId,
      status,
      size: stored.size,
      sha256: stored.sha256,
      rows: done.rows,
      providers: outcomes,
      durationMs: Date.now() - started,
    });
    return record;
  } catch (err) {
    await updateBackupRecord(deps.catalog.db, { id: backupId, set: { status: "failed", errorMessage: errorText(err), completedAt: new Date() } }).catch(() => {});
    throw err;
  }
}

const plans = new WeakMap<TenantBackupDeps, { plan: TenantPlan; at: number }>();

/** The tenant plan, discovered at most once per `planTtlMs` for these deps: a table created since is picked up by the next discovery, so keep the TTL short next to migrations. */
async function cachedPlan(deps: TenantBackupDeps): Promise<TenantPlan | undefined> {
  const ttl = deps.planTtlMs ?? 60_000;
  if (ttl <= 0) return undefined;
  const hit = plans.get(deps);
  if (hit && Date.now() - hit.at < ttl) return hit.plan;
  const client = await deps.platform.connect();
  try {
    const plan = await discoverTenantPlan({ client, ...deps.discover });
    plans.set(deps, { plan, at: Date.now() });
    return plan;
  } finally {
    client.release();
  }
}

/** Active tenants of the platform, from its root table (`tenants`, `status = 'active'` when it has a status column). */
export async function activeTenants(deps: Pick<TenantBackupDeps, "platform">, { table = "tenants" }: { table?: string } = {}): Promise<string[]> {
  const { rows: cols } = await deps.platform.query<{ column_name: string }>(
    "select column_name from information_schema.columns where table_schema = 'public' and table_name = $1",
    [table],
  );
  const hasStatus = cols.some((c) => c.column_name === "status");
  const { rows } = await deps.platform.query<{ id: string }>(
    `select id::text as id from public.${table.replace(/[^a-z0-9_]/gi, "")} ${hasStatus ? "where status = 'active'" : ""} order by id`,
  );
  return rows.map((r) => r.id);
}

