// The CLI's configuration: the only place that reads process.env. Each command area reads the
// pieces it needs through one function here; values are validated with zod on first use, so a
// command that does not need a variable never fails for its absence.
import { z } from "zod";
import { envPieces, parseEnv } from "@hesaab/config";

const platformEnvSchema = z.object({
  PLATFORM_DATABASE_URL: envPieces.platformDb.PLATFORM_DATABASE_URL.optional(),
});

/** `PLATFORM_DATABASE_URL`: the sample platform's database (the `--database-url` option wins over it). */
export function platformEnv(): z.output<typeof platformEnvSchema> {
  return parseEnv(platformEnvSchema, process.env);
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
