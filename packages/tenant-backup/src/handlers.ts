import pMap from "p-map";
import { describeError, isRedeliverable } from "@hesaab/config";
import { noPublish, type Delivery, type MessageOf } from "@hesaab/contracts";
import { raiseAlert } from "@hesaab/db";
import { activeTenants, backupTenant } from "./backup";
import { backupTenants, type TenantBackupOutcome } from "./batch";
import { buildCustomerExport, failCustomerExport, type CustomerExportDeps } from "./customer-export";
import type { TenantBackupDeps } from "./tenant-backup-deps";
import { restoreTenants, rollbackRestore } from "./restore";

/** Publishes a command (with a dedup id): the bus in a service. */
export type SendCommand = (job: MessageOf<"backup.tenant.job.v1">["data"], opts: { msgId: string }) => Promise<void>;

/**
 * Jobs a fan-out has waiting for JetStream's acknowledgement at once. Sent one by one, a night of
 * thousands of tenants waited a round trip per tenant on a worker busy backing up the first ones,
 * and the jobs trickled in too slowly to fill a batch.
 */
export const FAN_OUT_IN_FLIGHT = 64;

/**
 * `backup.tenant.requested.v1` → one job per tenant, deduplicated per tenant and period (the msgId),
 * so a request delivered twice, or fired by two schedulers, queues each tenant once. Up to
 * `FAN_OUT_IN_FLIGHT` jobs are sent at once; the first failure stops the sending and is thrown
 * (the request is retried: the jobs already sent are dropped as duplicates).
 */
export async function fanOutBackupRequest(
  deps: Pick<TenantBackupDeps, "platform">,
  { message, send }: { message: MessageOf<"backup.tenant.requested.v1">; send: SendCommand },
): Promise<number> {
  const { data } = message;
  const tenants = data.all ? await activeTenants(deps) : (data.tenantIds ?? []);
  const scope = data.period ?? message.id;
  await pMap(
    tenants,
    (tenantId) =>
      // the request's id is the operation's: its jobs' events carry it, so progress is followed by it
      send(
        { tenantId, purpose: data.purpose, period: data.period, requestedBy: data.requestedBy, operationId: message.id },
        { msgId: `backup:${tenantId}:${scope}` },
      ),
    { concurrency: FAN_OUT_IN_FLIGHT },
  );
  return tenants.length;
}

type Job = MessageOf<"backup.tenant.job.v1">["data"];

/**
 * The key of the one alert a command that failed for good raises (see `raiseAlert`): its handler's
 * alert (with what failed) and its dead letter's alert (a worker lost on the last attempt leaves
 * only that one) share it, and the first of them is the only one.
 */
export const jobAlertKey = (messageId: string): string => `job:${messageId}`;

/**
 * `backup.tenant.job.v1` → the tenant's backup, through `batcher` when given (backup-svc: jobs
 * pulled together are backed up together). A failure is published; a final one (retries
 * exhausted, or an error retrying cannot fix) also raises an alert, keyed `jobAlertKey(message.id)`:
 * the dead letter that follows raises its alert with the same key, so one failed job is one alert.
 * Rethrows so the bus retries (retryable) or dead-letters (not retryable).
 */
export async function handleBackupJob(
  deps: TenantBackupDeps,
  { message, delivery, batcher }: { message: MessageOf<"backup.tenant.job.v1">; delivery: Delivery; batcher?: BackupJobBatcher },
): Promise<void> {
  const { data } = message;
  const publish = deps.publish ?? noPublish;
  try {
    if (batcher) {
      const outcome = await batcher.run(data, delivery);
      if (!outcome.ok) throw outcome.error;
    } else {
      await backupTenant(deps, {
        tenantId: data.tenantId,
        purpose: data.purpose,
        period: data.period,
        requestedBy: data.requestedBy,
        attempt: delivery.attempt,
        signal: delivery.signal,
        operationId: data.operationId,
      });
    }
  } catch (err) {
    // the bus tries again anything not known to be permanent (see isRedeliverable): the event says so
    const retryable = isRedeliverable(err);
    const final = delivery.final || !retryable;
    const { code, message: text } = describeError(err, { unknownCode: "backup_failed" });
    const error = { code, message: text, retryable };
    await publish("backup.tenant.failed.v1", { tenantId: data.tenantId, attempt: delivery.attempt, final, error, operationId: data.operationId });
    if (final) {
      await raiseAlert(deps, {
        severity: "critical",
        code: "tenant_backup_failed",
        message: `backup of tenant ${data.tenantId} failed: ${error.message}`,
        context: { tenantId: data.tenantId, attempt: delivery.attempt, code: error.code, messageId: message.id },
        key: jobAlertKey(message.id),
        // a tenant failing night after night is one alert counting its failures, resolved by its next good backup
        group: `tenant_backup_failed:${data.tenantId}`,
      });
    }
    throw err;
  }
}

/**
 * Gathers the backup jobs a worker holds at once into `backupTenants` runs, so a nightly run of
 * thousands of small tenants is backed up in batches while the bus still sees one job per tenant
 * (each acked, retried or dead-lettered on its own outcome). Jobs that agree on purpose, period,
 * requester and attempt join one run; a run is ready when `batchSize` jobs are waiting, or
 * `lingerMs` after its first job came. At most `runs` runs go at once (each backs up a large tenant
 * and a batch side by side: size the pools for `2 × runs` units); ready runs wait their turn, and
 * take the jobs that come meanwhile until they are full: jobs pulled while every run is busy fill
 * one batch, not many small ones (a small batch costs nearly what a full one does).
 */
export class BackupJobBatcher {
  readonly #deps: TenantBackupDeps;
  readonly #batchSize: number;
  readonly #lingerMs: number;
  readonly #runs: number;
  #running = 0;
  /** Groups waiting for a run, in the order they became ready. */
  readonly #ready: Group[] = [];
  /** Per key, the group a job joins: not full, not started (lingering, or ready and waiting). */
  readonly #open = new Map<string, Group>();

  constructor(deps: TenantBackupDeps, { batchSize = 50, lingerMs = 25, runs = 2 }: { batchSize?: number; lingerMs?: number; runs?: number } = {}) {
    this.#deps = deps;
    this.#batchSize = batchSize;
    this.#lingerMs = lingerMs;
    this.#runs = Math.max(1, runs);
  }

  run(job: Job, delivery: Delivery): Promise<TenantBackupOutcome> {
    const key = JSON.stringify([job.purpose, job.period ?? null, job.requestedBy, delivery.attempt, job.operationId ?? null]);
    let group = this.#open.get(key);
    if (!group) {
      const opened: Group = { key, jobs: new Map(), job, delivery, ready: false };
      opened.timer = setTimeout(() => this.#markReady(opened), this.#lingerMs);
      this.#open.set(key, opened);
      group = opened;
    }
    const waiters = group.jobs.get(job.tenantId) ?? [];
    group.jobs.set(job.tenantId, waiters);
    const outcome = new Promise<TenantBackupOutcome>((resolve) => waiters.push(resolve));
    if (group.jobs.size >= this.#batchSize) {
      this.#open.delete(key); // full: the next job of its key opens another
      this.#markReady(group);
    }
    return outcome;
  }

  /** The group waits for a free run (still taking jobs while it is open). */
  #markReady(group: Group): void {
    clearTimeout(group.timer);
    if (group.ready) return;
    group.ready = true;
    this.#ready.push(group);
    this.#next();
  }

  #next(): void {
    while (this.#running < this.#runs && this.#ready.length > 0) {
      const group = this.#ready.shift()!;
      if (this.#open.get(group.key) === group) this.#open.delete(group.key); // started: no more jobs join it
      this.#running++;
      void this.#start(group).finally(() => {
        this.#running--;
        this.#next();
      });
    }
  }

  async #start({ job, delivery, jobs }: Group): Promise<void> {
    const settle = (o: TenantBackupOutcome) => {
      for (const resolve of jobs.get(o.tenantId) ?? []) resolve(o);
      jobs.delete(o.tenantId);
    };
    try {
      await backupTenants(this.#deps, {
        tenantIds: [...jobs.keys()],
        purpose: job.purpose,
        period: job.period,
        requestedBy: job.requestedBy,
        attempt: delivery.attempt,
        signal: delivery.signal,
        operationId: job.operationId,
        batchSize: this.#batchSize,
        onResult: settle,
      });
    } catch (error) {
      for (const tenantId of [...jobs.keys()]) settle({ tenantId, ok: false, error });
    }
    for (const tenantId of [...jobs.keys()]) settle({ tenantId, ok: false, error: new Error("the run ended without an outcome for this tenant") });
  }
}

interface Group {
  key: string;
  jobs: Map<string, ((o: TenantBackupOutcome) => void)[]>;
  job: Job;
  delivery: Delivery;
  /** Lingered or full: in `#ready` (or started). */
  ready: boolean;
  timer?: NodeJS.Timeout;
}

/** `restore.requested.v1` → the restore (the operation id comes from the request, so a redelivery finds it). */
export async function handleRestoreRequest(
  deps: TenantBackupDeps,
  { message, delivery }: { message: MessageOf<"restore.requested.v1">; delivery: Delivery },
): Promise<void> {
  const d = message.data;
  const { rows } = await deps.catalog.pool.query<{ status: string }>("select status from backup.restore_operations where id = $1", [d.operationId]);
  if (rows[0] && rows[0].status !== "pending" && rows[0].status !== "verifying") return; // already ran (or is running elsewhere)
  try {
    await restoreTenants(deps, {
      operationId: d.operationId,
      tenantIds: d.tenantIds,
      all: d.all,
      backupId: d.backupId,
      at: d.at ? new Date(d.at) : undefined,
      provider: d.provider,
      targetDb: d.targetDb,
      withDependencies: d.withDependencies,
      allowDroppedColumns: d.allowDroppedColumns,
      verifyOnly: d.verifyOnly,
      requestedBy: d.requestedBy,
      signal: delivery.signal,
    });
  } catch (err) {
    // refused before any tenant ran (no such backup, a copy's target lacking tables…): whoever follows the
    // operation hears it ended; a failure retrying may fix is told on the last delivery only
    const retryable = isRedeliverable(err);
    if (!retryable || delivery.final) {
      const { code, message: text } = describeError(err, { unknownCode: "restore_failed" });
      await (deps.publish ?? noPublish)("restore.failed.v1", { operationId: d.operationId, error: { code, message: text, retryable }, tenants: [] });
    }
    if (retryable) throw err;
  }
}

/** `restore.rollback.requested.v1` → `rollbackRestore` (what `hesaab restore rollback` runs); a restore already rolled back is refused, not run twice. */
export async function handleRollbackRequest(
  deps: TenantBackupDeps,
  { message, delivery }: { message: MessageOf<"restore.rollback.requested.v1">; delivery: Delivery },
): Promise<void> {
  await rollbackRestore(deps, { operationId: message.data.operationId, requestedBy: message.data.requestedBy, signal: delivery.signal });
}

/**
 * `export.customer.requested.v1` → the export built (a redelivery of a ready one returns it; see
 * `buildCustomerExport`). The last delivery's failure fails the export, so the tenant app stops
 * waiting for it.
 */
export async function handleCustomerExportRequest(
  deps: CustomerExportDeps,
  { message, delivery }: { message: MessageOf<"export.customer.requested.v1">; delivery: Delivery },
): Promise<void> {
  try {
    await buildCustomerExport(deps, { exportId: message.data.exportId, tenantId: message.data.tenantId, signal: delivery.signal });
  } catch (error) {
    if (delivery.final || !isRedeliverable(error)) await failCustomerExport(deps, { exportId: message.data.exportId, error }).catch(() => {});
    throw error;
  }
}
