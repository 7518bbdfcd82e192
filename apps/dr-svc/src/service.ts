// dr-svc's wiring: the `cmd.dr.>` work queue (disaster backups, and restores into another database) and the nightly schedule. The work itself is
// @hesaab/dr's handlers; this file decides when they run.
import { runSchedule, type Bus, type Consumption, type HandlerContext, type ScheduleRunner } from "@hesaab/bus";
import { COMMAND_FILTERS, type Message } from "@hesaab/contracts";
import { catalogClaims } from "@hesaab/db";
import { handleDisasterBackupRequest, handleDisasterRestoreRequest, type DrHandlerDeps } from "@hesaab/dr";

export const DURABLE = "dr-svc";
export const SCHEDULE_NAME = "disaster-backup";

/** What the handler needs (its publish is the bus), and how the service runs it. */
export interface DrServiceOptions extends Omit<DrHandlerDeps, "publish"> {
  bus: Bus;
  /** The nightly backup; `false` to run without a schedule (tests, a replica that only works the queue). */
  schedule: { cron: string; timeZone: string } | false;
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
  const deps: DrHandlerDeps = { ...opts, publish: async (type, data, publishOpts) => void (await bus.publish(type, data, publishOpts)) };
  const handler = async (message: Message, delivery: HandlerContext): Promise<void> => {
    if (message.type === "dr.backup.requested.v1") await handleDisasterBackupRequest(deps, { message, delivery });
    else if (message.type === "dr.restore.requested.v1") await handleDisasterRestoreRequest(deps, { message, delivery });
    else log.warn("dr-svc ignores a command it does not know", { type: message.type });
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
