// dr-svc's configuration: the only place that reads process.env (validated once at start).
import { z } from "zod";
import { envPieces, parseEnv } from "@hesaab/config";

const schema = z.object({
  ...envPieces.platformDb,
  ...envPieces.catalogDb,
  ...envPieces.nats,
  ...envPieces.httpHost,
  ...envPieces.drSvcHttp,
  ...envPieces.busPrefix,
  // A provider may be left out (then backups are degraded until it is configured); at least one is checked at start.
  ...z.object(envPieces.b2).partial().shape,
  ...z.object(envPieces.r2).partial().shape,
  ...envPieces.drKeys,
  DISASTER_BACKUP_RETENTION_DAYS: envPieces.retention.DISASTER_BACKUP_RETENTION_DAYS,
  /** Five-field cron of the nightly disaster backup, read in DR_SCHEDULE_TZ. */
  DR_SCHEDULE_CRON: z.string().default("30 1 * * *"),
  DR_SCHEDULE_TZ: z.string().default("UTC"),
  ...envPieces.drBackup,
  /** Deliveries of one backup command before it is given up (and an alert raised). */
  DR_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
});

export type DrSvcEnv = z.output<typeof schema>;
export const loadEnv = (source: NodeJS.ProcessEnv = process.env): DrSvcEnv => parseEnv(schema, source);
