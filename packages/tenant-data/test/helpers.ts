// Shared fixtures of the integration tests: a generated platform in its own database, empty copies
// of its schema, and helpers to run exports and psql for real.
import { execFile } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import type pg from "pg";
import { newId } from "@hesaab/contracts";
import { type FreshDatabase, freshDatabase, testPool } from "@hesaab/testkit";
import { type GenerateResult, createPlatformSchema, generatePlatform, tableChecksums } from "@hesaab/platform";
import { type ExportSummary, exportTenant } from "../src/index";

const run = promisify(execFile);

export interface Platform {
  db: FreshDatabase;
  pool: pg.Pool;
  generated: GenerateResult;
  /** The first active tenant (the largest), a second active one, a suspended and a deleted one. */
  tenant: string;
  other: string;
  suspended: string;
  deleted: string;
  close(): Promise<void>;
}

/** 6 tenants at a small scale, in a database of their own. */
export async function platform(prefix = "td", opts: { tenants?: number; scale?: number } = {}): Promise<Platform> {
  const db = await freshDatabase(prefix);
  const pool = testPool({ connectionString: db.url, max: 6 });
  const generated = await generatePlatform({ pool, tenants: opts.tenants ?? 6, scale: opts.scale ?? 0.2 });
  const byStatus = (s: string) => generated.tenants.filter((t) => t.status === s).map((t) => t.id);
  const [tenant, other] = byStatus("active");
  return {
    db,
    pool,
    generated,
    tenant: tenant!,
    other: other!,
    suspended: byStatus("suspended")[0]!,
    deleted: byStatus("deleted")[0]!,
    close: async () => {
      await pool.end();
      await db.drop();
    },
  };
}

/** A second database with the same schema and the global rows (currencies), but no tenant (tests and the restore bench). */
export async function emptyCopy(
  source: Pick<Platform, "pool">,
  { prefix = "td_copy", max = 4 }: { prefix?: string; max?: number } = {},
): Promise<{ db: FreshDatabase; pool: pg.Pool; close(): Promise<void> }> {
  const db = await freshDatabase(prefix);
  const pool = testPool({ connectionString: db.url, max });
  await createPlatformSchema({ pool });
  const { rows } = await source.pool.query("SELECT code, name, name_fa, symbol, minor_units FROM currencies ORDER BY code");
  for (const r of rows) {
    await pool.query("INSERT INTO currencies (code, name, name_fa, symbol, minor_units) VALUES ($1, $2, $3, $4, $5)", [
      r.code,
      r.name,
      r.name_fa,
      r.symbol,
      r.minor_units,
    ]);
  }
  return {
    db,
    pool,
    close: async () => {
      await pool.end();
      await db.drop();
    },
  };
}

export async function tempDir(): Promise<{ path: string; file(name: string): string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "tenant-data-"));
  return { path, file: (name) => join(path, name), remove: () => rm(path, { recursive: true, force: true }) };
}

export function backupId(): string {
  return newId("bkp");
}

/** Export a tenant to a Buffer (small tenants only). */
export async function exportToBuffer(o: { pool: pg.Pool; tenantId: string; backupId?: string }): Promise<{ script: Buffer; summary: ExportSummary }> {
  const exp = await exportTenant({ pool: o.pool, tenantId: o.tenantId, backupId: o.backupId ?? backupId() });
  const chunks: Buffer[] = [];
  for await (const chunk of exp.stream) chunks.push(chunk as Buffer);
  return { script: Buffer.concat(chunks), summary: await exp.done };
}

export async function exportToFile(o: { pool: pg.Pool; tenantId: string; file: string; backupId?: string }): Promise<ExportSummary> {
  const exp = await exportTenant({ pool: o.pool, tenantId: o.tenantId, backupId: o.backupId ?? backupId() });
  await pipeline(exp.stream, createWriteStream(o.file));
  return exp.done;
}

/** Run the real psql on a script file, stopping at the first error. */
export async function psqlFile(o: { url: string; file: string }): Promise<{ stdout: string; stderr: string }> {
  return run("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", o.url, "-f", o.file], { maxBuffer: 16 * 1024 * 1024 });
}

export function checksums(o: { pool: pg.Pool; tenantId: string }) {
  return tableChecksums({ pool: o.pool, tenantId: o.tenantId });
}

/** A script delivered in pieces of `size` bytes (to put chunk boundaries everywhere). */
export function chunked(buf: Buffer, size: number): Readable {
  const pieces: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) pieces.push(buf.subarray(i, i + size));
  return Readable.from(pieces, { objectMode: false });
}

/** Every row of every tenant table, per tenant: `{ tenantId: rows }` (via the platform's checksums). */
export async function allChecksums(p: { pool: pg.Pool; generated: GenerateResult }) {
  const out: Record<string, Awaited<ReturnType<typeof tableChecksums>>> = {};
  for (const t of p.generated.tenants) out[t.id] = await tableChecksums({ pool: p.pool, tenantId: t.id });
  return out;
}

/** Connections of the pool's database that are not idle (a leaked export would show here). */
export async function busyConnections(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'",
  );
  return rows[0]!.n;
}
