// dr-svc: full-platform disaster-recovery backups, nightly (once across replicas) and on demand
// (`dr.backup.requested.v1`), and restores into another database asked for through the API
// (`dr.restore.requested.v1`). The CLI's `hesaab dr restore` needs none of this: it must work when
// nothing else does.
import { connectBus } from "@hesaab/bus";
import { catalogUrl, isHesaabError } from "@hesaab/config";
import { KeyRing } from "@hesaab/crypto";
import { migrate, openCatalog } from "@hesaab/db";
import { deployedGitCommit } from "@hesaab/dr";
import { natsCheck, postgresCheck, providerChecksFromEnv, startServiceObservability } from "@hesaab/observability";
import { openBackend, providersFromEnv, type ProviderEnv } from "@hesaab/storage";
import { loadEnv } from "./env";
import { startDrService } from "./service";

const SHUTDOWN_GRACE_MS = 30_000;

async function main(): Promise<void> {
  const env = loadEnv();
  const obs = startServiceObservability({ service: "dr-svc", level: env.HESAAB_LOG_LEVEL });
  const { log } = obs;
  // envPieces.b2/r2 build their keys from a template, so zod's output type does not name them: the values are there.
  const providers = providersFromEnv(env as ProviderEnv);
  if (providers.length === 0) throw new Error("no storage provider configured: set the B2_* and/or R2_* variables");
  if (providers.length < 2)
    log.warn("only one storage provider is configured: every disaster backup will be degraded", { providers: providers.map((p) => p.name) });

  const catalogDbUrl = catalogUrl(env);
  await migrate({ url: catalogDbUrl });
  const catalog = openCatalog({ url: catalogDbUrl, max: 4, connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS });
  const bus = await connectBus({
    url: env.NATS_URL,
    name: "dr-svc",
    waitForServer: true,
    log,
    observer: obs.metrics.busObserver(),
    prefix: env.HESAAB_BUS_PREFIX,
  });
  await bus.ensureStreams();

  const service = await startDrService({
    bus,
    catalog: catalog.db,
    keyRing: new KeyRing({ drMasterKeys: env.DR_MASTER_KEYS }),
    backends: providers.map((config) => openBackend({ backend: config }).backend),
    platformUrl: env.PLATFORM_DATABASE_URL,
    catalogUrl: catalogDbUrl,
    configFiles: env.DR_CONFIG_FILES,
    gitCommit: await deployedGitCommit({ configured: env.DEPLOYED_GIT_COMMIT }),
    retentionDays: env.DISASTER_BACKUP_RETENTION_DAYS,
    root: env.DR_STORAGE_ROOT || undefined,
    schedule: { cron: env.DR_SCHEDULE_CRON, timeZone: env.DR_SCHEDULE_TZ },
    maxAttempts: env.DR_MAX_ATTEMPTS,
    log,
  });
  obs.metrics.queueDepthGauges(() => service.consumption.backlog());
  await obs.serve({
    host: env.HESAAB_HTTP_HOST,
    port: env.DR_SVC_HTTP_PORT,
    checks: [postgresCheck("catalog_db", catalog.pool), natsCheck(bus.nc), ...providerChecksFromEnv(env as ProviderEnv)],
  });
  const next = service.schedule?.schedule.next();
  log.info("dr-svc started", {
    schedule: env.DR_SCHEDULE_CRON,
    timeZone: env.DR_SCHEDULE_TZ,
    nextRun: next?.at.toISOString(),
    providers: providers.map((p) => p.name),
  });

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info("dr-svc stopping", { signal });
    // A running backup gets a grace period to finish; after it, it is aborted (its upload is
    // aborted, its record marked failed) and the command goes back to the queue.
    const grace = setTimeout(() => void service.stop({ abort: true }), SHUTDOWN_GRACE_MS);
    try {
      await service.stop();
    } finally {
      await obs.close().catch(() => {});
      clearTimeout(grace);
      await bus.drain().catch(() => {});
      await catalog.close().catch(() => {});
      log.info("dr-svc stopped");
    }
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  process.stderr.write(`dr-svc: ${isHesaabError(err) ? `${err.describe()} [${err.code}]` : err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
