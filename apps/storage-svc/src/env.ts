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
  /** A usage sample into storage_samples (growth over time). */
  STORAGE_SAMPLE_CRON: z.string().default("15 0 * * *"),
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
  ...envPieces.busPrefix,
});

export type StorageSvcEnv = z.output<typeof schema>;
export const loadEnv = (source: NodeJS.ProcessEnv = process.env): StorageSvcEnv => parseEnv(schema, source);
