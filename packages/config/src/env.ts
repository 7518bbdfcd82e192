import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { Secret } from "./secret";
import { ConfigError } from "./errors";

/**
 * Building blocks for each app's `src/env.ts`. An app composes the pieces it needs into one zod
 * object and calls `parseEnv` once at start; everything else receives typed config.
 */

export const secretString = z
  .string()
  .min(1)
  .transform((v) => new Secret(v));

/** `"3:<base64 32 bytes>,2:<base64>"` → versioned 32-byte keys; the highest version encrypts. */
export const masterKeySet = z.string().transform((raw, ctx) => {
  const keys = new Map<number, Secret<Buffer>>();
  for (const part of raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(\d+):(.+)$/.exec(part);
    const key = m ? Buffer.from(m[2]!, "base64") : undefined;
    if (!m || !key || key.length !== 32) {
      ctx.addIssue({ code: "custom", message: "each entry must be <version>:<base64 of 32 bytes>, e.g. 1:$(openssl rand -base64 32)" });
      return z.NEVER;
    }
    keys.set(Number(m[1]), new Secret(key));
  }
  if (keys.size === 0) {
    ctx.addIssue({ code: "custom", message: "at least one key is required" });
    return z.NEVER;
  }
  return keys;
});

export type MasterKeySet = Map<number, Secret<Buffer>>;

const bool = z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) => v === "true" || v === "1" || v === "yes");

function provider(prefix: "B2" | "R2") {
  return {
    [`${prefix}_BUCKET_NAME`]: z.string().min(1),
    [`${prefix}_ENDPOINT_URL`]: z.string().url(),
    [`${prefix}_ACCESS_KEY_ID`]: secretString,
    [`${prefix}_SECRET_ACCESS_KEY`]: secretString,
    [`${prefix}_REGION`]: z.string().default(prefix === "B2" ? "us-east-005" : "auto"),
    [`${prefix}_FORCE_PATH_STYLE`]: bool.default(true),
  } as const;
}

/**
 * `CUSTOMER_EXPORT_EXCLUDE_COLUMNS`: columns customer exports leave out besides the built-in credential
 * patterns (`@hesaab/tenant-data`'s CREDENTIAL_COLUMN_PATTERNS). Comma-separated; each `column`,
 * `table.column` or `schema.table.column`, `*` matching any characters, case ignored. The entry
 * `!defaults` drops the built-in patterns (then only those listed are left out).
 */
export const columnExclusions = z
  .string()
  .default("")
  .transform((raw, ctx) => {
    const entries = raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = entries.filter((e) => e !== "!defaults" && !/^[^.\s!]+(\.[^.\s]+){0,2}$/.test(e));
    if (bad.length > 0) {
      ctx.addIssue({
        code: "custom",
        message: `${bad.map((b) => JSON.stringify(b)).join(", ")}: each entry is column, table.column or schema.table.column (* matches any characters), or !defaults`,
      });
      return z.NEVER;
    }
    return { defaults: !entries.includes("!defaults"), patterns: entries.filter((e) => e !== "!defaults") };
  });

/** A grandfather-father-son keep count (0 = off). */
const keepCount = z.coerce.number().int().min(0).max(1000).default(0);

export const envPieces = {
  platformDb: {
    PLATFORM_DATABASE_URL: z.string().min(1),
    /**
     * A hot standby of the platform database: tenant backups, customer exports and discovery read it so
     * the nightly run does not load the primary. Restores (and their rollback points) use the primary.
     */
    PLATFORM_READ_DATABASE_URL: z.string().min(1).optional(),
  },
  catalogDb: {
    BACKUP_DATABASE_URL: z.string().min(1).optional(),
    /** Every database pool (platform and catalog) waits this long for a connection before `database_busy` (retryable). */
    DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  },
  nats: { NATS_URL: z.string().default("nats://127.0.0.1:4222") },
  b2: provider("B2"),
  r2: provider("R2"),
  backupKeys: { BACKUP_MASTER_KEYS: masterKeySet },
  drKeys: { DR_MASTER_KEYS: masterKeySet },
  retention: {
    BACKUP_RETENTION_DAYS: z.coerce.number().int().positive().default(30),
    DISASTER_BACKUP_RETENTION_DAYS: z.coerce.number().int().positive().default(90),
    CUSTOMER_BACKUP_DAILY_LIMIT: z.coerce
      .number()
      .int()
      .min(1)
      .max(1, "CUSTOMER_BACKUP_DAILY_LIMIT: only 1 self-backup per tenant per day is supported (the catalog keeps one per day)")
      .default(1),
  },
  /** Grandfather-father-son keeps (0 = off): the newest good backup of each of the last N days / weeks / months stays even when expired. */
  retentionKeeps: {
    BACKUP_RETENTION_KEEP_DAILY: keepCount,
    BACKUP_RETENTION_KEEP_WEEKLY: keepCount,
    BACKUP_RETENTION_KEEP_MONTHLY: keepCount,
    DISASTER_RETENTION_KEEP_DAILY: keepCount,
    DISASTER_RETENTION_KEEP_WEEKLY: keepCount,
    DISASTER_RETENTION_KEEP_MONTHLY: keepCount,
  },
  /** How a tenant backup is written: its compression (codec and level), and the column that marks a tenant's rows. */
  tenantBackup: {
    /** gzip (default) or zstd; restores read both, whatever this says (the artifact's header names its encoding). */
    BACKUP_COMPRESSION: z.enum(["gzip", "zstd"], { error: (issue) => `must be gzip or zstd, got ${JSON.stringify(issue.input)}` }).default("gzip"),
    BACKUP_GZIP_LEVEL: z.coerce.number().int().min(1).max(9).default(6),
    BACKUP_ZSTD_LEVEL: z.coerce.number().int().min(1).max(19).default(3),
    TENANT_COLUMN: z.string().default("tenant_id"),
    /**
     * Large tenants (tenant-backup `bounded.ts`): comma-separated tenant ids always backed up in the bounded
     * mode (per-table, keyset-paged short transactions; no single snapshot: see docs/operations.md).
     */
    BACKUP_BOUNDED_TENANTS: z
      .string()
      .default("")
      .transform((v) =>
        v
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    /** A tenant whose last good backup had more plaintext bytes than this starts bounded; 0: only after a failure. Default 4 GiB. */
    BACKUP_BOUNDED_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .default(4 * 1024 ** 3),
    /** Rows per keyset page of a bounded backup (its memory, and each transaction's length). */
    BACKUP_BOUNDED_PAGE_ROWS: z.coerce.number().int().min(100).max(10_000_000).default(10_000),
  },
  /** What customer exports (the tenant's own ZIP) leave out: see `columnExclusions`. */
  customerExport: { CUSTOMER_EXPORT_EXCLUDE_COLUMNS: columnExclusions },
  /** Deep verification's sample: percent of backups per run, and a download budget in bytes. */
  deepVerify: {
    STORAGE_DEEP_VERIFY_PERCENT: z.coerce.number().min(0).max(100).default(5),
    STORAGE_DEEP_VERIFY_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .default(10 * 1024 ** 3),
  },
  /** Working files (restore staging, verification downloads). */
  /** The metrics and health port's address: localhost unless an operator opens it (a scraper on another host). */
  httpHost: {
    HESAAB_HTTP_HOST: z.string().min(1).default("127.0.0.1"),
    HESAAB_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
  },
  /** Each service's metrics and health port (`/metrics`, `/healthz`, `/readyz`); 0 picks a free one (tests). */
  backupSvcHttp: { BACKUP_SVC_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(9411) },
  storageSvcHttp: { STORAGE_SVC_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(9412) },
  drSvcHttp: { DR_SVC_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(9413) },
  dataDir: { HESAAB_DATA_DIR: z.string().default(path.join(os.tmpdir(), "hesaab")) },
  /**
   * The local spool: sealed artifacts no provider took wait here until storage-svc uploads them.
   * backup-svc writes it and storage-svc drains it, so both must see the same folder (one host, or a
   * shared volume). Default `<HESAAB_DATA_DIR>/spool` (see `spoolDir`). `HESAAB_SPOOL_MAX_BYTES=0` turns it
   * off: a backup no provider took then fails (retryable), as it did before the spool.
   */
  spool: {
    HESAAB_SPOOL_DIR: z.string().optional(),
    HESAAB_SPOOL_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .default(10 * 1024 ** 3),
  },
  /** Tests only: prefixes NATS streams and subjects so parallel tests never share them. */
  busPrefix: { HESAAB_BUS_PREFIX: z.string().optional() },
  /** What a disaster backup takes besides the database: configuration files, the deployed commit; and where it lives. */
  drBackup: {
    /** Comma-separated configuration files bundled (encrypted) into every disaster backup: compose files, env files. */
    DR_CONFIG_FILES: z
      .string()
      .default("")
      .transform((v) =>
        v
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    /** The deployed commit; else `git rev-parse HEAD` in the working directory, else unknown. */
    DEPLOYED_GIT_COMMIT: z.string().optional(),
    /** Key prefix of disaster backups inside the buckets (tests; empty in production). */
    DR_STORAGE_ROOT: z.string().optional(),
  },
  /** Restore drills (packages/drills): where they restore, how many a night, what restored. */
  drills: {
    /** Restore into this database instead of a fresh scratch database per drill (created and dropped on the platform's server). */
    DRILL_DATABASE_URL: z.string().min(1).optional(),
    /** Every tenant with a backup is drilled within this many days. Default: BACKUP_RETENTION_DAYS. */
    DRILL_WINDOW_DAYS: z.coerce.number().int().min(2).max(3650).optional(),
    /** Tenants drilled a night at least (the planner may take more), and at most (unset: no cap). */
    DRILL_MIN_SAMPLE: z.coerce.number().int().min(1).default(1),
    DRILL_MAX_SAMPLE: z.coerce.number().int().min(1).optional(),
    /** The software's version, kept on each drill record (the git commit: DEPLOYED_GIT_COMMIT). */
    HESAAB_VERSION: z.string().default("0.0.0-dev"),
  },
  /** What the gateway checks sessions against and the CLI signs them with (`@hesaab/session`). */
  sessions: {
    /** The longest a tenant session may run (exp - iat), in hours; admin sessions: 24, fixed. */
    TENANT_SESSION_MAX_HOURS: z.coerce.number().int().min(1).max(168, "TENANT_SESSION_MAX_HOURS is at most 168 (a week)").default(12),
    /** When set, sessions must carry this `iss` (HesaabPlus's login URL, say). */
    SESSION_ISSUER: z.string().min(1).optional(),
  },
  /**
   * Alert rules and delivery (storage-svc delivers; the gateway shows which channels are configured).
   * A webhook needs its URL and secret; email needs the SMTP URL and both addresses.
   */
  alerts: {
    /** JSON POST of every alert raised and resolved, signed `x-hesaab-signature: sha256=<hex HMAC-SHA256 of the body>`. */
    ALERT_WEBHOOK_URL: z.url().optional(),
    ALERT_WEBHOOK_SECRET: secretString.optional(),
    /** `smtp://user:password@host:port` (or `smtps://`): alert emails and the daily summary. */
    ALERT_SMTP_URL: secretString.optional(),
    /** Comma-separated recipients. */
    ALERT_EMAIL_TO: z.string().min(3).optional(),
    ALERT_EMAIL_FROM: z.string().min(3).optional(),
    /** Attempts per delivery before it is dead-lettered (kept in alert_deliveries, status dead). */
    ALERT_DELIVERY_ATTEMPTS: z.coerce.number().int().min(1).max(30).default(6),
    /** The first retry's delay; each next one doubles it. */
    ALERT_DELIVERY_BACKOFF_MS: z.coerce.number().int().min(1).default(5_000),
    /** Daily summary email (cron, in STORAGE_SCHEDULE_TZ). */
    ALERT_SUMMARY_CRON: z.string().default("0 7 * * *"),
    /** How often the rules are checked and due deliveries sent. */
    ALERT_CHECK_INTERVAL_MS: z.coerce.number().int().min(50).default(30_000),
    /** A tenant whose last good backup is older than this (hours) raises `tenant_backup_stale`. */
    ALERT_TENANT_STALE_HOURS: z.coerce.number().positive().default(26),
    /** A provider unreachable for longer than this (minutes) raises `provider_unavailable`. */
    ALERT_PROVIDER_DOWN_MINUTES: z.coerce.number().nonnegative().default(15),
    /** No good disaster backup for longer than this (hours) raises `disaster_backup_missing`. */
    ALERT_DR_STALE_HOURS: z.coerce.number().positive().default(26),
    /** Estimated monthly storage cost (USD) over which `storage_cost_over_budget` is raised; unset: no budget. */
    ALERT_STORAGE_BUDGET_MONTHLY: z.coerce.number().positive().optional(),
  },
} as const;

/** Parse `source` (default `process.env`) with `schema`; on failure, one readable error listing every bad variable (values never shown). */
export function parseEnv<T extends z.ZodType>(schema: T, source: NodeJS.ProcessEnv = process.env): z.output<T> {
  const result = schema.safeParse(source);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
  throw new ConfigError({
    code: "config_invalid",
    message: `invalid configuration:\n${lines.join("\n")}`,
    hint: "Set the variables above (see .env.example), or run `pnpm hesaab stack up` and source .stack/env for local defaults",
  });
}

/** The catalog database URL: `BACKUP_DATABASE_URL`, defaulting to the platform database. */
/** The spool's folder: `HESAAB_SPOOL_DIR`, else `spool` under the data directory. */
export function spoolDir(env: { HESAAB_SPOOL_DIR?: string | undefined; HESAAB_DATA_DIR: string }): string {
  return env.HESAAB_SPOOL_DIR || path.join(env.HESAAB_DATA_DIR, "spool"); // empty (as in .env.example) means the default
}

export function catalogUrl(env: { BACKUP_DATABASE_URL?: string | undefined; PLATFORM_DATABASE_URL: string }): string {
  return env.BACKUP_DATABASE_URL ?? env.PLATFORM_DATABASE_URL;
}
