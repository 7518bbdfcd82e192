import pg from "pg";
import { DrError } from "./errors";

/** What a disaster backup promises: checked against the restored database. */
export interface DrManifest {
  format: "hesaab-dr-manifest";
  version: 1;
  backupId: string;
  createdAt: string;
  gitCommit: string | null;
  serverVersion: string;
  databaseName: string;
  databaseSizeBytes: number;
  /** Exact row counts per table (`schema.table`), counted in the snapshot pg_dump read. */
  tables: Record<string, number>;
  configFiles: string[];
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** Ordinary and partitioned tables of user schemas (partitions counted through their parents only). */
export async function listTables(client: pg.Client | pg.PoolClient): Promise<string[]> {
  const { rows } = await client.query<{ schema: string; name: string }>(`
    select n.nspname as schema, c.relname as name
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p') and not c.relispartition
       and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%' and n.nspname not like 'pg_temp%'
     order by 1, 2`);
  return rows.map((r) => `${r.schema}.${r.name}`);
}

export async function countRows(client: pg.Client | pg.PoolClient): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of await listTables(client)) {
    const [schema, name] = table.split(/\.(.*)/s) as [string, string];
    const { rows } = await client.query<{ n: string }>(`select count(*) as n from ${quoteIdent(schema)}.${quoteIdent(name)}`);
    counts[table] = Number(rows[0]!.n);
  }
  return counts;
}

export async function serverFacts(client: pg.Client | pg.PoolClient): Promise<{ serverVersion: string; databaseName: string; databaseSizeBytes: number }> {
  const { rows } = await client.query<{ v: string; d: string; s: string }>(
    "select current_setting('server_version') as v, current_database() as d, pg_database_size(current_database()) as s",
  );
  return { serverVersion: rows[0]!.v, databaseName: rows[0]!.d, databaseSizeBytes: Number(rows[0]!.s) };
}

export interface ManifestComparison {
  ok: boolean;
  tables: { table: string; expected: number; actual: number | null; ok: boolean }[];
}

/** Compares a restored database's row counts with the manifest: every table present, every count equal. */
export async function compareWithManifest(client: pg.Client, manifest: DrManifest): Promise<ManifestComparison> {
  return compareCounts({ manifest, actual: await countRows(client) });
}

/** Every table of the manifest present in `actual` with the same count. */
export function compareCounts({ manifest, actual }: { manifest: DrManifest; actual: Record<string, number> }): ManifestComparison {
  const tables = Object.entries(manifest.tables).map(([table, expected]) => {
    const got = actual[table] ?? null;
    return { table, expected, actual: got, ok: got === expected };
  });
  return { ok: tables.every((t) => t.ok), tables };
}

/**
 * Exact row counts of those of `tables` (`schema.table`) that exist in the database of `url`,
 * counted on `connections` connections at once, largest tables first (a restored database is
 * otherwise idle: the check should not take longer than it must).
 */
export async function countRowsOf({ url, tables, connections = 2 }: { url: string; tables: string[]; connections?: number }): Promise<Record<string, number>> {
  const clients = await Promise.all(Array.from({ length: Math.max(1, connections) }, () => openClient(url)));
  try {
    const present = new Set(await listTables(clients[0]!));
    const { rows } = await clients[0]!.query<{ name: string; bytes: string }>(
      `select n.nspname || '.' || c.relname as name, pg_total_relation_size(c.oid) as bytes
         from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'p')`,
    );
    const size = new Map(rows.map((r) => [r.name, Number(r.bytes)]));
    const queue = tables.filter((t) => present.has(t)).sort((a, b) => (size.get(b) ?? 0) - (size.get(a) ?? 0));
    const counts: Record<string, number> = {};
    await Promise.all(
      clients.map(async (client) => {
        for (let table = queue.shift(); table !== undefined; table = queue.shift()) {
          const [schema, name] = table.split(/\.(.*)/s) as [string, string];
          const { rows: r } = await client.query<{ n: string }>(`select count(*) as n from ${quoteIdent(schema)}.${quoteIdent(name)}`);
          counts[table] = Number(r[0]!.n);
        }
      }),
    );
    return counts;
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
}

async function openClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: "hesaab-dr-check" });
  client.on("error", () => {});
  await client.connect();
  return client;
}

export function parseManifest(text: string): DrManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DrError({ code: "dr_manifest_mismatch", message: "the disaster backup's manifest is not valid JSON" });
  }
  const m = value as Partial<DrManifest>;
  if (m.format !== "hesaab-dr-manifest" || m.version !== 1 || typeof m.tables !== "object" || !m.backupId) {
    throw new DrError({ code: "dr_manifest_mismatch", message: "the disaster backup's manifest has an unknown format" });
  }
  return m as DrManifest;
}
