import { randomBytes } from "node:crypto";
import os from "node:os";
import { describeError } from "@hesaab/config";
import type { Log, Publish } from "@hesaab/contracts";
import { catalogClaims, type Catalog } from "@hesaab/db";
import type { StorageBackend } from "@hesaab/storage";
import { takeStorageSample } from "../analytics";
import { alertChannels, type AlertChannelEnv } from "./channels";
import { AlertDeliverer } from "./delivery";
import { checkStorageBudget, evaluateAlertRules, newAlertRuleState, type AlertThresholds } from "./rules";
import { dailySummary } from "./summary";

/** The parsed `envPieces.alerts` variables. */
export interface AlertingEnv extends AlertChannelEnv, AlertThresholds {
  ALERT_DELIVERY_ATTEMPTS: number;
  ALERT_DELIVERY_BACKOFF_MS: number;
  ALERT_CHECK_INTERVAL_MS: number;
}

export interface AlertingOptions {
  catalog: Catalog;
  backends: readonly StorageBackend[];
  publish?: Publish | undefined;
  env: AlertingEnv;
  log: Log;
  /** The clock (tests move it). Default `() => new Date()`. */
  now?: () => Date;
  /** Run the periodic checks (rules, the daily sample) too; false: only deliver (a second replica). Default true. */
  checks?: boolean;
}

export interface Alerting {
  readonly deliverer: AlertDeliverer;
  /** One pass: the daily sample when due, the rules, then the deliveries due. Never throws. */
  tick(): Promise<void>;
  /** An alert was raised (its event): queue its notifications and send them now. */
  raised(alertId: string): Promise<void>;
  /** Queues and sends the daily summary of `day`. */
  summary(day: string): Promise<void>;
  stop(): Promise<void>;
}

/** The claim name of the daily storage sample (one per UTC day across replicas). */
const SAMPLE_CLAIM = "storage-sample-daily";

/**
 * storage-svc's alerting loop, every ALERT_CHECK_INTERVAL_MS: the storage sample when the day has
 * none yet (a due-check, so a service down at a fixed time still samples that day) with the budget
 * rule after it, the alert rules, and the deliveries due (new ones, and retries whose backoff ran out).
 */
export function startAlerting(o: AlertingOptions): Alerting {
  const clock = o.now ?? (() => new Date());
  const checks = o.checks ?? true;
  const deliverer = new AlertDeliverer({
    catalog: o.catalog,
    channels: alertChannels(o.env),
    maxAttempts: o.env.ALERT_DELIVERY_ATTEMPTS,
    backoffMs: o.env.ALERT_DELIVERY_BACKOFF_MS,
    log: o.log,
  });
  const state = newAlertRuleState();
  const { claim, release } = catalogClaims(o.catalog.db);
  const owner = `${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  let sampledDay: string | undefined;
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;

  const guarded = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      o.log.warn(`alerting: ${what} failed`, { error: describeError(err).message });
    }
  };

  /** The day's sample, once per UTC day across replicas (the catalog's schedule claims), then the budget. */
  const sampleIfDue = async (now: Date) => {
    const day = now.toISOString().slice(0, 10);
    if (sampledDay === day) return;
    if (!(await claim(SAMPLE_CLAIM, day, owner))) {
      sampledDay = day;
      return;
    }
    try {
      const rows = await takeStorageSample({ catalog: o.catalog, now });
      sampledDay = day;
      o.log.info("storage sample taken", { day, rows });
    } catch (err) {
      await release(SAMPLE_CLAIM, day, owner); // a later pass tries again
      throw err;
    }
    const budget = await checkStorageBudget({ catalog: o.catalog, publish: o.publish, thresholds: o.env, now });
    await deliverer.enqueue(budget.resolved, "resolved", now);
  };

  const pass = async () => {
    const now = clock();
    if (checks) {
      await guarded("storage sample", () => sampleIfDue(now));
      await guarded("alert rules", async () => {
        const outcome = await evaluateAlertRules({ catalog: o.catalog, backends: o.backends, publish: o.publish, thresholds: o.env, state, now });
        await deliverer.enqueue(outcome.resolved, "resolved", now);
      });
    }
    await guarded("alert delivery", async () => void (await deliverer.deliverDue(now)));
  };
  // passes never overlap: each waits for the one before (and a failed one does not stop the next)
  const serial = (fn: () => Promise<void>): Promise<void> => {
    const run = chain.then(fn);
    chain = run.catch(() => {});
    return run;
  };

  const timer = setInterval(() => void serial(pass), o.env.ALERT_CHECK_INTERVAL_MS);
  timer.unref();
  void serial(pass);

  return {
    deliverer,
    tick: () => serial(pass),
    raised: (alertId) =>
      serial(async () => {
        // queueing must succeed for the event to be acked (it is redelivered otherwise); sending may fail and is retried by the loop
        await deliverer.enqueue([alertId], "raised", clock());
        await guarded("alert delivery", async () => void (await deliverer.deliverDue(clock())));
      }),
    summary: (day) =>
      serial(async () => {
        await deliverer.enqueueSummary(day, await dailySummary(o.catalog, clock()), clock());
        await guarded("alert delivery", async () => void (await deliverer.deliverDue(clock())));
      }),
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await chain.catch(() => {});
      deliverer.close();
    },
  };
}
