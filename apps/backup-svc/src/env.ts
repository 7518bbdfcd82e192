import { z } from "zod";
import { envPieces, parseEnv } from "@hesaab/config";

const schema = z.object({
  ...envPieces.platformDb,
  ...envPieces.catalogDb,
  ...envPieces.nats,
  ...envPieces.httpHost,
  ...envPieces.backupSvcHttp,
  ...envPieces.b2,
  ...envPieces.r2,
  ...envPieces.backupKeys,
  ...envPieces.retention,
  // The B2/R2 pieces are all required: a service without both providers is a misconfiguration.
  BACKUP_SCHEDULE_CRON: z.string().default("0 2 * * *"),
  BACKUP_SCHEDULE_TZ: z.string().default("UTC"),
  /** Backup runs one replica works on at once: a batch of small tenants, or one large tenant. */
  BACKUP_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  /** Small tenants backed up together (one snapshot, one COPY per table); a replica holds up to concurrency × this many jobs. */
  BACKUP_BATCH_SIZE: z.coerce.number().int().min(1).max(500).default(50),
  BACKUP_MAX_DELIVER: z.coerce.number().int().min(1).max(50).default(5),
  ...envPieces.tenantBackup,
  ...envPieces.customerExport,
  ...envPieces.dataDir,
  ...envPieces.spool,
  ...envPieces.busPrefix,
  /** Time without a progress signal before JetStream redelivers a job (a killed worker's job comes back after it). */
  BACKUP_ACK_WAIT_MS: z.coerce.number().int().min(1000).default(30_000),
  /** Set to "false" to run without the nightly schedule (e.g. a worker-only replica). */
  BACKUP_SCHEDULE_ENABLED: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
});

export type BackupSvcEnv = z.output<typeof schema>;
export const loadEnv = (source: NodeJS.ProcessEnv = process.env): BackupSvcEnv => parseEnv(schema, source);
