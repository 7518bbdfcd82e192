import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { migrate as drizzleMigrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { redactUrl } from "@hesaab/config";
import { DbError } from "./errors";
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

/** The one-file CLI carries the migrations in itself (tooling/bundle defines this: relative path → content). */
declare const __HESAAB_EMBEDDED_MIGRATIONS__: Record<string, string> | undefined;

/** The migrations: beside src/ in the workspace, beside the bundle in an app's dist/, or unpacked once from the one-file CLI. */
function migrationsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const found = [path.join(here, "..", "migrations"), path.join(here, "migrations")].find((dir) => existsSync(path.join(dir, "meta", "_journal.json")));
  if (found || typeof __HESAAB_EMBEDDED_MIGRATIONS__ === "undefined") return found ?? path.join(here, "..", "migrations");
  const files = __HESAAB_EMBEDDED_MIGRATIONS__;
  // named by content: every run of the same CLI reuses one folder; a half-written one is never used (rename)
  const dir = path.join(os.tmpdir(), `hesaab-migrations-${createHash("sha256").update(JSON.stringify(files)).digest("hex").slice(0, 16)}`);
  if (!existsSync(dir)) {
    const partial = `${dir}.${process.pid}.tmp`;
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(partial, name)), { recursive: true });
      writeFileSync(path.join(partial, name), content);
    }
    try {
      renameSync(partial, dir);
    } catch {
      rmSync(partial, { recursive: true, force: true }); // another run unpacked it first
    }
  }
  return dir;
}

export const MIGRATIONS_DIR = migrationsDir();

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
    throw new DbError({
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

/** Where the catalog stands: migrations applied (by the migrations table) and those of this code it lacks. */
export interface CatalogState {
  applied: number;
  /** Tags of this package's migrations the catalog has not had (`0003_…`): all of them when it was never migrated. */
  pending: string[];
}

/**
 * Reads the catalog's migrations table and compares it with this package's journal, the way the
 * migrator decides (a migration is pending when its journal time is after the last applied one's).
 * Cheap (one query and a small file read); never writes, never creates the schema.
 */
export async function catalogState(pool: pg.Pool | pg.ClientBase): Promise<CatalogState> {
  const { rows } = await pool
    .query<{ applied: string; last: string | null }>(`select count(*) as applied, max(created_at)::text as last from backup.__migrations`)
    .catch(async (err: unknown) => {
      // no schema or no table: never migrated
      if ((err as { code?: string }).code === "42P01" || (err as { code?: string }).code === "3F000") return { rows: [{ applied: "0", last: null }] };
      throw err;
    });
  const last = rows[0]?.last == null ? -Infinity : Number(rows[0].last);
  const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_DIR, "meta", "_journal.json"), "utf8")) as { entries: { tag: string; when: number }[] };
  return { applied: Number(rows[0]?.applied ?? 0), pending: journal.entries.filter((e) => e.when > last).map((e) => e.tag) };
}

/**
 * Refuses to go on against a catalog that lacks migrations of this code (`catalog_not_migrated`):
 * commands that write the catalog call it first, so an operator pointed at the wrong or a fresh
 * database reads what to do instead of a failed SQL statement. Migrating stays a deliberate step
 * (`hesaab catalog migrate`): a production catalog is not changed as a side effect.
 */
export async function requireMigratedCatalog({ pool, url }: { pool: pg.Pool; url: string }): Promise<void> {
  let state: CatalogState;
  try {
    state = await catalogState(pool);
  } catch (err) {
    throw new DbError({
      code: "catalog_unreachable",
      message: `cannot read the catalog database at ${redactUrl(url)}: ${(err as Error).message}`,
      hint: "Check BACKUP_DATABASE_URL (or PLATFORM_DATABASE_URL) and that PostgreSQL is running",
      retryable: true,
      cause: err,
    });
  }
  if (state.pending.length === 0) return;
  throw new DbError({
    code: "catalog_not_migrated",
    message: `the catalog at ${redactUrl(url)} is not migrated: run \`hesaab catalog migrate\``,
    hint: state.applied === 0 ? "It has no backup schema yet; the command creates it" : `It lacks ${state.pending.join(", ")}`,
    context: { pending: state.pending },
  });
}
