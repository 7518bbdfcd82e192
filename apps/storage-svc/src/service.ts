import path from "node:path";
import { catalogUrl } from "@hesaab/config";
import { COMMAND_FILTERS, subjectOf } from "@hesaab/contracts";
import { connectBus, eventPublisher, runSchedule, type Bus, type ScheduleRunner } from "@hesaab/bus";
import { alertOnDeadLetter, catalogClaims, migrate, openPool, readRuntimeSettings } from "@hesaab/db";
import {
  applyRetention,
  handleArtifactStored,
  handleReplicateRequested,
  handleRetentionRequested,
  handleVerifyRequested,
  openStorageOps,
  platformTenants,
  reconcile,
  retentionRulesInForce,
  storageAnalytics,
  takeStorageSample,
} from "@hesaab/storage-ops";
import {
  natsCheck,
  postgresCheck,
  providerChecksFromEnv,
  startServiceObservability,
  type HealthServer,
  type ServiceObservability,
} from "@hesaab/observability";
import type { ProviderEnv } from "@hesaab/storage";
import type { StorageSvcEnv } from "./env";

export interface RunningService {
  bus: Bus;
  /** The metrics and health port (`/metrics`, `/healthz`, `/readyz`). */
  health: HealthServer;
  observability: ServiceObservability;
  stop(): Promise<void>;
}

/**
 * storage-svc: replication and healing, verification, reconciliation, retention and usage samples.
 * Wiring only: the work is in @hesaab/storage-ops.
 *  - evt storage.artifact.stored.v1 (durable "storage-svc"): keyless verification + replication;
 *  - cmd.storage.> : verify, replicate and retention requests (retention: the same rules as the schedule);
 *  - schedules (once per period across replicas): reconcile, retention, sample; the deep
 *    verification schedule publishes a verify request, so any replica may run it.
 */
export async function startStorageService(env: StorageSvcEnv, { name = "storage-svc" }: { name?: string } = {}): Promise<RunningService> {
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
    schedule("storage-sample", env.STORAGE_SAMPLE_CRON, async () => {
      await takeStorageSample({ catalog: ops.catalog });
    });
    schedule("storage-deep-verify", env.STORAGE_DEEP_VERIFY_CRON, async (period) => {
      await bus.publish(
        "storage.verify.requested.v1",
        { deep: true, requestedBy: "schedule:storage-deep-verify" },
        { msgId: `schedule:storage-deep-verify:${period}` },
      );
    });
  }

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

  return {
    bus,
    health,
    observability: obs,
    async stop() {
      await obs.close();
      await Promise.all(schedules.map((s) => s.stop()));
      await Promise.all([stored.stop(), commands.stop()]);
      await bus.drain();
      await platform.end();
      await ops.close();
    },
  };
}
