import path from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { migrate as drizzleMigrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { HesaabError, redactUrl } from "@hesaab/config";
import { openPool } from "./pool";
import * as schema from "./schema";

export type CatalogDb = NodePgDatabase<typeof schema>;

export interface Catalog {
  db: CatalogDb;
  pool: pg.Pool;
  close(): Promise<void>;
}

/** Opens the catalog database (the backup system's own tables); its pool is an {@link openPool} one. */
export function openCatalog({ url, max = 10, connectTimeoutMs }: { url: string; max?: number; connectTimeoutMs?: number | undefined }): Catalog {
  const pool = openPool({ url, max, name: "hesaab-catalog", connectTimeoutMs });
  return { db: drizzle(pool, { schema }), pool, close: () => pool.end() };
}

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "migrations");

// Any fixed 64-bit number: serializes concurrent migrators (two replicas starting at once).
const MIGRATION_LOCK = 7_243_001_442;

/**
 * Applies pending migrations to the catalog database. Safe to run twice and from several processes
 * at once: applied migrations are recorded in `backup.__migrations`, and an advisory lock serializes runs.
 */
export async function migrate({ url }: { url: string }): Promise<{ applied: number }> {
  const client = new pg.Client({ connectionString: url, application_name: "hesaab-migrate" });
  try {
    await client.connect();
  } catch (err) {
    throw new HesaabError({
      code: "catalog_unreachable",
      message: `cannot connect to the catalog database at ${redactUrl(url)}: ${(err as Error).message}`,
      hint: "Check BACKUP_DATABASE_URL (or PLATFORM_DATABASE_URL) and that PostgreSQL is running",
      retryable: true,
      cause: err,
    });
  }
  try {
    await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK]);
    const count = async () => {
      const r = await client.query<{ n: string }>(
        `select count(*) as n from information_schema.tables where table_schema = 'backup' and table_name = '__migrations'`,
      );
      if (r.rows[0]?.n === "0") return 0;
      const m = await client.query<{ n: string }>(`select count(*) as n from backup.__migrations`);
      return Number(m.rows[0]?.n ?? 0);
    };
    const before = await count();
    await drizzleMigrate(drizzle(client), {
      migrationsFolder: MIGRATIONS_DIR,
      migrationsSchema: "backup",
      migrationsTable: "__migrations",
    });
    return { applied: (await count()) - before };
  } finally {
    await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
    await client.end();
  }
}
