import { z } from "zod";
import { envPieces, parseEnv } from "@hesaab/config";

const schema = z.object({
  ...envPieces.platformDb,
  ...envPieces.catalogDb,
  ...envPieces.nats,
  ...envPieces.httpHost,
  ...envPieces.storageSvcHttp,
  // Both providers are required: replication between them is this service's job.
  ...envPieces.b2,
  ...envPieces.r2,
  // Keys only for deep verification; a type without its keys is skipped (and the report says so).
  BACKUP_MASTER_KEYS: envPieces.backupKeys.BACKUP_MASTER_KEYS.optional(),
  DR_MASTER_KEYS: envPieces.drKeys.DR_MASTER_KEYS.optional(),
  ...envPieces.retention,
  ...envPieces.retentionKeeps,
  TENANT_COLUMN: envPieces.tenantBackup.TENANT_COLUMN,
  STORAGE_SCHEDULE_TZ: z.string().default("UTC"),
  /** Inventory sweep of both providers against the catalog. */
  STORAGE_RECONCILE_CRON: z.string().default("30 3 * * *"),
  /** Deep verification of a sample (see the two limits below). */
  STORAGE_DEEP_VERIFY_CRON: z.string().default("0 5 * * *"),
  STORAGE_RETENTION_CRON: z.string().default("0 4 * * *"),
  /** Restore drills (packages/drills; need BACKUP_MASTER_KEYS and DR_MASTER_KEYS): the nightly sample, and the weekly disaster-recovery drill. */
  STORAGE_DRILL_CRON: z.string().default("0 6 * * *"),
  STORAGE_DR_DRILL_CRON: z.string().default("0 7 * * 0"),
  ...envPieces.drills,
  DEPLOYED_GIT_COMMIT: envPieces.drBackup.DEPLOYED_GIT_COMMIT,
  DR_STORAGE_ROOT: envPieces.drBackup.DR_STORAGE_ROOT,
  /** Set to "false" to run only the event and command consumers (e.g. a second replica). */
  STORAGE_SCHEDULES_ENABLED: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
  ...envPieces.deepVerify,
  /** Artifacts replicated or verified at once by one replica. */
  STORAGE_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(2),
  STORAGE_MAX_DELIVER: z.coerce.number().int().min(1).max(50).default(6),
  STORAGE_ACK_WAIT_MS: z.coerce.number().int().min(1000).default(60_000),
  /** Keep every key under this folder of the buckets (a shared bucket, tests). Must match the producers'. */
  STORAGE_KEY_PREFIX: z.string().optional(),
  ...envPieces.dataDir,
  ...envPieces.spool,
  /** How often the local spool is drained (and once at start): sealed backups no provider took, uploaded when one answers. */
  STORAGE_SPOOL_DRAIN_INTERVAL_MS: z.coerce.number().int().min(100).default(60_000),
  ...envPieces.busPrefix,
  // alert rules and delivery; the usage sample is taken on the first check of each UTC day
  ...envPieces.alerts,
});

export type StorageSvcEnv = z.output<typeof schema>;
export const loadEnv = (source: NodeJS.ProcessEnv = process.env): StorageSvcEnv => parseEnv(schema, source);
