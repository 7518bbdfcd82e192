// dr-svc's command handling: `dr.backup.requested.v1` → one disaster backup, idempotent per period
// (JetStream redelivers), its outcome published and, when it is final, alerted. dr-svc only wires it
// to the bus and the schedule.
import { newId, type Delivery, type Log, type MessageOf, type Publish } from "@hesaab/contracts";
import type { KeyRing } from "@hesaab/crypto";
import { redactUrl } from "@hesaab/config";
import { raiseAlert, updateBackupRecord, writeAudit, type CatalogDb } from "@hesaab/db";
import type { StorageBackend } from "@hesaab/storage";
import { backupPlatform, type BackupProgress, type DisasterBackupResult } from "./backup";
import { disasterBackupForPeriod } from "./catalog";
import { describe } from "./describe";
import { restorePlatform } from "./restore";
import { checkDisasterTarget, disasterTargetUrl } from "./target";

export interface DrHandlerDeps {
  catalog: CatalogDb;
  keyRing: KeyRing;
  backends: StorageBackend[];
  platformUrl: string;
  /** The catalog's URL when it is another database than the platform's: a disaster restore is never let write there either. */
  catalogUrl?: string | undefined;
  /** Where a disaster restore stages the decrypted dump (default the OS temp dir). */
  workDir?: string | undefined;
  configFiles: string[];
  gitCommit: string | null;
  retentionDays: number;
  root?: string | undefined;
  /** The bus. Unlike an event publisher it may throw: a completion that was not announced is retried (and found done). */
  publish: Publish;
  log: Log;
}

/** Handles one delivery of `dr.backup.requested.v1`; throws so the bus retries (or gives up on the last attempt). */
export async function handleDisasterBackupRequest(
  deps: DrHandlerDeps,
  { message, delivery }: { message: MessageOf<"dr.backup.requested.v1">; delivery: Delivery },
): Promise<void> {
  const { catalog, log } = deps;
  const { purpose, period, requestedBy } = message.data;
  if (period) {
    const existing = await disasterBackupForPeriod(catalog, period);
    if (existing?.status === "completed" || existing?.status === "degraded") {
      log.info("disaster backup of this period already done", { period, backupId: existing.id });
      return;
    }
    if (existing?.status === "running") {
      // Only one delivery of a command runs at a time: a `running` record of the same period is an attempt that died.
      await updateBackupRecord(catalog, {
        id: existing.id,
        set: { status: "failed", errorMessage: "abandoned: the worker stopped mid-way; retried", completedAt: new Date() },
      });
    }
  }
  const backupId = newId("bkp");
  log.info("disaster backup started", { backupId, purpose, period, attempt: delivery.attempt, requestedBy });
  let result: DisasterBackupResult;
  // live progress: one event per phase and per 16 MiB dumped, the first before any work, so a follower knows the backup's id;
  // a lost one is not worth failing the backup for
  let bytes = 0;
  const onProgress = ({ phase, dumpBytes }: BackupProgress) => {
    bytes = Math.max(bytes, dumpBytes);
    deps
      .publish("dr.backup.progress.v1", { backupId, phase, bytes, operationId: message.id })
      .catch((e: unknown) => log.warn("event not published", { type: "dr.backup.progress.v1", error: describe(e).message }));
  };
  try {
    result = await backupPlatform({
      backupId,
      platformUrl: deps.platformUrl,
      keyRing: deps.keyRing,
      backends: deps.backends,
      catalog,
      configFiles: deps.configFiles,
      gitCommit: deps.gitCommit,
      retentionDays: deps.retentionDays,
      root: deps.root,
      purpose: purpose === "scheduled" ? "scheduled" : "on_demand",
      period,
      requestedBy,
      signal: delivery.signal,
      onProgress,
    });
  } catch (err) {
    if (delivery.signal?.aborted) throw err; // shutting down: the message goes back to the queue
    await reportFailure(deps, { err, delivery, backupId });
    throw err;
  }
  log.info("disaster backup completed", { backupId: result.backupId, status: result.status, size: result.data.size, durationMs: result.durationMs });
  const outcomes = result.providers
    .filter((p) => p.provider === "b2" || p.provider === "r2")
    .map((p) => ({ provider: p.provider as "b2" | "r2", ok: p.ok, ...(p.problem ? { error: p.problem } : {}) }));
  // storage-svc verifies every copy and heals a degraded backup now, not at the next reconciliation.
  await deps.publish(
    "storage.artifact.stored.v1",
    {
      backupId: result.backupId,
      backupType: "disaster",
      tenantId: null,
      key: result.data.location,
      size: result.data.size,
      sha256: result.data.sha256,
      providers: outcomes,
    },
    { msgId: `dr-stored:${result.backupId}` },
  );
  await deps.publish(
    "dr.backup.completed.v1",
    {
      backupId: result.backupId,
      status: result.status,
      size: result.data.size,
      sha256: result.data.sha256,
      ...(result.manifest.gitCommit ? { gitCommit: result.manifest.gitCommit } : {}),
      providers: outcomes,
      durationMs: result.durationMs,
    },
    { msgId: `dr-completed:${result.backupId}` },
  );
}

/** A failed event on every failed attempt; on the last one (or a failure retrying cannot fix) also an alert. */
async function reportFailure(deps: DrHandlerDeps, { err, delivery, backupId }: { err: unknown; delivery: Delivery; backupId: string }): Promise<void> {
  const error = describe(err);
  const final = delivery.final || !error.retryable;
  deps.log.error("disaster backup failed", { backupId, attempt: delivery.attempt, final, code: error.code, error: error.message });
  try {
    await deps.publish("dr.backup.failed.v1", { backupId, attempt: delivery.attempt, final, error });
    if (final) {
      await raiseAlert(
        // the alert's own event is news: losing it must not hide the alert row
        {
          catalog: { db: deps.catalog },
          publish: (type, data) => deps.publish(type, data).catch((e: unknown) => deps.log.warn("event not published", { type, error: describe(e).message })),
        },
        {
          severity: "critical",
          code: "dr_backup_failed",
          message: `disaster backup failed after ${delivery.attempt} attempt(s): ${error.code}: ${error.message}`.slice(0, 2000),
          context: { backupId, attempt: delivery.attempt, errorCode: error.code },
        },
      );
    }
  } catch (reportErr) {
    deps.log.error("cannot report a failed disaster backup", { error: describe(reportErr).message });
  }
}

/**
 * Handles `dr.restore.requested.v1`: the target checked again (not a database the platform runs on,
 * reachable, empty unless allowed), then `restorePlatform` (the CLI's `hesaab dr restore`), its steps
 * as `dr.restore.progress.v1`, its outcome as `dr.restore.completed.v1` or `dr.restore.failed.v1`, and
 * an audit entry in the requester's name. Never retried by the bus: a second run would find the target
 * half written; the operator asks again.
 */
export async function handleDisasterRestoreRequest(
  deps: DrHandlerDeps,
  { message, delivery }: { message: MessageOf<"dr.restore.requested.v1">; delivery: Delivery },
): Promise<void> {
  const d = message.data;
  const { log } = deps;
  const started = Date.now();
  const warn = (e: unknown) => log.warn("event not published", { type: "dr.restore.progress.v1", error: describe(e).message });
  let target = "(not resolved)";
  try {
    const targetUrl = disasterTargetUrl(d.targetDb, deps.platformUrl);
    target = redactUrl(targetUrl);
    log.info("disaster restore started", { operationId: d.operationId, backupId: d.backupId ?? "latest", target, requestedBy: d.requestedBy });
    await checkDisasterTarget({ targetUrl, liveUrls: [deps.platformUrl, ...(deps.catalogUrl ? [deps.catalogUrl] : [])], allowNonEmpty: d.allowNonEmpty });
    const backends = [...deps.backends].sort((a, b) => Number(b.name === d.provider) - Number(a.name === d.provider));
    const report = await restorePlatform({
      ...(d.backupId ? { backupId: d.backupId } : { latest: true }),
      backends,
      keyRing: deps.keyRing,
      targetUrl,
      allowNonEmpty: d.allowNonEmpty,
      roles: d.skipRoles ? "skip" : "missing",
      workDir: deps.workDir,
      root: deps.root,
      signal: delivery.signal,
      onProgress: ({ phase, provider }) =>
        void deps
          .publish("dr.restore.progress.v1", { operationId: d.operationId, phase, ...(provider === "b2" || provider === "r2" ? { provider } : {}) })
          .catch(warn),
    });
    await writeAudit(deps.catalog, {
      actor: d.requestedBy,
      action: "dr.restore",
      targetType: "database",
      targetId: target,
      outcome: report.ok ? "ok" : "failed",
      details: { operationId: d.operationId, backupId: report.backupId, providerUsed: report.providerUsed, mismatches: report.mismatches },
    });
    await deps.publish("dr.restore.completed.v1", {
      operationId: d.operationId,
      backupId: report.backupId,
      ok: report.ok,
      target: report.target,
      providerUsed: report.providerUsed,
      fellBack: report.fellBack,
      tables: report.tables.length,
      mismatches: report.mismatches,
      durationMs: Date.now() - started,
    });
    log.info("disaster restore completed", { operationId: d.operationId, backupId: report.backupId, ok: report.ok, target });
  } catch (err) {
    if (delivery.signal?.aborted) throw err; // shutting down: the message goes back to the queue
    const error = describe(err);
    log.error("disaster restore failed", { operationId: d.operationId, target, code: error.code, error: error.message });
    await writeAudit(deps.catalog, {
      actor: d.requestedBy,
      action: "dr.restore",
      targetType: "database",
      targetId: target,
      outcome: "failed",
      details: { operationId: d.operationId, code: error.code },
    }).catch((e: unknown) => log.warn("audit entry not written", { error: describe(e).message }));
    await deps.publish("dr.restore.failed.v1", { operationId: d.operationId, error });
  }
}
