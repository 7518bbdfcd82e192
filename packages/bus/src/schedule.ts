import { randomBytes } from "node:crypto";
import os from "node:os";
import { describeError } from "@hesaab/config";
import { consoleLogger, type BusLogger } from "./log";
import { nextPeriod, periodAt, validateSchedule, type SchedulePeriod } from "./periods";
import { sleep } from "./sleep";

export { nextPeriod, periodAt, validateSchedule, type PeriodQuery, type SchedulePeriod } from "./periods";

/**
 * Takes the period for one caller: resolves true for exactly one of any number of concurrent callers
 * of the same (schedule, period), across processes; false for every other. Must be durable: a
 * restarted process asking again gets false.
 */
export type ScheduleClaim = (schedule: string, period: string, owner: string) => Promise<boolean>;
/** Gives a claimed period back after its fire failed, so a later tick (any replica) may try again. */
export type ScheduleRelease = (schedule: string, period: string, owner: string) => Promise<void>;

export interface ScheduleOptions {
  /** Stable name of the schedule (`tenant-backups`); claims are per name and period. */
  name: string;
  /** Five-field cron (`0 2 * * *`), read as wall-clock time in `timeZone`. */
  cron: string;
  /** IANA zone (`Asia/Tehran`, `UTC`). */
  timeZone: string;
  /**
   * Does the period's work: should be short and idempotent (publish the period's command with a
   * msgId derived from `period`). Called at most once per period across replicas unless it throws,
   * then retried (see `release`).
   */
  fire: (period: string, info: { at: Date; lateMs: number }) => Promise<void>;
  claim: ScheduleClaim;
  /** When given, a period whose fire failed every attempt is released, so it is tried again while within the grace window. */
  release?: ScheduleRelease;
  /** A fire missed (process down at its time) is still done if now is within this of its time. Default 1 h. */
  graceMs?: number;
  /** Identifies this replica in the claim table. Default `<host>:<pid>:<random>`. */
  owner?: string;
  /** Attempts at `fire` within one tick before giving up. Default 3. */
  fireAttempts?: number;
  /** Delay between those attempts. Default 2 s. */
  fireRetryDelayMs?: number;
  log?: BusLogger;
}

export type TickOutcome =
  /** This replica claimed the period and `fire` succeeded. */
  | "fired"
  /** Another replica (or an earlier run) had already claimed it. */
  | "taken"
  /** The fire time is further back than the grace window: skipped. */
  | "missed"
  /** Claimed, but `fire` failed every attempt (released again when `release` is given). */
  | "failed"
  /** Nothing to do: no period yet, or this replica already settled the current one. */
  | "idle";

export interface TickResult {
  outcome: TickOutcome;
  period?: SchedulePeriod;
  error?: unknown;
}

/** A schedule without a timer: `tick(now)` does what is due at `now`. `runSchedule` drives it with a clock. */
export interface Schedule {
  readonly name: string;
  readonly owner: string;
  tick(now?: Date): Promise<TickResult>;
  /** The next fire after `now`. */
  next(now?: Date): SchedulePeriod;
}

export function createSchedule(opts: ScheduleOptions): Schedule {
  validateSchedule(opts);
  const graceMs = opts.graceMs ?? 3_600_000;
  const attempts = Math.max(1, opts.fireAttempts ?? 3);
  const retryDelayMs = opts.fireRetryDelayMs ?? 2_000;
  const log = opts.log ?? consoleLogger;
  const owner = opts.owner ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const { name, cron, timeZone } = opts;
  let settled: string | undefined; // the last period this replica is done with

  async function tick(now = new Date()): Promise<TickResult> {
    const period = periodAt({ cron, timeZone, now });
    if (!period || period.key === settled) return { outcome: "idle" };
    const lateMs = now.getTime() - period.at.getTime();
    if (lateMs > graceMs) {
      settled = period.key;
      log.warn("schedule fire missed: past the grace window", { schedule: name, period: period.key, lateMs, graceMs });
      return { outcome: "missed", period };
    }
    if (!(await opts.claim(name, period.key, owner))) {
      settled = period.key;
      return { outcome: "taken", period };
    }
    let error: unknown;
    for (let i = 1; i <= attempts; i++) {
      try {
        await opts.fire(period.key, { at: period.at, lateMs });
        settled = period.key;
        log.info("schedule fired", { schedule: name, period: period.key, owner, lateMs });
        return { outcome: "fired", period };
      } catch (err) {
        error = err;
        log.warn("schedule fire failed", { schedule: name, period: period.key, attempt: i, error: describeError(err).message });
        if (i < attempts) await new Promise((r) => setTimeout(r, retryDelayMs));
      }
    }
    if (opts.release) {
      await opts
        .release(name, period.key, owner)
        .catch((err: unknown) =>
          log.error("cannot release a failed schedule period", { schedule: name, period: period.key, error: describeError(err).message }),
        );
    } else {
      settled = period.key;
    }
    log.error("schedule fire gave up", { schedule: name, period: period.key, error: describeError(error).message });
    return { outcome: "failed", period, error };
  }

  return { name, owner, tick, next: (now = new Date()) => nextPeriod({ cron, timeZone, now }) };
}

export interface RunScheduleOptions extends ScheduleOptions {
  signal?: AbortSignal | undefined;
  /** The clock. Default `() => new Date()`. */
  now?: () => Date;
  /** Longest sleep between ticks, so clock jumps and released periods are noticed. Default 60 s. */
  maxSleepMs?: number;
  /** Called after every tick that did something (not "idle"). */
  onTick?: (result: TickResult) => void;
}

export interface ScheduleRunner {
  readonly schedule: Schedule;
  /** Stops the timer; waits for a running tick. */
  stop(): Promise<void>;
  readonly done: Promise<void>;
}

/**
 * Runs a schedule: ticks at start (a fire missed while the process was down is done now if within
 * the grace window), then at every fire time. Fires at most once per period across replicas through
 * `claim`. A tick that throws (the claim store is down) is logged and retried at the next wake-up.
 */
export function runSchedule(opts: RunScheduleOptions): ScheduleRunner {
  const schedule = createSchedule(opts);
  const clock = opts.now ?? (() => new Date());
  const maxSleepMs = opts.maxSleepMs ?? 60_000;
  const log = opts.log ?? consoleLogger;
  const stopping = new AbortController();
  const stopIt = () => stopping.abort();
  opts.signal?.addEventListener("abort", stopIt, { once: true });
  if (opts.signal?.aborted) stopping.abort();

  const done = (async () => {
    while (!stopping.signal.aborted) {
      try {
        const result = await schedule.tick(clock());
        if (result.outcome !== "idle") opts.onTick?.(result);
      } catch (err) {
        log.error("schedule tick failed", { schedule: opts.name, error: describeError(err).message });
      }
      const now = clock();
      const wait = Math.min(maxSleepMs, Math.max(0, schedule.next(now).at.getTime() - now.getTime()));
      await sleep(wait, stopping.signal);
    }
    opts.signal?.removeEventListener("abort", stopIt);
  })();

  return {
    schedule,
    done,
    async stop() {
      stopping.abort();
      await done;
    },
  };
}
