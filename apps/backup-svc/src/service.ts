import path from "node:path";
import { catalogUrl, spoolDir } from "@hesaab/config";
import { COMMAND_FILTERS } from "@hesaab/contracts";
import { connectBus, eventPublisher, runSchedule, type Bus } from "@hesaab/bus";
import { alertOnDeadLetter, catalogClaims, migrate, openPool } from "@hesaab/db";
import {
  natsCheck,
  postgresCheck,
  providerChecksFromEnv,
  startServiceObservability,
  type HealthServer,
  type ServiceObservability,
} from "@hesaab/observability";
import { Semaphore, type ProviderEnv } from "@hesaab/storage";
import {
  BackupJobBatcher,
  expireCustomerExports,
  fanOutBackupRequest,
  handleBackupJob,
  handleCustomerExportRequest,
  handleKeysRotateRequested,
  handleKeysShredRequested,
  handleRestoreRequest,
  handleRollbackRequest,
  jobAlertKey,
  openTenantBackupDeps,
  type SendCommand,
} from "@hesaab/tenant-backup";
import type { BackupSvcEnv } from "./env";

/** Customer exports built at once by one replica (each holds two platform connections). */
const EXPORTS_AT_ONCE = 2;

/** How backup-svc queues a fan-out's jobs: on the bus, each with its dedup id. */
export function jobSender(bus: Pick<Bus, "publish">): SendCommand {
  return async (job, { msgId }) => void (await bus.publish("backup.tenant.job.v1", job, { msgId }));
}

export interface RunningService {
  bus: Bus;
  /** The metrics and health port (`/metrics`, `/healthz`, `/readyz`). */
  health: HealthServer;
  observability: ServiceObservability;
  stop(): Promise<void>;
}

/**
 * backup-svc: tenant backups and restores. Wiring only: the work is in @hesaab/tenant-backup.
 *  - cmd.backup.> : requests fan out into one job per tenant; jobs held at once are backed up together
 *    (small tenants in batches), each acked or retried on its own outcome;
 *  - cmd.export.> : customer self-backups, built into HESAAB_DATA_DIR/exports (never a cloud), and a
 *    sweep every 10 minutes that removes those past their 24 hours;
 *  - cmd.keys.>   : key rotation and crypto-shredding (the CLI's `hesaab keys`), each reported with its operation id;
 *  - cmd.restore.>: restores (and dry runs that only verify), and their rollbacks;
 *  - the nightly schedule publishes one request per period, whatever the number of replicas.
 */
export async function startBackupService(env: BackupSvcEnv, { name = "backup-svc" }: { name?: string } = {}): Promise<RunningService> {
  const obs = startServiceObservability({ service: name, level: env.HESAAB_LOG_LEVEL });
  await migrate({ url: catalogUrl(env) });
  const bus = await connectBus({ url: env.NATS_URL, name, prefix: env.HESAAB_BUS_PREFIX, log: obs.log, observer: obs.metrics.busObserver() });
  await bus.ensureStreams();
  const deps = openTenantBackupDeps({
    env: { ...env, HESAAB_SPOOL_DIR: spoolDir(env) },
    workDir: path.join(env.HESAAB_DATA_DIR, "restores"),
    gzipLevel: env.BACKUP_GZIP_LEVEL,
    discover: { tenantColumn: env.TENANT_COLUMN },
    publish: eventPublisher(bus),
    // each of the batcher's runs backs up a large tenant and a batch at once
    units: 2 * env.BACKUP_CONCURRENCY,
  });
  // A job whose handler already raised its alert (a backup job that failed for good) raises no
  // second one when it is dead-lettered: both carry the job's key.
  const onDeadLetter = alertOnDeadLetter(deps, { key: jobAlertKey });

  // Customer exports: a few at once, on a pool of their own with two connections for each (an
  // archive holds two), so a burst of requests neither wedges itself nor takes the backups' connections.
  // They only read: from the standby when there is one.
  const exportPool = openPool({
    url: env.PLATFORM_READ_DATABASE_URL ?? env.PLATFORM_DATABASE_URL,
    max: 2 * EXPORTS_AT_ONCE + 1,
    name: "hesaab-export",
    connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
  });
  const exportDeps = {
    ...deps,
    platform: exportPool,
    platformRead: undefined, // exportPool reads the standby already, on connections of its own
    exportDir: path.join(env.HESAAB_DATA_DIR, "exports"),
    excludeColumns: env.CUSTOMER_EXPORT_EXCLUDE_COLUMNS,
  };
  const exportSlots = new Semaphore(EXPORTS_AT_ONCE);
  const batcher = new BackupJobBatcher(deps, { batchSize: env.BACKUP_BATCH_SIZE, runs: env.BACKUP_CONCURRENCY });
  const backups = await bus.consume({
    durable: "backup-svc",
    filter: COMMAND_FILTERS.backupSvc,
    concurrency: env.BACKUP_CONCURRENCY * env.BACKUP_BATCH_SIZE,
    maxDeliver: env.BACKUP_MAX_DELIVER,
    ackWaitMs: env.BACKUP_ACK_WAIT_MS,
    backoffMs: env.HESAAB_BUS_PREFIX ? [200, 400, 800] : undefined,
    onDeadLetter,
    handler: async (message, ctx) => {
      if (message.type === "backup.tenant.requested.v1") {
        await fanOutBackupRequest(deps, { message, send: jobSender(bus) });
      } else if (message.type === "backup.tenant.job.v1") {
        await handleBackupJob(deps, { message, delivery: ctx, batcher });
      } else if (message.type === "export.customer.requested.v1") {
        if (ctx.attempt === 1) obs.metrics.exportsRequested.inc();
        await exportSlots.run(() => handleCustomerExportRequest(exportDeps, { message, delivery: ctx }));
      } else if (message.type === "keys.rotate.requested.v1") {
        await handleKeysRotateRequested(deps, { message, delivery: ctx });
      } else if (message.type === "keys.shred.requested.v1") {
        await handleKeysShredRequested(deps, { message, delivery: ctx });
      }
    },
  });
  const restores = await bus.consume({
    durable: "backup-svc-restore",
    filter: COMMAND_FILTERS.restore,
    concurrency: 1,
    maxDeliver: 2,
    ackWaitMs: 60_000,
    onDeadLetter,
    handler: async (message, ctx) => {
      if (message.type === "restore.requested.v1") await handleRestoreRequest(deps, { message, delivery: ctx });
      else if (message.type === "restore.rollback.requested.v1") await handleRollbackRequest(deps, { message, delivery: ctx });
    },
  });

  obs.metrics.queueDepthGauges(async () => (await Promise.all([backups.backlog(), restores.backlog()])).flat());

  const { claim, release } = catalogClaims(deps.catalog.db);
  const schedule = env.BACKUP_SCHEDULE_ENABLED
    ? runSchedule({
        name: "tenant-backups",
        cron: env.BACKUP_SCHEDULE_CRON,
        timeZone: env.BACKUP_SCHEDULE_TZ,
        claim,
        release,
        log: bus.log,
        fire: async (period) => {
          await bus.publish(
            "backup.tenant.requested.v1",
            { all: true, purpose: "scheduled", period, requestedBy: "schedule:tenant-backups" },
            { msgId: `schedule:tenant-backups:${period}` },
          );
        },
      })
    : undefined;

  // Every replica sweeps: removing an expired export twice is harmless.
  const sweep = setInterval(() => {
    expireCustomerExports(exportDeps).catch((err: unknown) => bus.log.warn("customer export sweep failed", { error: String(err) }));
  }, 10 * 60_000);
  sweep.unref();

  const health = await obs.serve({
    host: env.HESAAB_HTTP_HOST,
    port: env.BACKUP_SVC_HTTP_PORT,
    checks: [
      postgresCheck("platform_db", deps.platform),
      postgresCheck("catalog_db", deps.catalog.pool),
      natsCheck(bus.nc),
      // envPieces.b2/r2 build their keys from a template, so zod's output type does not name them: the values are there.
      ...providerChecksFromEnv(env as ProviderEnv),
    ],
  });

  return {
    bus,
    health,
    observability: obs,
    async stop() {
      await obs.close();
      clearInterval(sweep);
      await schedule?.stop();
      await Promise.all([backups.stop(), restores.stop()]);
      await bus.drain();
      await exportPool.end();
      await deps.close();
    },
  };
}
