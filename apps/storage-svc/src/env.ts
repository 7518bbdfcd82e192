import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { envPieces, parseEnv } from "@hesaab/config";

const keepCount = z.coerce.number().int().min(0).max(1000).default(0);

/** `STORAGE_PRICES`: a JSON object of price overrides, e.g. `{"providers":{"r2":{"storagePerGbMonth":0.015}}}` (see docs/storage-costs.md). */
const priceOverrides = z
  .string()
  .optional()
  .transform((raw, ctx) => {
    if (!raw) return undefined;
    try {
      const value: unknown = JSON.parse(raw);
      const parsed = z
        .object({ checked: z.string().optional(), providers: z.record(z.string(), z.record(z.string(), z.number().nonnegative())).optional() })
        .safeParse(value);
      if (parsed.success) return parsed.data;
      ctx.addIssue({ code: "custom", message: "must be {\"providers\": {\"b2\": {\"storagePerGbMonth\": 0.006, …}}}" });
    } catch {
      ctx.addIssue({ code: "custom", message: "must be JSON" });
    }
    return z.NEVER;
  });

const schema = z.object({
  ...envPieces.platformDb,
  ...envPieces.catalogDb,
  ...envPieces.nats,
  // Both providers are required: replication between them is this service's job.
  ...envPieces.b2,
  ...envPieces.r2,
  // Keys only for deep verification; a type without its keys is skipped (and the report says so).
  BACKUP_MASTER_KEYS: envPieces.backupKeys.BACKUP_MASTER_KEYS.optional(),
  DR_MASTER_KEYS: envPieces.drKeys.DR_MASTER_KEYS.optional(),
  ...envPieces.retention,
  /** Grandfather-father-son keeps (0 = off): the newest good backup of each of the last N days / weeks / months stays even when expired. */
  BACKUP_RETENTION_KEEP_DAILY: keepCount,
  BACKUP_RETENTION_KEEP_WEEKLY: keepCount,
  BACKUP_RETENTION_KEEP_MONTHLY: keepCount,
  DISASTER_RETENTION_KEEP_DAILY: keepCount,
  DISASTER_RETENTION_KEEP_WEEKLY: keepCount,
  DISASTER_RETENTION_KEEP_MONTHLY: keepCount,
  STORAGE_SCHEDULE_TZ: z.string().default("UTC"),
  /** Inventory sweep of both providers against the catalog. */
  STORAGE_RECONCILE_CRON: z.string().default("30 3 * * *"),
  /** Deep verification of a sample (see the two limits below). */
  STORAGE_DEEP_VERIFY_CRON: z.string().default("0 5 * * *"),
  STORAGE_RETENTION_CRON: z.string().default("0 4 * * *"),
  /** A usage sample into storage_samples (growth over time). */
  STORAGE_SAMPLE_CRON: z.string().default("15 0 * * *"),
  /** Set to "false" to run only the event and command consumers (e.g. a second replica). */
  STORAGE_SCHEDULES_ENABLED: z.enum(["true", "false"]).default("true").transform((v) => v === "true"),
  STORAGE_DEEP_VERIFY_PERCENT: z.coerce.number().min(0).max(100).default(5),
  STORAGE_DEEP_VERIFY_MAX_BYTES: z.coerce.number().int().min(0).default(10 * 1024 ** 3),
  STORAGE_PRICES: priceOverrides,
  /** Artifacts replicated or verified at once by one replica. */
  STORAGE_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(2),
  STORAGE_MAX_DELIVER: z.coerce.number().int().min(1).max(50).default(6),
  STORAGE_ACK_WAIT_MS: z.coerce.number().int().min(1000).default(60_000),
  /** Keep every key under this folder of the buckets (a shared bucket, tests). Must match the producers'. */
  STORAGE_KEY_PREFIX: z.string().optional(),
  HESAAB_DATA_DIR: z.string().default(path.join(os.tmpdir(), "hesaab")),
  /** Tests only: prefixes NATS streams and subjects so parallel tests never share them. */
  HESAAB_BUS_PREFIX: z.string().optional(),
});

export type StorageSvcEnv = z.output<typeof schema>;
export const loadEnv = (source: NodeJS.ProcessEnv = process.env): StorageSvcEnv => parseEnv(schema, source);
