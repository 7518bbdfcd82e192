/**
 * Export of many small tenants at once: the same scripts `exportTenant` writes, one per tenant, at
 * a fraction of the round trips. A nightly run over thousands of tenants with a few hundred rows
 * each spends its time on per-tenant overhead (a transaction and a COPY per table per tenant), not
 * on rows; here a batch shares ONE `REPEATABLE READ READ ONLY` snapshot and ONE COPY per table:
 *
 *  [1] BEGIN, pin the output settings, LOCK the tables, check every tenant: one round trip;
 *      a missing or inactive tenant gets its error and is left out, the others go on;
 *  [2] per table `COPY (SELECT <tenant key>::text, <columns> … WHERE <key> = ANY(<batch>)) TO STDOUT`:
 *      each row is routed by its leading tenant key (COPY text rows are single lines) to its
 *      tenant's script, without that field;
 *  [3] COMMIT; each tenant's script = head + per table COPY line, rows, `\.` + tail with its counts.
 *
 * Scripts are held in memory, so a batch is for small tenants: one that passes `maxTenantBytes`
 * is taken out (`export_tenant_too_large`, for the caller to export alone, streamed) and the batch
 * starts over without it on a new snapshot; the bytes read for it are the only waste.
 */
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { isHesaabError } from "@hesaab/config";
import { asError, lease } from "./connection";
import { tenantDataError, type TenantDataError } from "./errors";
import { PIN_SETTINGS, UUID, inactiveError, validateIds, wrapFailure, type ExportSummary } from "./export";
import { batchSelectSql, copyFromStdinLine, type TenantPlan } from "./tenant-plan";
import { END_OF_COPY, SCRIPT_FORMAT, SCRIPT_VERSION, type ScriptManifest, scriptHead, scriptTail } from "./script";
import { RowChecksum } from "./checksum";

export interface BatchExportOptions {
  pool: pg.Pool;
  plan: TenantPlan;
  /** The tenants, each with the backup id its script is for. Ids must be distinct. */
  tenants: { tenantId: string; backupId: string }[];
  /** Export suspended or deleted tenants too. Default false. */
  allowInactive?: boolean | undefined;
  /** A tenant whose rows pass this many bytes leaves the batch (`export_tenant_too_large`). Default 4 MiB. */
  maxTenantBytes?: number | undefined;
  signal?: AbortSignal | undefined;
}

export type BatchExportResult =
  | { tenantId: string; backupId: string; ok: true; script: Buffer; summary: ExportSummary }
  /** `tenant_not_found`, `tenant_not_active`, `invalid_tenant_id`, `tenant_duplicate` (another id of a tenant in the batch), or `export_tenant_too_large` (export it alone). */
  | { tenantId: string; backupId: string; ok: false; error: TenantDataError };

/**
 * A batch reads a few tenants' rows of each table: index lookups, never whole tables. With the
 * default cost of a random page (4, spinning disks) the planner switches to a hash join over a
 * whole child table once a batch asks for a few hundred parent rows (measured on the bench
 * platform: invoice_line_taxes through invoice_lines, 25 ms per batch with a parallel worker,
 * 1.7 ms with these settings); parallel workers only add start-up cost to reads this small.
 */
const BATCH_PLANNER_SETTINGS = "SET LOCAL random_page_cost = 1.1; SET LOCAL max_parallel_workers_per_gather = 0";

const NEWLINE = 0x0a;
const TAB = 0x09;

/** One tenant's script while its rows come in. */
export interface Pending {
  tenantId: string;
  backupId: string;
  pieces: Buffer[];
  bytes: number;
  tables: { name: string; rows: number; bytes: number; sum: RowChecksum }[];
}

/** A tenant passed the size limit: the attempt stops, the batch starts again without it. */
export class TooLarge extends Error {
  constructor(readonly tenantId: string) {
    super(`tenant ${tenantId} is too large for a batch`);
  }
}

/**
 * Export every tenant of `tenants` (see the file comment). Resolves with one result per tenant, in
 * the order given. Rejects (`export_failed`, `export_aborted`) when the batch as a whole failed: a
 * lost connection, a cancelled query; no script of the batch is then usable.
 */
export async function exportTenantBatch(opts: BatchExportOptions): Promise<BatchExportResult[]> {
  const results = new Map<string, BatchExportResult>();
  let remaining = opts.tenants;
  for (const t of remaining) {
    try {
      validateIds(t);
    } catch (err) {
      results.set(t.tenantId, { ...t, ok: false, error: err as TenantDataError });
    }
  }
  remaining = remaining.filter((t) => !results.has(t.tenantId));
  while (remaining.length > 0) {
    try {
      for (const r of await exportOnce({ ...opts, tenants: remaining })) results.set(r.tenantId, r);
      break;
    } catch (err) {
      if (!(err instanceof TooLarge)) throw err;
      const t = remaining.find((x) => x.tenantId === err.tenantId)!;
      results.set(t.tenantId, {
        ...t,
        ok: false,
        error: tenantDataError({
          code: "export_tenant_too_large",
          message: `tenant ${t.tenantId} has more than ${opts.maxTenantBytes ?? DEFAULT_MAX} bytes of rows: export it alone`,
          context: { tenantId: t.tenantId },
        }),
      });
      remaining = remaining.filter((x) => x !== t);
    }
  }
  return opts.tenants.map((t) => results.get(t.tenantId)!);
}

const DEFAULT_MAX = 4 * 1024 * 1024;

async function exportOnce(opts: BatchExportOptions): Promise<BatchExportResult[]> {
  const started = performance.now();
  const max = opts.maxTenantBytes ?? DEFAULT_MAX;
  if (opts.signal?.aborted) throw tenantDataError({ code: "export_aborted", message: "batch export aborted before it started" });
  const conn = await lease({ pool: opts.pool });
  const { client } = conn;
  let current: { destroy(err?: Error): void } | undefined;
  const onAbort = () => current?.destroy(tenantDataError({ code: "export_aborted", message: "batch export aborted" }));
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    // [1] One round trip: the transaction, its settings and locks, and every tenant's status.
    const { results, byKey, pending, keys, createdAt } = await snapshotTenants({ opts, client });

    // [2] One COPY per table, split by tenant.
    await copyTables({ opts, client, byKey, pending, keys, max, setCurrent: (c) => (current = c) });
    if (opts.signal?.aborted) throw tenantDataError({ code: "export_aborted", message: "batch export aborted" });
    await client.query("COMMIT");
    conn.release();

    // [3] The scripts.
    buildScripts({ opts, pending, createdAt, started, results });
    return results;
  } catch (err) {
    current?.destroy();
    conn.release(asError(err));
    if (err instanceof TooLarge) throw err;
    if (opts.signal?.aborted) throw tenantDataError({ code: "export_aborted", message: "batch export aborted", cause: opts.signal.reason });
    throw isHesaabError(err) ? err : wrapFailure(err, { tenants: opts.tenants.length });
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

/** [1] Begins the batch's transaction, locks the tables and reads every tenant's status (the snapshot); the tenants that cannot be exported get their result here. */
async function snapshotTenants({
  opts,
  client,
}: {
  opts: BatchExportOptions;
  client: pg.ClientBase;
}): Promise<{ results: BatchExportResult[]; byKey: Map<string, Pending>; pending: Pending[]; keys: string; createdAt: Date }> {
  const { plan } = opts;
  // [1] One round trip: the transaction, its settings and locks, and every tenant's status
  // (the SELECT takes the snapshot, after the locks are held).
  const status = plan.root.statusColumn ? `r.${plan.root.statusColumn}::text` : "NULL::text";
  // An id that cannot be a key of the root table is simply not found (a failed cast would fail the batch).
  const wanted = opts.tenants.filter((t) => couldBeKey(plan.root.keyType, t.tenantId));
  const asked = `ARRAY[${wanted.map((t) => client.escapeLiteral(t.tenantId)).join(", ") || "NULL"}]::text[]`;
  const replies = (await client.query(
    `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ${PIN_SETTINGS}; ${BATCH_PLANNER_SETTINGS}; LOCK TABLE ${plan.tables.map((t) => t.sql).join(", ")} IN ACCESS SHARE MODE;
     SELECT a.asked, r.${plan.root.keySql}::text AS key, ${status} AS status, transaction_timestamp() AS at
     FROM unnest(${asked}) AS a(asked) JOIN ${plan.root.sql} r ON r.${plan.root.keySql} = a.asked::${plan.root.keyType}`,
  )) as unknown as pg.QueryResult<{ asked: string; key: string; status: string | null; at: Date }>[];
  // The cast to the key's type can bend a value (varchar(n) cuts it, uuid ignores case): a row
  // counts only for the very id asked (a uuid in any case), like the single export's `= $1`.
  const same = (r: { asked: string; key: string }) => r.key === r.asked || (plan.root.keyType === "uuid" && r.key === r.asked.toLowerCase());
  const found = new Map(replies[replies.length - 1]!.rows.filter(same).map((r) => [r.asked, r]));
  const results: BatchExportResult[] = [];
  const byKey = new Map<string, Pending>();
  let createdAt = new Date();
  for (const t of opts.tenants) {
    const row = found.get(t.tenantId);
    if (!row) {
      results.push({
        ...t,
        ok: false,
        error: tenantDataError({
          code: "tenant_not_found",
          message: `tenant ${t.tenantId} not found`,
          hint: "Check the tenant id and the database",
          context: { tenantId: t.tenantId },
        }),
      });
      continue;
    }
    const inactive = inactiveError({ tenantId: t.tenantId, status: row.status, allowInactive: opts.allowInactive ?? false });
    if (inactive) {
      results.push({ ...t, ok: false, error: inactive });
      continue;
    }
    const first = byKey.get(row.key);
    if (first) {
      results.push({
        ...t,
        ok: false,
        error: tenantDataError({
          code: "tenant_duplicate",
          message: `tenant ${t.tenantId} is tenant ${first.tenantId}, asked twice in one batch`,
          context: { tenantId: t.tenantId },
        }),
      });
      continue;
    }
    createdAt = row.at;
    byKey.set(row.key, { ...t, pieces: [], bytes: 0, tables: [] });
  }
  const pending = [...byKey.values()];
  // An array literal without a type: PostgreSQL gives it the type of each table's tenant column.
  const keys = client.escapeLiteral(`{${[...byKey.keys()].map((k) => `"${k.replace(/[\\"]/g, "\\$&")}"`).join(",")}}`);
  return { results, byKey, pending, keys, createdAt };
}

/** [2] One COPY per table, its rows routed to their tenant's pieces. */
async function copyTables({
  opts,
  client,
  byKey,
  pending,
  keys,
  max,
  setCurrent,
}: {
  opts: BatchExportOptions;
  client: pg.ClientBase;
  byKey: Map<string, Pending>;
  pending: Pending[];
  keys: string;
  max: number;
  setCurrent: (copy: { destroy(err?: Error): void } | undefined) => void;
}): Promise<void> {
  const { plan } = opts;
  for (const table of plan.tables) {
    const header = Buffer.from(`${copyFromStdinLine(table)}\n`, "utf8");
    for (const p of pending) {
      p.pieces.push(header);
      p.tables.push({ name: table.name, rows: 0, bytes: 0, sum: new RowChecksum() });
    }
    if (pending.length === 0) continue;
    if (opts.signal?.aborted) throw tenantDataError({ code: "export_aborted", message: "batch export aborted" });
    const copy = client.query(copyTo(`COPY (${batchSelectSql({ plan, table, tenants: keys })}) TO STDOUT`));
    // an error after its rows ended (the connection lost later) belongs to the next query, not the process
    copy.on("error", () => {});
    setCurrent(copy);
    const router = new RowRouter(byKey, max);
    for await (const chunk of copy as AsyncIterable<Buffer>) router.push(chunk);
    router.end();
    setCurrent(undefined);
    const end = Buffer.from(`${END_OF_COPY}\n`, "utf8");
    for (const p of pending) p.pieces.push(end);
  }
}

/** [3] Each exported tenant's script, byte for byte what a single export writes, appended to `results`. */
function buildScripts({
  opts,
  pending,
  createdAt,
  started,
  results,
}: {
  opts: BatchExportOptions;
  pending: Pending[];
  createdAt: Date;
  started: number;
  results: BatchExportResult[];
}): void {
  const { plan } = opts;
  const tables = plan.tables.map((t) => ({ name: t.name, columns: t.columns.map((c) => c.name), types: t.columns.map((c) => c.type) }));
  const durationMs = Math.round(performance.now() - started);
  for (const p of pending) {
    // the fields in exportTenant's order: a batch writes byte for byte the script a single export would
    const manifest: ScriptManifest = {
      format: SCRIPT_FORMAT,
      version: SCRIPT_VERSION,
      tenantId: p.tenantId,
      backupId: p.backupId,
      createdAt: createdAt.toISOString(),
      schemaFingerprint: plan.fingerprint,
      tenantColumn: plan.tenantColumn,
      tables,
      dependencies: plan.dependencies,
    };
    const rows = Object.fromEntries(p.tables.map((t) => [t.name, t.rows]));
    const script = Buffer.concat([Buffer.from(scriptHead(manifest), "utf8"), ...p.pieces, Buffer.from(scriptTail(rows), "utf8")]);
    results.push({
      tenantId: p.tenantId,
      backupId: p.backupId,
      ok: true,
      script,
      summary: {
        tenantId: p.tenantId,
        backupId: p.backupId,
        createdAt: manifest.createdAt,
        schemaFingerprint: plan.fingerprint,
        tables: p.tables.map((t) => ({ name: t.name, rows: t.rows, bytes: t.bytes, checksum: t.sum.digest() })),
        rows: p.tables.reduce((n, t) => n + t.rows, 0),
        bytes: script.length,
        durationMs,
      },
    });
  }
}

const INTEGER_TYPES = new Set(["smallint", "integer", "bigint"]);

function couldBeKey(keyType: string, id: string): boolean {
  if (keyType === "uuid") return UUID.test(id);
  if (INTEGER_TYPES.has(keyType)) return /^-?\d{1,18}$/.test(id);
  return true;
}

/**
 * Splits one table's COPY output into its tenants' scripts. Rows are `<tenant key>\t<row>\n` and
 * arrive in chunks that may cut a row anywhere; whole rows are kept as views of the chunks (no
 * copy), a row cut in two is joined. Consecutive rows mostly share a tenant: its key bytes are
 * compared before being decoded. Exported for its unit test.
 */
export class RowRouter {
  #carry: Buffer | undefined;
  #lastKey: Buffer | undefined;
  #last: Pending | undefined;

  constructor(
    readonly byKey: Map<string, Pending>,
    readonly max: number,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    if (this.#carry) {
      const nl = chunk.indexOf(NEWLINE);
      if (nl < 0) {
        this.#carry = Buffer.concat([this.#carry, chunk]);
        return;
      }
      const row = Buffer.concat([this.#carry, chunk.subarray(0, nl + 1)]);
      this.#carry = undefined;
      this.#route(row, 0, row.length);
      start = nl + 1;
    }
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl < 0) break;
      this.#route(chunk, start, nl + 1);
      start = nl + 1;
    }
    if (start < chunk.length) this.#carry = Buffer.from(chunk.subarray(start));
  }

  end(): void {
    if (this.#carry) throw new Error("COPY output ended in the middle of a row");
  }

  /** The row `buf[start, end)`, newline included. */
  #route(buf: Buffer, start: number, end: number): void {
    const tab = buf.indexOf(TAB, start);
    if (tab < 0 || tab >= end) throw new Error("COPY row without its tenant key");
    const key = buf.subarray(start, tab);
    let target = this.#last;
    if (!target || !this.#lastKey || !key.equals(this.#lastKey)) {
      target = this.byKey.get(key.toString("latin1"));
      if (!target) throw new Error("COPY row of a tenant outside the batch");
      this.#last = target;
      this.#lastKey = key;
    }
    const row = buf.subarray(tab + 1, end);
    target.pieces.push(row);
    target.bytes += row.length;
    const table = target.tables[target.tables.length - 1]!;
    table.rows++;
    table.bytes += row.length;
    table.sum.addRow(buf, tab + 1, end - 1); // the row without its newline, as ./checksum defines it
    if (target.bytes > this.max) throw new TooLarge(target.tenantId);
  }
}
