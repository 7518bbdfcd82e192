// dr-svc's wiring: the `cmd.dr.>` work queue and the nightly schedule. The work itself is
// @hesaab/dr's backupPlatform; this file decides when it runs and what is said about it.
import { catalogClaims, eventPublisher, runSchedule, type Bus, type BusLogger, type Consumption, type HandlerContext, type ScheduleRunner } from "@hesaab/bus";
import { COMMAND_FILTERS, newId, type Message } from "@hesaab/contracts";
import type { KeyRing } from "@hesaab/crypto";
import { raiseAlert, updateBackupRecord, type CatalogDb } from "@hesaab/db";
import { backupPlatform, describeError, disasterBackupForPeriod, type DisasterBackupResult } from "@hesaab/dr";
import type { StorageBackend } from "@hesaab/storage";

export const DURABLE = "dr-svc";
export const SCHEDULE_NAME = "disaster-backup";

export interface DrServiceOptions {
  bus: Bus;
  catalog: CatalogDb;
  keyRing: KeyRing;
  backends: StorageBackend[];
  platformUrl: string;
  configFiles: string[];
  gitCommit: string | null;
  retentionDays: number;
  root?: string | undefined;
  /** The nightly backup; `false` to run without a schedule (tests, a replica that only works the queue). */
  schedule: { cron: string; timeZone: string } | false;
  log: BusLogger;
  /** Deliveries of one command before it is given up. Default 3. */
  maxAttempts?: number;
  /** Delays before the 2nd, 3rd… delivery. Default 1 min, 5 min. */
  backoffMs?: readonly number[];
}

export interface DrService {
  readonly consumption: Consumption;
  readonly schedule: ScheduleRunner | undefined;
  /** Stops the schedule and the queue; a running backup finishes first (unless `abort`). */
  stop(opts?: { abort?: boolean }): Promise<void>;
}

export async function startDrService(opts: DrServiceOptions): Promise<DrService> {
  const { bus, catalog, log } = opts;

  const handler = async (message: Message, ctx: HandlerContext): Promise<void> => {
    if (message.type !== "dr.backup.requested.v1") {
      log.warn("dr-svc ignores a command it does not know", { type: message.type });
      return;
    }
    const { purpose, period, requestedBy } = message.data;
    if (period) {
      const existing = await disasterBackupForPeriod(catalog, period);
      if (existing?.status === "completed" || existing?.status === "degraded") {
        log.info("disaster backup of this period already done", { period, backupId: existing.id });
        return;
      }
      if (existing?.status === "running") {
        // Only one delivery of a command runs at a time: a `running` record of the same period is an attempt that died.
        await updateBackupRecord(catalog, { id: existing.id, set: { status: "failed", errorMessage: "abandoned: the worker stopped mid-way; retried", completedAt: new Date() } });
      }
    }
    const backupId = newId("bkp");
    log.info("disaster backup started", { backupId, purpose, period, attempt: ctx.attempt, requestedBy });
    let result: DisasterBackupResult;
    try {
      result = await backupPlatform({
        backupId,
        platformUrl: opts.platformUrl,
        keyRing: opts.keyRing,
        backends: opts.backends,
        catalog,
        configFiles: opts.configFiles,
        gitCommit: opts.gitCommit,
        retentionDays: opts.retentionDays,
        root: opts.root,
        purpose: purpose === "scheduled" ? "scheduled" : "on_demand",
        period,
        requestedBy,
        signal: ctx.signal,
      });
    } catch (err) {
      if (ctx.signal.aborted) throw err; // shutting down: the message goes back to the queue
      await reportFailure({ err, ctx, backupId });
      throw err;
    }
    log.info("disaster backup completed", { backupId: result.backupId, status: result.status, size: result.data.size, durationMs: result.durationMs });
    const outcomes = result.providers
      .filter((p) => p.provider === "b2" || p.provider === "r2")
      .map((p) => ({ provider: p.provider as "b2" | "r2", ok: p.ok, ...(p.problem ? { error: p.problem } : {}) }));
    // storage-svc verifies every copy and heals a degraded backup now, not at the next reconciliation.
    await bus.publish(
      "storage.artifact.stored.v1",
      { backupId: result.backupId, backupType: "disaster", tenantId: null, key: result.data.location, size: result.data.size, sha256: result.data.sha256, providers: outcomes },
      { msgId: `dr-stored:${result.backupId}` },
    );
    await bus.publish(
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
  };

  /** A failed event on every failed attempt; on the last one (or a failure retrying cannot fix) also an alert. */
  const reportFailure = async ({ err, ctx, backupId }: { err: unknown; ctx: HandlerContext; backupId: string }) => {
    const error = describeError(err);
    const final = ctx.final || !error.retryable;
    log.error("disaster backup failed", { backupId, attempt: ctx.attempt, final, code: error.code, error: error.message });
    try {
      await bus.publish("dr.backup.failed.v1", { backupId, attempt: ctx.attempt, final, error });
      if (final) {
        await raiseAlert(
          { catalog: { db: catalog }, publish: eventPublisher(bus) },
          {
            severity: "critical",
            code: "dr_backup_failed",
            message: `disaster backup failed after ${ctx.attempt} attempt(s): ${error.code}: ${error.message}`.slice(0, 2000),
            context: { backupId, attempt: ctx.attempt, errorCode: error.code },
          },
        );
      }
    } catch (reportErr) {
      log.error("cannot report a failed disaster backup", { error: describeError(reportErr).message });
    }
  };

  const consumption = await bus.consume({
    durable: DURABLE,
    filter: COMMAND_FILTERS.drSvc,
    handler,
    concurrency: 1,
    maxDeliver: opts.maxAttempts ?? 3,
    backoffMs: opts.backoffMs ?? [60_000, 300_000],
  });

  const stopping = new AbortController();
  const schedule = opts.schedule
    ? runSchedule({
        name: SCHEDULE_NAME,
        cron: opts.schedule.cron,
        timeZone: opts.schedule.timeZone,
        ...catalogClaims(catalog),
        signal: stopping.signal,
        log,
        fire: async (period) => {
          // msgId per period: a second publish of the same period (a retry, a racing replica) is dropped by JetStream.
          await bus.publish("dr.backup.requested.v1", { purpose: "scheduled", period, requestedBy: "system:dr-svc" }, { msgId: `dr-backup:${period}` });
        },
      })
    : undefined;

  return {
    consumption,
    schedule,
    async stop({ abort = false } = {}) {
      stopping.abort();
      await schedule?.stop();
      await (abort ? consumption.abort() : consumption.stop());
    },
  };
}
