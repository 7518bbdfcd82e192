// The CLI's configuration: the only place that reads process.env. Each command area reads the
// pieces it needs through one function here; values are validated with zod on first use, so a
// command that does not need a variable never fails for its absence.
import os from "node:os";
import { z } from "zod";
import { readStackEnv } from "@hesaab/stack";
import { ConfigError, envPieces, parseEnv } from "@hesaab/config";

const platformEnvSchema = z.object({
  PLATFORM_DATABASE_URL: envPieces.platformDb.PLATFORM_DATABASE_URL.optional(),
});

/** `PLATFORM_DATABASE_URL`: the sample platform's database (the `--database-url` option wins over it). */
export function platformEnv(): z.output<typeof platformEnvSchema> {
  return parseEnv(platformEnvSchema, process.env);
}

const customerExportEnvSchema = z.object({ ...envPieces.customerExport });

/** `CUSTOMER_EXPORT_EXCLUDE_COLUMNS`: what customer exports leave out (`hesaab plan --customer` shows it). */
export function customerExportEnv() {
  return parseEnv(customerExportEnvSchema, process.env);
}

const tenantKeysEnvSchema = z.object({
  ...envPieces.backupKeys,
  ...envPieces.catalogDb,
  PLATFORM_DATABASE_URL: envPieces.platformDb.PLATFORM_DATABASE_URL.optional(),
});

/**
 * What opening tenant backups and customer exports needs: `BACKUP_MASTER_KEYS` and the catalog
 * database holding the tenant key seeds (`BACKUP_DATABASE_URL`, defaulting to `PLATFORM_DATABASE_URL`).
 */
export function tenantKeysEnv() {
  const env = parseEnv(tenantKeysEnvSchema, process.env);
  return { masterKeys: env.BACKUP_MASTER_KEYS, catalogUrl: env.BACKUP_DATABASE_URL ?? env.PLATFORM_DATABASE_URL };
}

const drKeysEnvSchema = z.object({ ...envPieces.drKeys });

/** What opening platform (disaster-recovery) artifacts needs: `DR_MASTER_KEYS` only, no database. */
export function drKeysEnv() {
  return { drMasterKeys: parseEnv(drKeysEnvSchema, process.env).DR_MASTER_KEYS };
}

const drEnvSchema = z.object({
  // Either provider may be missing (a disaster restore from R2 alone).
  ...z.object(envPieces.b2).partial().shape,
  ...z.object(envPieces.r2).partial().shape,
  PLATFORM_DATABASE_URL: envPieces.platformDb.PLATFORM_DATABASE_URL.optional(),
  ...envPieces.catalogDb,
  DISASTER_BACKUP_RETENTION_DAYS: envPieces.retention.DISASTER_BACKUP_RETENTION_DAYS,
  ...envPieces.drBackup,
});

/**
 * Disaster recovery (`hesaab dr …`): the providers (B2_*, R2_*), and for backups the platform
 * database, config files and git commit. Keys come from `drKeysEnv`. Nothing here is required:
 * a restore on a bare machine needs only one provider's credentials and DR_MASTER_KEYS.
 */
export function drEnv() {
  return parseEnv(drEnvSchema, process.env);
}

const tenantBackupEnvSchema = z.object({
  ...envPieces.platformDb,
  ...envPieces.catalogDb,
  ...envPieces.backupKeys,
  ...envPieces.retention,
  // Either provider may be missing from the CLI's environment (e.g. restoring from R2 alone).
  ...z.object(envPieces.b2).partial().shape,
  ...z.object(envPieces.r2).partial().shape,
  ...envPieces.tenantBackup,
  ...envPieces.customerExport,
  ...envPieces.dataDir,
});

/** Tenant backups and restores run in-process: the platform and catalog databases, keys, providers. */
export function tenantBackupEnv() {
  return parseEnv(tenantBackupEnvSchema, process.env);
}

const drillEnvSchema = tenantBackupEnvSchema.extend({
  ...envPieces.drKeys,
  ...envPieces.drills,
  DEPLOYED_GIT_COMMIT: envPieces.drBackup.DEPLOYED_GIT_COMMIT,
  DR_STORAGE_ROOT: envPieces.drBackup.DR_STORAGE_ROOT,
});

/** Restore drills (`hesaab drill …`): what tenant restores need, plus DR_MASTER_KEYS (records are signed under it) and DRILL_*. */
export function drillEnv() {
  return parseEnv(drillEnvSchema, process.env);
}

// A checkout where `hesaab stack up` ran has local defaults in .stack/env; variables set in the
// environment always win. HESAAB_NO_STACK_ENV=1 turns this off (the disaster case: only what you give).
if (process.env.HESAAB_NO_STACK_ENV !== "1") {
  for (const [key, value] of Object.entries(readStackEnv())) process.env[key] ??= value;
}

/** Who runs this command, for the audit trail: `cli:<os user>`. */
export function cliActor(): string {
  return `cli:${process.env.SUDO_USER ?? process.env.USER ?? os.userInfo().username}`;
}

/** The environment for services the CLI starts (the demo): ours, with the stack's values for what is unset. */
export function childEnv(stackEnv: Record<string, string>): NodeJS.ProcessEnv {
  return { ...stackEnv, ...process.env };
}

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
      ctx.addIssue({ code: "custom", message: 'must be {"providers": {"b2": {"storagePerGbMonth": 0.006, …}}}' });
    } catch {
      ctx.addIssue({ code: "custom", message: "must be JSON" });
    }
    return z.NEVER;
  });

const storageOpsEnvSchema = z.object({
  // Either provider may be missing (a catalog rebuild from one bucket, stats of one provider).
  ...z.object(envPieces.b2).partial().shape,
  ...z.object(envPieces.r2).partial().shape,
  PLATFORM_DATABASE_URL: envPieces.platformDb.PLATFORM_DATABASE_URL.optional(),
  ...envPieces.catalogDb,
  // Keys are needed only for deep verification; a type without its keys is skipped.
  BACKUP_MASTER_KEYS: envPieces.backupKeys.BACKUP_MASTER_KEYS.optional(),
  DR_MASTER_KEYS: envPieces.drKeys.DR_MASTER_KEYS.optional(),
  ...envPieces.retention,
  ...envPieces.retentionKeeps,
  ...envPieces.deepVerify,
  TENANT_COLUMN: envPieces.tenantBackup.TENANT_COLUMN,
  STORAGE_PRICES: priceOverrides,
  /** Keys live under this folder of the buckets (a shared bucket, tests). */
  STORAGE_KEY_PREFIX: z.string().optional(),
  ...envPieces.dataDir,
});

/** Storage operations (`hesaab storage …`, `verify`, `retention`, `catalog rebuild`): providers, catalog, optional keys, retention. */
export function storageOpsEnv() {
  return parseEnv(storageOpsEnvSchema, process.env);
}

/** A session secret (≥ 32 characters), the lifetimes and issuer the gateway checks, and its port, for the sign-in links. */
const sessionEnvSchema = <K extends string>(secret: K) =>
  z
    .object({
      GATEWAY_PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
      ...envPieces.sessions,
    })
    .extend({ [secret]: z.string().min(32, `${secret} needs at least 32 characters`) } as Record<K, z.ZodString>);

/** Minting a tenant session (development and support): the secret the gateway checks tenant sessions with. */
export function tenantSessionEnv(source: NodeJS.ProcessEnv = process.env) {
  return parseEnv(sessionEnvSchema("TENANT_SESSION_SECRET"), source);
}

/** Minting an admin session (operators, the demo): the secret the gateway checks admin sessions with. */
export function adminSessionEnv(source: NodeJS.ProcessEnv = process.env) {
  return parseEnv(sessionEnvSchema("ADMIN_SESSION_SECRET"), source);
}

const revokeEnvSchema = z.object({
  ...envPieces.catalogDb,
  PLATFORM_DATABASE_URL: envPieces.platformDb.PLATFORM_DATABASE_URL.optional(),
  TENANT_SESSION_MAX_HOURS: envPieces.sessions.TENANT_SESSION_MAX_HOURS,
});

/** Revoking sessions (`hesaab sessions revoke`): the catalog, and how long a tenant session may live (how long its revocation is kept). */
export function sessionRevokeEnv() {
  const env = parseEnv(revokeEnvSchema, process.env);
  const url = env.BACKUP_DATABASE_URL ?? env.PLATFORM_DATABASE_URL;
  if (!url)
    throw new ConfigError({
      code: "config_invalid",
      message: "revoking a session needs the catalog: set BACKUP_DATABASE_URL (or PLATFORM_DATABASE_URL)",
      hint: "Or run `pnpm hesaab stack up` and source .stack/env",
    });
  return { catalogUrl: url, tenantMaxHours: env.TENANT_SESSION_MAX_HOURS };
}

const statusEnvSchema = z.object({
  ...envPieces.catalogDb,
  PLATFORM_DATABASE_URL: envPieces.platformDb.PLATFORM_DATABASE_URL.optional(),
  ...envPieces.httpHost,
  ...envPieces.backupSvcHttp,
  ...envPieces.storageSvcHttp,
  ...envPieces.drSvcHttp,
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  /** Where each service's health port is, when not on this host at its default port. */
  BACKUP_SVC_URL: z.url().optional(),
  STORAGE_SVC_URL: z.url().optional(),
  DR_SVC_URL: z.url().optional(),
  GATEWAY_URL: z.url().optional(),
});

/** `hesaab status`: where each service's `/readyz` is (its URL, else this host's address and the service's port) and the catalog. */
export function statusEnv() {
  const env = parseEnv(statusEnvSchema, process.env);
  const host = env.HESAAB_HTTP_HOST === "0.0.0.0" ? "127.0.0.1" : env.HESAAB_HTTP_HOST;
  const at = (port: number) => `http://${host}:${port}`;
  return {
    services: [
      { name: "backup-svc", url: env.BACKUP_SVC_URL ?? at(env.BACKUP_SVC_HTTP_PORT) },
      { name: "storage-svc", url: env.STORAGE_SVC_URL ?? at(env.STORAGE_SVC_HTTP_PORT) },
      { name: "dr-svc", url: env.DR_SVC_URL ?? at(env.DR_SVC_HTTP_PORT) },
      { name: "gateway", url: env.GATEWAY_URL ?? at(env.GATEWAY_PORT) },
    ],
    catalogUrl: env.BACKUP_DATABASE_URL ?? env.PLATFORM_DATABASE_URL,
    connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
  };
}
