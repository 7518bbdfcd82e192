import path from "node:path";
import { catalogUrl, spoolDir } from "@hesaab/config";
import { COMMAND_FILTERS, subjectOf } from "@hesaab/contracts";
import { connectBus, eventPublisher, runSchedule, type Bus, type ScheduleRunner } from "@hesaab/bus";
import { alertOnDeadLetter, catalogClaims, migrate, openPool, readRuntimeSettings } from "@hesaab/db";
import {
  applyRetention,
  drainSpool,
  handleArtifactStored,
  handleReplicateRequested,
  handleRetentionRequested,
  handleVerifyRequested,
  openStorageOps,
  platformTenants,
  reconcile,
  retentionRulesInForce,
  startAlerting,
  type Alerting,
  storageAnalytics,
} from "@hesaab/storage-ops";
import { openSpool, type ProviderEnv } from "@hesaab/storage";
import { drillDisaster, openDrillDeps, runNightlyDrills } from "@hesaab/drills";
import {
  natsCheck,
  postgresCheck,
  providerChecksFromEnv,
  startServiceObservability,
  type HealthServer,
  type ServiceObservability,
} from "@hesaab/observability";
import type { StorageSvcEnv } from "./env";

export interface RunningService {
  bus: Bus;
  /** The alerting loop (`tick()` runs one pass now: tests drive it with their clock). */
  alerting: Alerting;
  /** The metrics and health port (`/metrics`, `/healthz`, `/readyz`). */
  health: HealthServer;
  observability: ServiceObservability;
  stop(): Promise<void>;
}

/**
 * storage-svc: replication and healing, verification, reconciliation, retention, usage samples and alerts.
 * Wiring only: the work is in @hesaab/storage-ops.
 *  - evt storage.artifact.stored.v1 (durable "storage-svc"): keyless verification + replication;
 *  - evt alert.raised.v1 (durable "storage-svc-alerts"): the alert's notifications, queued and sent;
 *  - cmd.storage.> : verify, replicate and retention requests (retention: the same rules as the schedule);
 *  - schedules (once per period across replicas): reconcile, retention, the daily alert summary; the
 *    deep verification schedule publishes a verify request, so any replica may run it;
 *  - the alerting loop (ALERT_CHECK_INTERVAL_MS): alert rules, deliveries due, and the day's usage
 *    sample when it has none yet. `now` is its clock (tests move it);
 *  - the local spool (backups no provider took): drained at start and every interval (see `drainSpool`).
 *  - restore drills (when both BACKUP_MASTER_KEYS and DR_MASTER_KEYS are set): the nightly sample
 *    (STORAGE_DRILL_CRON) and the weekly disaster-recovery drill (STORAGE_DR_DRILL_CRON).
 */
export async function startStorageService(
  env: StorageSvcEnv,
  { name = "storage-svc", now }: { name?: string; now?: () => Date } = {},
): Promise<RunningService> {
  const obs = startServiceObservability({ service: name, level: env.HESAAB_LOG_LEVEL });
  await migrate({ url: catalogUrl(env) });
  const bus = await connectBus({ url: env.NATS_URL, name, prefix: env.HESAAB_BUS_PREFIX, log: obs.log, observer: obs.metrics.busObserver() });
  await bus.ensureStreams();
  const ops = openStorageOps({ env, publish: eventPublisher(bus), actor: "system:storage-svc", keyPrefix: env.STORAGE_KEY_PREFIX });
  const platform = openPool({ url: env.PLATFORM_DATABASE_URL, max: 1, name: "hesaab-storage", connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS });
  const verifyDeps = {
    ...ops,
    workDir: path.join(env.HESAAB_DATA_DIR, "verify"),
    deepPercent: env.STORAGE_DEEP_VERIFY_PERCENT,
    deepMaxBytes: env.STORAGE_DEEP_VERIFY_MAX_BYTES,
  };
  // retention reads its rules when it runs: the catalog's settings (`settings.set`) over the environment's
  const rules = async () => retentionRulesInForce(env, await readRuntimeSettings(ops.catalog.db));
  const activeTenants = () =>
    platformTenants({ pool: platform, discover: { tenantColumn: env.TENANT_COLUMN } }).catch((err: unknown) => {
      bus.log.warn("platform tenants unknown: keeping every tenant's last good backup", { error: String(err) });
      return "all" as const;
    });
  const onDeadLetter = alertOnDeadLetter(ops);
  const common = {
    concurrency: env.STORAGE_CONCURRENCY,
    maxDeliver: env.STORAGE_MAX_DELIVER,
    ackWaitMs: env.STORAGE_ACK_WAIT_MS,
    backoffMs: env.HESAAB_BUS_PREFIX ? [200, 400, 800] : [5_000, 30_000, 120_000, 600_000, 1_800_000],
    onDeadLetter,
  };

  const alerting = startAlerting({
    catalog: ops.catalog,
    backends: ops.backends,
    publish: ops.publish,
    env,
    log: bus.log,
    checks: env.STORAGE_SCHEDULES_ENABLED,
    ...(now ? { now } : {}),
  });
  const raised = await bus.consumeEvents({
    ...common,
    durable: "storage-svc-alerts",
    filter: subjectOf("alert.raised.v1"),
    handler: async (message) => {
      if (message.type === "alert.raised.v1") await alerting.raised(message.data.alertId);
    },
  });

  const stored = await bus.consumeEvents({
    ...common,
    durable: "storage-svc",
    filter: subjectOf("storage.artifact.stored.v1"),
    handler: async (message, ctx) => {
      if (message.type === "storage.artifact.stored.v1") await handleArtifactStored(ops, { message, delivery: ctx });
    },
  });
  const commands = await bus.consume({
    ...common,
    durable: "storage-svc",
    filter: COMMAND_FILTERS.storageSvc,
    handler: async (message, ctx) => {
      if (message.type === "storage.replicate.requested.v1") await handleReplicateRequested(ops, { message, delivery: ctx });
      else if (message.type === "storage.verify.requested.v1") await handleVerifyRequested(verifyDeps, { message, delivery: ctx });
      else if (message.type === "storage.retention.requested.v1") await handleRetentionRequested({ ...ops, rules, activeTenants }, { message, delivery: ctx });
    },
  });

  const schedules: ScheduleRunner[] = [];
  if (env.STORAGE_SCHEDULES_ENABLED) {
    const { claim, release } = catalogClaims(ops.catalog.db);
    const schedule = (scheduleName: string, cron: string, fire: (period: string) => Promise<void>) =>
      schedules.push(runSchedule({ name: scheduleName, cron, timeZone: env.STORAGE_SCHEDULE_TZ, claim, release, log: bus.log, fire }));
    schedule("storage-reconcile", env.STORAGE_RECONCILE_CRON, async () => {
      const report = await reconcile(ops);
      bus.log.info("reconciliation done", {
        missing: report.missing.length,
        extra: report.extra.length,
        corrupt: report.corrupt.length,
        healed: report.healed.length,
        unhealed: report.unhealed.length,
      });
    });
    schedule("storage-retention", env.STORAGE_RETENTION_CRON, async () => {
      const report = await applyRetention({ ...ops, rules: await rules(), activeTenants: await activeTenants() });
      bus.log.info("retention applied", { deleted: report.deleted.length, kept: report.kept.length, failed: report.failed.length });
    });
    schedule("alert-summary", env.ALERT_SUMMARY_CRON, async (period) => {
      await alerting.summary(period);
    });
    schedule("storage-deep-verify", env.STORAGE_DEEP_VERIFY_CRON, async (period) => {
      await bus.publish(
        "storage.verify.requested.v1",
        { deep: true, requestedBy: "schedule:storage-deep-verify" },
        { msgId: `schedule:storage-deep-verify:${period}` },
      );
    });
    scheduleDrills({ env, schedule, log: bus.log, publish: eventPublisher(bus) });
  }

  obs.metrics.queueDepthGauges(async () => (await Promise.all([raised.backlog(), stored.backlog(), commands.backlog()])).flat());
  // what each provider holds and costs, from the catalog's analytics (the figures the admin app shows)
  obs.metrics.storageUsageGauges(async () => {
    const analytics = await storageAnalytics({ catalog: ops.catalog });
    return analytics.providers.map((p) => ({
      provider: p.provider,
      bytes: p.bytes,
      objects: p.objects,
      monthlyCostUsd: analytics.cost.monthly[p.provider]?.total ?? 0,
    }));
  });
  const health = await obs.serve({
    host: env.HESAAB_HTTP_HOST,
    port: env.STORAGE_SVC_HTTP_PORT,
    checks: [
      postgresCheck("platform_db", platform),
      postgresCheck("catalog_db", ops.catalog.pool),
      natsCheck(bus.nc),
      ...providerChecksFromEnv(env as ProviderEnv),
    ],
  });

  const spool = openSpool({ dir: spoolDir(env), maxBytes: env.HESAAB_SPOOL_MAX_BYTES });
  const drainer = spoolDrainer({
    intervalMs: env.STORAGE_SPOOL_DRAIN_INTERVAL_MS,
    drain: async () => {
      const report = await drainSpool({ ...ops, spool });
      for (const u of report.uploaded) bus.log.info("spooled backup uploaded", { ...u });
      if (report.waiting.length > 0) bus.log.warn("spooled backups waiting", { waiting: report.waiting.length });
    },
    onError: (err) => bus.log.warn("spool drain failed", { error: String(err) }),
  });

  return {
    bus,
    alerting,
    health,
    observability: obs,
    async stop() {
      await obs.close();
      await drainer.stop();
      await Promise.all(schedules.map((s) => s.stop()));
      await Promise.all([stored.stop(), commands.stop(), raised.stop()]);
      await alerting.stop();
      await bus.drain();
      await platform.end();
      await ops.close();
    },
  };
}

/**
 * Runs `drain` now (what a restart finds in the spool goes first) and then `intervalMs` after each
 * run ends, never two at once. Every replica drains: a per-backup lock in the catalog keeps two
 * from uploading one artifact.
 */
function spoolDrainer({ intervalMs, drain, onError }: { intervalMs: number; drain: () => Promise<void>; onError: (err: unknown) => void }) {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const tick = (): void => {
    running = drain()
      .catch(onError)
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/**
 * The drill schedules. A drill's dependencies (pools, keys) are opened when it fires and closed
 * after: drills run once a night and once a week, and need the tenant keys storage-svc does not
 * otherwise hold. Each drill records and alerts on its own; a schedule's failure is logged.
 */
function scheduleDrills(o: {
  env: StorageSvcEnv;
  schedule: (name: string, cron: string, fire: (period: string) => Promise<void>) => void;
  log: Bus["log"];
  publish: ReturnType<typeof eventPublisher>;
}): void {
  const { env, log } = o;
  const { BACKUP_MASTER_KEYS, DR_MASTER_KEYS } = env;
  if (!BACKUP_MASTER_KEYS || !DR_MASTER_KEYS) {
    log.warn("restore drills are off: they need BACKUP_MASTER_KEYS and DR_MASTER_KEYS", {});
    return;
  }
  const open = () =>
    openDrillDeps({
      env: { ...env, BACKUP_MASTER_KEYS, DR_MASTER_KEYS },
      workDir: path.join(env.HESAAB_DATA_DIR, "drills"),
      publish: o.publish,
    });
  o.schedule("storage-drill", env.STORAGE_DRILL_CRON, async () => {
    const deps = await open();
    try {
      const report = await runNightlyDrills(deps, {
        windowDays: env.DRILL_WINDOW_DAYS ?? env.BACKUP_RETENTION_DAYS,
        minSample: env.DRILL_MIN_SAMPLE,
        maxSample: env.DRILL_MAX_SAMPLE,
      });
      log.info("restore drills done", {
        drilled: report.results.length,
        matched: report.results.filter((r) => r.outcome === "match").length,
        failed: report.results.filter((r) => r.outcome !== "match").length,
      });
    } finally {
      await deps.close();
    }
  });
  o.schedule("storage-dr-drill", env.STORAGE_DR_DRILL_CRON, async () => {
    const deps = await open();
    try {
      const result = await drillDisaster(deps, { root: env.DR_STORAGE_ROOT || undefined });
      log.info("disaster-recovery drill done", { backupId: result.backupId, outcome: result.outcome });
    } finally {
      await deps.close();
    }
  });
}
