import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { PlatformError } from "./errors";
import { type PgTarget, qualify, quoteIdent, withClient } from "./pg";
import { type PlanOptions, type TenantShape, type TenantStatus, planPlatform } from "./tenant-shapes";
import { TABLE_WRITERS, TenantData, type TableWriter } from "./rows";
import { createPlatformSchema, dropPlatformSchema } from "./schema";
import { CURRENCIES } from "./vocabulary";

export interface GenerateProgress {
  tenantsDone: number;
  tenantsTotal: number;
  /** COPY text bytes sent so far. */
  bytes: number;
  rows: number;
  /** The table being loaded when this was reported. */
  table: string;
}

export type GenerateOptions = PgTarget &
  PlanOptions & {
    /** PostgreSQL schema holding the sample tables. Default `public`. */
    schema?: string;
    /** Drop the sample tables first (only them) and recreate them. Default false: the tables must be empty. */
    reset?: boolean;
    /** Connections loading tenant groups in parallel (ignored with `client`: then 1). Default 2. */
    concurrency?: number;
    /**
     * Load with `session_replication_role = replica`, which skips foreign-key triggers (superuser only).
     * The data is valid by construction; this only makes huge loads faster. Default false.
     */
    skipForeignKeyChecks?: boolean;
    /** ANALYZE the tables afterwards. Default true. */
    analyze?: boolean;
    onProgress?: (progress: GenerateProgress) => void;
  };

export interface GeneratedTenant {
  index: number;
  id: string;
  name: string;
  slug: string;
  status: TenantStatus;
  /** Rows written per table (`tenants` is 1). */
  rows: Record<string, number>;
  /** COPY text bytes of this tenant. */
  bytes: number;
}

export interface GenerateResult {
  seed: number;
  scale: number;
  largeScale: number;
  tenants: GeneratedTenant[];
  /** Rows per table over all tenants (currencies included). */
  rows: Record<string, number>;
  /** COPY text bytes over all tenants. */
  bytes: number;
  durationMs: number;
}

/** Groups of small tenants share one transaction and one COPY per table; a big tenant is a group of its own. */
const GROUP_BYTES = 8 * 1024 * 1024;
const GROUP_TENANTS = 200;
/** Rough COPY text per invoice including its lines, taxes, payments, journal and audit rows (measured ≈ 3 KB). */
const BYTES_PER_INVOICE = 3200;
const CHUNK_BYTES = 256 * 1024;
const PROGRESS_BYTES = 8 * 1024 * 1024;

function groupTenants(plans: TenantShape[]): TenantShape[][] {
  const groups: TenantShape[][] = [];
  let current: TenantShape[] = [];
  let size = 0;
  for (const plan of plans) {
    const estimate = plan.counts.invoices * BYTES_PER_INVOICE + 20_000;
    if (current.length > 0 && (size + estimate > GROUP_BYTES || current.length >= GROUP_TENANTS)) {
      groups.push(current);
      current = [];
      size = 0;
    }
    current.push(plan);
    size += estimate;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

interface LoadState {
  bytes: number;
  rows: number;
  reportedAt: number;
  tenantsDone: number;
  tenantsTotal: number;
  onProgress: GenerateOptions["onProgress"];
}

/**
 * One table's rows for a group of tenants, batched into Buffers of about CHUNK_BYTES. A chunk never
 * spans two tenants, so each tenant's byte count is the sum of its chunks.
 */
function* tableChunks(o: { writer: TableWriter; tenants: { data: TenantData; summary: GeneratedTenant }[]; state: LoadState }): Generator<Buffer> {
  const { writer, state } = o;
  for (const { data, summary } of o.tenants) {
    let parts: string[] = [];
    let length = 0;
    let rows = 0;
    const flush = () => {
      const chunk = Buffer.from(parts.join(""), "utf8");
      parts = [];
      length = 0;
      summary.bytes += chunk.length;
      state.bytes += chunk.length;
      if (state.onProgress && state.bytes - state.reportedAt >= PROGRESS_BYTES) {
        state.reportedAt = state.bytes;
        state.onProgress({
          tenantsDone: state.tenantsDone,
          tenantsTotal: state.tenantsTotal,
          bytes: state.bytes,
          rows: state.rows + rows,
          table: writer.table,
        });
      }
      return chunk;
    };
    for (const row of writer.rows(data)) {
      parts.push(row);
      length += row.length;
      rows++;
      if (length >= CHUNK_BYTES) yield flush();
    }
    if (length > 0) yield flush();
    summary.rows[writer.table] = rows;
    state.rows += rows;
  }
}

async function loadGroup(o: {
  client: pg.ClientBase;
  schema: string;
  group: TenantShape[];
  state: LoadState;
  skipForeignKeyChecks: boolean;
}): Promise<GeneratedTenant[]> {
  const { client, schema, state } = o;
  const tenants = o.group.map((plan) => ({
    data: new TenantData(plan),
    summary: { index: plan.index, id: plan.id, name: plan.name, slug: plan.slug, status: plan.status, rows: {}, bytes: 0 },
  }));
  await client.query("BEGIN");
  try {
    // the one cycle (customers.default_invoice_id → invoices) is DEFERRABLE: checked at commit
    await client.query("SET CONSTRAINTS ALL DEFERRED");
    if (o.skipForeignKeyChecks) await client.query("SET LOCAL session_replication_role = replica");
    for (const writer of TABLE_WRITERS) {
      const sql = `COPY ${qualify(schema, writer.table)} (${writer.columns.map(quoteIdent).join(", ")}) FROM STDIN`;
      await pipeline(Readable.from(tableChunks({ writer, tenants, state })), client.query(copyFrom(sql)));
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
  state.tenantsDone += tenants.length;
  state.onProgress?.({ tenantsDone: state.tenantsDone, tenantsTotal: state.tenantsTotal, bytes: state.bytes, rows: state.rows, table: "" });
  return tenants.map((t) => t.summary);
}

/** Tables whose `id` is an identity column: their sequences are moved past the explicit ids we wrote. */
const IDENTITY_TABLES = ["accounts", "customers", "invoices", "invoice_lines", "journal_entries", "journal_lines"];

async function finish(o: { client: pg.ClientBase; schema: string; analyze: boolean }): Promise<void> {
  const { client, schema } = o;
  for (const table of IDENTITY_TABLES) {
    const name = qualify(schema, table);
    await client.query(`SELECT setval(pg_get_serial_sequence($1, 'id'), coalesce((SELECT max(id) FROM ${name}), 1), (SELECT count(*) > 0 FROM ${name}))`, [
      name,
    ]);
  }
  if (o.analyze) {
    for (const writer of TABLE_WRITERS) await client.query(`ANALYZE ${qualify(schema, writer.table)}`);
    await client.query(`ANALYZE ${qualify(schema, "currencies")}`);
  }
}

async function prepare(o: { client: pg.ClientBase; schema: string; reset: boolean }): Promise<void> {
  const target = { client: o.client, schema: o.schema };
  if (o.reset) await dropPlatformSchema(target);
  await createPlatformSchema(target);
  const { rows } = await o.client.query<{ present: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${qualify(o.schema, "tenants")}) AS present`);
  if (rows[0]?.present) {
    throw new PlatformError({
      code: "platform_not_empty",
      message: "the platform tables already hold tenants",
      hint: "Generate into an empty database, or pass reset (--reset) to drop and recreate the sample tables",
      context: { schema: o.schema },
    });
  }
  const values = CURRENCIES.map((_, i) => `($${i * 5 + 1}, $${i * 5 + 2}, $${i * 5 + 3}, $${i * 5 + 4}, $${i * 5 + 5})`).join(", ");
  await o.client.query(
    `INSERT INTO ${qualify(o.schema, "currencies")} (code, name, name_fa, symbol, minor_units) VALUES ${values} ON CONFLICT (code) DO NOTHING`,
    CURRENCIES.flatMap((c) => [c.code, c.name, c.nameFa, c.symbol, c.minorUnits]),
  );
}

/**
 * Create (or with `reset`, recreate) the sample schema and fill it with a deterministic platform:
 * the same (tenants, scale, seed, largeScale) always gives the same rows, ids and timestamps.
 * Tenants are written in groups, each group in one transaction with one COPY per table; groups run
 * on `concurrency` connections at once.
 */
export async function generatePlatform(opts: GenerateOptions): Promise<GenerateResult> {
  const started = performance.now();
  const schema = opts.schema ?? "public";
  const plans = planPlatform(opts);
  const groups = groupTenants(plans);
  const state: LoadState = { bytes: 0, rows: 0, reportedAt: 0, tenantsDone: 0, tenantsTotal: plans.length, onProgress: opts.onProgress };
  const skipForeignKeyChecks = opts.skipForeignKeyChecks ?? false;
  const ownPool = "url" in opts ? new pg.Pool({ connectionString: opts.url, max: Math.max(1, opts.concurrency ?? 2) }) : undefined;
  ownPool?.on("error", () => {}); // an idle connection the server drops is replaced, not a crash
  const target: PgTarget = ownPool ? { pool: ownPool } : "pool" in opts ? { pool: opts.pool } : { client: (opts as { client: pg.ClientBase }).client };
  const concurrency = "client" in target ? 1 : Math.max(1, opts.concurrency ?? 2);
  try {
    await withClient(target, (client) => prepare({ client, schema, reset: opts.reset ?? false }));
    const results: GeneratedTenant[][] = new Array(groups.length);
    let nextGroup = 0;
    let failed = false;
    const worker = async () => {
      while (!failed && nextGroup < groups.length) {
        const g = nextGroup++;
        try {
          results[g] = await withClient(target, (client) => loadGroup({ client, schema, group: groups[g]!, state, skipForeignKeyChecks }));
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    // every load settles before the first failure is thrown: the pool is ended under no running load
    const outcomes = await Promise.allSettled(Array.from({ length: Math.min(concurrency, groups.length) }, worker));
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
    if (failure) throw failure.reason;
    await withClient(target, (client) => finish({ client, schema, analyze: opts.analyze ?? true }));
    const tenants = results.flat();
    const rows: Record<string, number> = { currencies: CURRENCIES.length };
    for (const t of tenants) for (const [table, n] of Object.entries(t.rows)) rows[table] = (rows[table] ?? 0) + n;
    return {
      seed: (opts.seed ?? 1) >>> 0,
      scale: opts.scale ?? 1,
      largeScale: opts.largeScale ?? 1,
      tenants,
      rows,
      bytes: state.bytes,
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    await ownPool?.end();
  }
}
