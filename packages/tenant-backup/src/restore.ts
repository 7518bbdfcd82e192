import { rm } from "node:fs/promises";
import path from "node:path";
import { eq } from "drizzle-orm";
import type pg from "pg";
import pMap from "p-map";
import { openStaged, stageArtifact, verifyStaged, type ArtifactRef, type StagedArtifact } from "@hesaab/artifacts";
import { describeError, isHesaabError, redactUrl, type HesaabError } from "@hesaab/config";
import { newId, noPublish, type ProviderName } from "@hesaab/contracts";
import { getBackupRecord, latestRestorableBackup, openPool, recordedPlaintext, restoreOperations, writeAudit, RESTORABLE, type BackupRecord } from "@hesaab/db";
import type { StorageBackend } from "@hesaab/storage";
import { checkDependencies, copyDependencies, dependencyTables, loadTenantScript } from "@hesaab/tenant-data";
import { backupTenant, tenantPlan } from "./backup";
import type { TenantBackupDeps } from "./tenant-backup-deps";
import { TenantBackupError } from "./errors";
import { markAbandonedRestores, withOperationLock } from "./restore-abandoned";

export interface RestoreRequest {
  operationId?: string;
  tenantIds?: string[] | undefined;
  /** Every tenant that has a restorable backup (at or before `at`). */
  all?: boolean | undefined;
  backupId?: string | undefined;
  /** The latest backup at or before this time (default: the latest). */
  at?: Date | undefined;
  provider: ProviderName;
  /**
   * Restore as a copy into this database instead of production. Its schema must exist; the global
   * tables tenant rows reference (the plan's dependencies) must hold the platform's rows, or the
   * restore is refused before anything is written, naming them (see `withDependencies`).
   */
  targetDb?: string | undefined;
  /** With `targetDb`: copy the global tables' rows the tenants need from the platform first (rows the target has are kept). */
  withDependencies?: boolean | undefined;
  allowDroppedColumns?: boolean | undefined;
  /** A dry run: steps [1] and [2] only (each backup fetched, checksum and authenticated decrypt checked), reported; no database is touched. */
  verifyOnly?: boolean | undefined;
  requestedBy: string;
  /** Tenants restored at once. Default 2. */
  concurrency?: number;
  signal?: AbortSignal | undefined;
  onProgress?: (p: RestoreProgress) => void;
}

export interface RestoreProgress {
  tenantId: string;
  phase: "verifying" | "snapshotting" | "restoring" | "checking";
  percentage: number;
  bytesDone: number;
  bytesTotal: number;
  rowsDone: number;
}

export interface TenantRestoreOutcome {
  tenantId: string;
  ok: boolean;
  backupId?: string;
  providerUsed?: string;
  /** Providers that could not serve a good copy (fallback happened). */
  fallbackFrom?: string[];
  rows?: number;
  /** The pre-restore snapshot (rollback point), when production was touched. */
  rollbackBackupId?: string | null;
  /** A dry run: the backup was verified, nothing was restored. */
  verifiedOnly?: true;
  /** From the load, e.g. foreign keys checked row by row (the role lacks the grant): slow for big tenants. */
  warnings?: string[];
  error?: { code: string; message: string; retryable: boolean };
}

export interface RestoreReport {
  operationId: string;
  status: "completed" | "partial" | "failed";
  tenants: TenantRestoreOutcome[];
  rollbackAvailable: boolean;
  /** With `withDependencies`: the global tables copied into the target, and the rows each gained. */
  dependencies?: { table: string; rows: number }[];
}

type Target = { pool: pg.Pool; external: boolean };

/**
 * Restores one, several or all tenants. A copy (`targetDb`) is checked first: the global tables
 * tenant rows reference must be there with the platform's rows, or be copied (`withDependencies`),
 * else nothing is written and nothing recorded. Then per tenant, in this order, so that a failure
 * at any step leaves the tenant exactly as it was:
 *
 *  [1] pick the backup (given, or the latest restorable one at or before `at`);
 *  [2] stage it from the chosen provider, falling back to the other when the copy is missing or
 *      its checksum is wrong; decrypt and decompress all of it to nowhere (authenticated);
 *  [3] production only: take a normal, encrypted backup of the tenant's current rows (the rollback
 *      point, `purpose = pre_restore`), recorded on the operation;
 *  [4] one transaction: delete the tenant's rows, load the backup (mapped by column name), check
 *      row counts against the manifest, move sequences, commit (`loadTenantScript`).
 *
 * Tenants run with bounded concurrency; one failing is reported and does not stop the others.
 * The staging folder (`<workDir>/<operation id>`) is removed when the restore ends, however it ends.
 */
export async function restoreTenants(deps: TenantBackupDeps, req: RestoreRequest): Promise<RestoreReport> {
  const operationId = req.operationId ?? newId("rst");
  const plan = await resolveBackups(deps, req);
  // a dry run touches no database: not even a copy's target is opened
  const target: Target =
    req.targetDb && !req.verifyOnly
      ? { pool: openPool({ url: req.targetDb, max: 4, name: "hesaab-restore" }), external: true }
      : { pool: deps.platform, external: false };
  const staging = path.join(deps.workDir, operationId);
  try {
    const dependencies = target.external
      ? await prepareCopyTarget(deps, { target: target.pool, targetDb: req.targetDb!, withDependencies: req.withDependencies ?? false })
      : undefined;
    await markAbandonedRestores(deps);
    const report = await withOperationLock(deps, operationId, () => restoreInto(deps, { req, plan, target, operationId }));
    return dependencies ? { ...report, dependencies } : report;
  } finally {
    if (target.external) await target.pool.end().catch(() => {});
    // the staged artifacts went one by one; their folder goes when the restore ends, however it ends
    await rm(staging, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Before a copy is written to: the target must have the global tables tenant rows reference, with
 * the platform's rows (fewer rows there and a tenant's foreign key may find none). A missing table
 * is always refused (its definition is the platform's to give: `pg_dump --schema-only -t`); rows
 * are copied with `withDependencies`, else refused naming the tables.
 */
async function prepareCopyTarget(
  deps: TenantBackupDeps,
  o: { target: pg.Pool; targetDb: string; withDependencies: boolean },
): Promise<{ table: string; rows: number }[]> {
  const tables = await dependencyTables({ pool: deps.platform, plan: await tenantPlan(deps) });
  const check = await checkDependencies({ source: deps.platform, target: o.target, tables });
  const where = redactUrl(o.targetDb);
  if (check.missingTables.length > 0) {
    throw new TenantBackupError({
      code: "restore_target_missing_tables",
      message: `the target database ${where} lacks the global tables ${check.missingTables.join(", ")} that tenant rows reference`,
      hint: `Create them with the platform's definitions first (pg_dump --schema-only ${check.missingTables.map((t) => `-t ${t}`).join(" ")}), then restore with --with-dependencies`,
      context: { missingTables: check.missingTables },
    });
  }
  if (check.shortTables.length > 0 && !o.withDependencies) {
    throw new TenantBackupError({
      code: "restore_target_missing_dependencies",
      message: `the target database ${where} lacks rows of the global tables tenant rows reference: ${check.shortTables.map((t) => `${t.name} (${t.rows} of the platform's ${t.sourceRows} rows)`).join(", ")}`,
      hint: "Restore with --with-dependencies to copy them from the platform first, or fill them yourself",
      context: { shortTables: check.shortTables },
    });
  }
  return o.withDependencies ? copyDependencies({ source: deps.platform, target: o.target, tables }) : [];
}

async function restoreInto(
  deps: TenantBackupDeps,
  { req, plan, target, operationId }: { req: RestoreRequest; plan: PlannedRestore[]; target: Target; operationId: string },
): Promise<RestoreReport> {
  const publish = deps.publish ?? noPublish;
  const tenantIds = plan.map((p) => p.tenantId);
  await deps.catalog.db
    .insert(restoreOperations)
    .values({
      id: operationId,
      backupRecordId: plan.length === 1 ? (plan[0]!.record?.id ?? null) : null,
      restoreType: req.all ? "full" : tenantIds.length > 1 ? "multiple" : "individual",
      targetTenants: tenantIds,
      storageProvider: req.provider,
      targetDb: req.targetDb ? redactUrl(req.targetDb) : null,
      status: "verifying",
      initiatedBy: req.requestedBy,
    })
    .onConflictDoNothing();
  await writeAudit(deps.catalog.db, {
    actor: req.requestedBy,
    action: "restore.requested",
    targetType: "restore_operation",
    targetId: operationId,
    details: {
      tenants: tenantIds,
      backupId: req.backupId,
      at: req.at?.toISOString(),
      provider: req.provider,
      targetDb: req.targetDb ? redactUrl(req.targetDb) : undefined,
      ...(req.verifyOnly ? { verifyOnly: true } : {}),
    },
  });

  const progress = new Map<string, { done: number; total: number; rows: number }>();
  const report = async (p: RestoreProgress) => {
    progress.set(p.tenantId, { done: p.bytesDone, total: p.bytesTotal, rows: p.rowsDone });
    req.onProgress?.(p);
    const all = [...progress.values()];
    const total = all.reduce((a, b) => a + b.total, 0);
    const done = all.reduce((a, b) => a + b.done, 0);
    await deps.catalog.db
      .update(restoreOperations)
      .set({
        status: p.phase === "verifying" ? "verifying" : p.phase === "snapshotting" ? "snapshotting" : "restoring",
        progressPercentage: total ? Math.floor((done / total) * 100) : 0,
        bytesDone: done,
        bytesTotal: total,
        rowsDone: all.reduce((a, b) => a + b.rows, 0),
      })
      .where(eq(restoreOperations.id, operationId))
      .catch(() => {});
    await publish("restore.progress.v1", {
      operationId,
      tenantId: p.tenantId,
      phase: p.phase,
      percentage: p.percentage,
      bytesDone: p.bytesDone,
      bytesTotal: p.bytesTotal,
      rowsDone: p.rowsDone,
    });
  };

  // in the plan's order, whichever finishes first
  const outcomes: TenantRestoreOutcome[] = await pMap(plan, (item) => restoreOne(deps, { req, item, target, operationId, report }), {
    concurrency: Math.max(1, req.concurrency ?? 2),
  });
  const okCount = outcomes.filter((o) => o.ok).length;
  const status = okCount === outcomes.length && okCount > 0 ? "completed" : okCount > 0 ? "partial" : "failed";
  const rollbackData = Object.fromEntries(
    outcomes.filter((o) => o.ok && o.rollbackBackupId !== undefined).map((o) => [o.tenantId, { backupId: o.rollbackBackupId ?? null }]),
  );
  const rollbackAvailable = !req.targetDb && Object.keys(rollbackData).length > 0;
  const providersUsed = [...new Set(outcomes.map((o) => o.providerUsed).filter(Boolean))];
  await deps.catalog.db
    .update(restoreOperations)
    .set({
      status,
      completedAt: new Date(),
      progressPercentage: status === "failed" ? undefined : 100,
      providerUsed: providersUsed.join(",") || null,
      outcomes: Object.fromEntries(outcomes.map((o) => [o.tenantId, { ...o }])),
      rollbackAvailable,
      rollbackData,
      errorMessage:
        status === "completed"
          ? null
          : outcomes
              .filter((o) => !o.ok)
              .map((o) => `${o.tenantId}: ${o.error?.message}`)
              .join("; "),
    })
    .where(eq(restoreOperations.id, operationId));
  await writeAudit(deps.catalog.db, {
    actor: req.requestedBy,
    action: "restore.finished",
    targetType: "restore_operation",
    targetId: operationId,
    outcome: status === "completed" ? "ok" : "failed",
    details: {
      status,
      tenants: outcomes.map((o) => ({ tenantId: o.tenantId, ok: o.ok, backupId: o.backupId, provider: o.providerUsed, error: o.error?.code })),
    },
  });
  const eventTenants = outcomes.map((o) => ({ tenantId: o.tenantId, ok: o.ok, backupId: o.backupId, rows: o.rows, error: o.error }));
  if (status === "failed") {
    await publish("restore.failed.v1", {
      operationId,
      error: outcomes[0]?.error ?? { code: "restore_failed", message: "nothing was restored", retryable: false },
      tenants: eventTenants,
    });
  } else {
    await publish("restore.completed.v1", {
      operationId,
      status,
      providerUsed: providersUsed.length === 1 ? (providersUsed[0] as ProviderName) : undefined,
      tenants: eventTenants,
    });
  }
  return { operationId, status, tenants: outcomes, rollbackAvailable };
}

interface PlannedRestore {
  tenantId: string;
  record?: BackupRecord;
  error?: HesaabError;
}

async function resolveBackups(deps: TenantBackupDeps, req: RestoreRequest): Promise<PlannedRestore[]> {
  if (req.backupId) {
    const record = await getBackupRecord(deps.catalog.db, req.backupId);
    if (!record || record.backupType !== "tenant" || !record.tenantId) {
      throw new TenantBackupError({
        code: "restore_backup_not_found",
        message: `no tenant backup ${req.backupId} in the catalog`,
        hint: "List backups with `hesaab backups list`",
      });
    }
    if (req.tenantIds?.length && (req.tenantIds.length !== 1 || req.tenantIds[0] !== record.tenantId)) {
      throw new TenantBackupError({
        code: "restore_wrong_tenant",
        message: `backup ${req.backupId} belongs to tenant ${record.tenantId}, not ${req.tenantIds.join(", ")}`,
      });
    }
    return [{ tenantId: record.tenantId, record }];
  }
  let tenantIds = req.tenantIds ?? [];
  if (req.all) {
    const { rows } = await deps.catalog.pool.query<{ tenant_id: string }>(
      `select distinct tenant_id from backup.backup_records
        where backup_type = 'tenant' and status = any($1) and purpose <> 'pre_restore' and ($2::timestamptz is null or created_at <= $2)
        order by tenant_id`,
      [[...RESTORABLE], req.at ?? null],
    );
    tenantIds = rows.map((r) => r.tenant_id);
  }
  if (tenantIds.length === 0)
    throw new TenantBackupError({ code: "restore_nothing", message: "no tenant to restore", hint: "Name tenants, or check that backups exist" });
  const planned: PlannedRestore[] = [];
  for (const tenantId of tenantIds) {
    const record = await latestRestorableBackup(deps.catalog.db, { tenantId, at: req.at });
    planned.push(
      record
        ? { tenantId, record }
        : {
            tenantId,
            error: new TenantBackupError({
              code: "restore_backup_not_found",
              message: `tenant ${tenantId} has no restorable backup${req.at ? ` at or before ${req.at.toISOString()}` : ""}`,
            }),
          },
    );
  }
  return planned;
}

/** The providers in the order to try: the chosen one first. */
function orderedBackends(backends: StorageBackend[], preferred: string): StorageBackend[] {
  return [...backends].sort((a, b) => Number(b.name === preferred) - Number(a.name === preferred));
}

export function artifactRef(record: BackupRecord): ArtifactRef {
  const key = (record.metadata.key as string | undefined) ?? record.b2Location ?? record.r2Location;
  if (!key || !record.tenantId) throw new TenantBackupError({ code: "restore_backup_incomplete", message: `backup ${record.id} has no stored location` });
  return {
    key,
    sha256: record.checksum,
    size: record.fileSize,
    identity: { kind: "tenant", tenantId: record.tenantId, backupId: record.id },
    sidecar: (record.keySidecar ?? undefined) as ArtifactRef["sidecar"],
    ...recordedPlaintext(record),
  };
}

async function restoreOne(
  deps: TenantBackupDeps,
  {
    req,
    item,
    target,
    operationId,
    report,
  }: { req: RestoreRequest; item: PlannedRestore; target: Target; operationId: string; report: (p: RestoreProgress) => Promise<void> },
): Promise<TenantRestoreOutcome> {
  const { tenantId } = item;
  if (!item.record) return { tenantId, ok: false, error: describe(item.error) };
  const record = item.record;
  let staged: StagedArtifact | undefined;
  const outcome: TenantRestoreOutcome = { tenantId, ok: false, backupId: record.id };
  try {
    // [2] verify before touching anything
    await report({ tenantId, phase: "verifying", percentage: 0, bytesDone: 0, bytesTotal: record.fileSize, rowsDone: 0 });
    staged = await stageArtifact({
      ref: artifactRef(record),
      backends: orderedBackends(deps.backends, req.provider),
      dir: path.join(deps.workDir, operationId),
      signal: req.signal,
    });
    outcome.providerUsed = staged.provider;
    const fallbackFrom = [...new Set(staged.failures.map((f) => f.provider))];
    if (fallbackFrom.length) outcome.fallbackFrom = fallbackFrom;
    const plaintextBytes = await verifyStaged({ staged, keyRing: deps.keyRing });
    if (req.verifyOnly) {
      await report({ tenantId, phase: "checking", percentage: 100, bytesDone: plaintextBytes, bytesTotal: plaintextBytes, rowsDone: 0 });
      return { ...outcome, ok: true, verifiedOnly: true };
    }

    // [3] rollback point (production only)
    if (!target.external) {
      await report({ tenantId, phase: "snapshotting", percentage: 0, bytesDone: 0, bytesTotal: plaintextBytes, rowsDone: 0 });
      outcome.rollbackBackupId = await rollbackPoint(deps, { tenantId, requestedBy: req.requestedBy, signal: req.signal });
    }

    // [4] one transaction
    const loaded = await loadTenantScript({
      pool: target.pool,
      tenantId,
      script: await openStaged({ staged, keyRing: deps.keyRing }),
      mode: target.external ? "into-empty" : "replace",
      discover: deps.discover,
      allowDroppedColumns: req.allowDroppedColumns,
      expect: { tenantId, backupId: record.id },
      signal: req.signal,
      onProgress: (p) => {
        void report({
          tenantId,
          phase: "restoring",
          percentage: plaintextBytes ? Math.min(99, Math.floor((p.bytes / plaintextBytes) * 100)) : 0,
          bytesDone: p.bytes,
          bytesTotal: plaintextBytes,
          rowsDone: p.rows,
        });
      },
    });
    await report({ tenantId, phase: "checking", percentage: 100, bytesDone: plaintextBytes, bytesTotal: plaintextBytes, rowsDone: loaded.rows });
    return { ...outcome, ok: true, rows: loaded.rows, ...(loaded.warnings.length > 0 ? { warnings: loaded.warnings } : {}) };
  } catch (err) {
    return { ...outcome, ok: false, error: describe(err) };
  } finally {
    await staged?.remove();
  }
}

/** A pre-restore snapshot; null when the tenant has no rows at all (nothing to roll back to but emptiness). */
async function rollbackPoint(
  deps: TenantBackupDeps,
  { tenantId, requestedBy, signal }: { tenantId: string; requestedBy: string; signal?: AbortSignal | undefined },
): Promise<string | null> {
  try {
    const { record } = await backupTenant(deps, { tenantId, purpose: "pre_restore", requestedBy, allowInactive: true, signal });
    return record.id;
  } catch (err) {
    if (isHesaabError(err) && err.code === "tenant_not_found") return null;
    throw err;
  }
}

/** An outcome's error: `describeError` (the one policy), an error not ours named `restore_failed`. */
function describe(err: unknown): { code: string; message: string; retryable: boolean } {
  const { code, message, retryable } = describeError(err, { unknownCode: "restore_failed" });
  return { code, message, retryable };
}

/**
 * Puts back the state before a restore: each tenant's pre-restore snapshot is restored the same
 * careful way (verified, one transaction). A tenant that had no rows before is emptied.
 */
export async function rollbackRestore(
  deps: TenantBackupDeps,
  { operationId, requestedBy, signal }: { operationId: string; requestedBy: string; signal?: AbortSignal | undefined },
): Promise<RestoreReport> {
  const [op] = await deps.catalog.db.select().from(restoreOperations).where(eq(restoreOperations.id, operationId));
  if (!op)
    throw new TenantBackupError({ code: "restore_not_found", message: `no restore operation ${operationId}`, hint: "List them with `hesaab restores list`" });
  if (!op.rollbackAvailable || !op.rollbackData) {
    throw new TenantBackupError({
      code: "rollback_unavailable",
      message: `restore ${operationId} has no rollback point${op.status === "rolled_back" ? " (it was already rolled back)" : ""}`,
    });
  }
  const outcomes: TenantRestoreOutcome[] = [];
  for (const [tenantId, data] of Object.entries(op.rollbackData as Record<string, { backupId: string | null }>)) {
    if (data.backupId) {
      const r = await restoreTenants(deps, {
        backupId: data.backupId,
        provider: (op.storageProvider as ProviderName) ?? "b2",
        requestedBy,
        signal,
        operationId: newId("rst"),
      });
      outcomes.push(...r.tenants.map(({ rollbackBackupId: _, ...t }) => t));
    } else {
      outcomes.push({
        tenantId,
        ok: false,
        error: {
          code: "rollback_empty_tenant",
          message: "the tenant had no rows before the restore; delete them by restoring an empty state manually",
          retryable: false,
        },
      });
    }
  }
  const ok = outcomes.every((o) => o.ok);
  if (ok) {
    await deps.catalog.db.update(restoreOperations).set({ status: "rolled_back", rollbackAvailable: false }).where(eq(restoreOperations.id, operationId));
  }
  await writeAudit(deps.catalog.db, {
    actor: requestedBy,
    action: "restore.rolled_back",
    targetType: "restore_operation",
    targetId: operationId,
    outcome: ok ? "ok" : "failed",
    details: { tenants: outcomes.map((o) => ({ tenantId: o.tenantId, ok: o.ok })) },
  });
  await (deps.publish ?? noPublish)("restore.rolled_back.v1", {
    operationId,
    requestedBy,
    tenants: outcomes.map((o) => ({ tenantId: o.tenantId, ok: o.ok, backupId: o.backupId, rows: o.rows, error: o.error })),
  });
  return { operationId, status: ok ? "completed" : "failed", tenants: outcomes, rollbackAvailable: !ok };
}
