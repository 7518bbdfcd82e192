/**
 * Bounded export: one tenant's rows as the script `exportTenant` writes (same head, same manifest,
 * same COPY blocks, same tail, a keyed table's rows in key order: a restore cannot tell them apart), read so that neither
 * memory nor any transaction grows with the tenant. For tenants too large for one snapshot: a
 * backup that failed for size or time (statement_timeout, idle-in-transaction timeout, snapshot
 * too old, out of memory, a standby's recovery conflict) is taken again this way (tenant-backup).
 *
 *  [1] check the tenant (exists, active) in a short transaction of its own;
 *  [2] find each table's primary key (columns of the plan, in key order);
 *  [3] per table with a key: keyset pages, each `COPY (SELECT … AND key > last ORDER BY key LIMIT n)`
 *      in its own short REPEATABLE READ READ ONLY transaction, read whole into memory (≤ n rows) and
 *      committed BEFORE its bytes go downstream, so a slow consumer never holds a transaction open;
 *      a table without a primary key: one streamed COPY in a transaction of its own;
 *  [4] the tail with the row counts.
 *
 * What is lost: the tables are not read from one snapshot (nor are a keyed table's pages). A row
 * written while the export runs may be seen in one table and not in another (an invoice without
 * its lines, or lines of an invoice not exported), and a row whose key changes between pages may be
 * missed or read twice. `summary.consistency` records when each table was read; the backup record
 * and manifest carry it, and docs/operations.md says when that is acceptable.
 */
import { Readable } from "node:stream";
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { isHesaabError } from "@hesaab/config";
import { asError, lease } from "./connection";
import { discoverTenantPlan } from "./discover";
import { tenantDataError } from "./errors";
import {
  type BoundedConsistency,
  type ExportOptions,
  type ExportSummary,
  type TenantExport,
  PIN_SETTINGS,
  readTenant,
  scriptManifest,
  validateIds,
  wrapFailure,
} from "./export";
import { type PlanColumn, type PlanTable, type TenantPlan, copyFromStdinLine, pageSelectSql, selectSql } from "./tenant-plan";
import { RowChecksum } from "./checksum";
import { END_OF_COPY, scriptHead, scriptTail } from "./script";

export interface BoundedExportOptions extends Omit<ExportOptions, "client" | "snapshot"> {
  pool: pg.Pool;
  /** Rows per keyset page (memory: one page; transaction: one page's read). Default 10 000. */
  pageRows?: number | undefined;
}

export const DEFAULT_PAGE_ROWS = 10_000;
const BEGIN = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ${PIN_SETTINGS}; SELECT transaction_timestamp() AS at`;

/** Start a bounded export (see the file comment). Resolves once the tenant is checked; then read `stream`. */
export async function exportTenantBounded(opts: BoundedExportOptions): Promise<TenantExport> {
  const started = performance.now();
  validateIds(opts);
  if (opts.signal?.aborted) throw tenantDataError({ code: "export_aborted", message: "tenant export aborted before it started" });
  const pageRows = Math.max(1, Math.floor(opts.pageRows ?? DEFAULT_PAGE_ROWS));
  const conn = await lease({ pool: opts.pool });
  const { client } = conn;
  let plan: TenantPlan;
  let createdAt: Date;
  let source: ExportSummary["source"];
  let keys: Map<string, PlanColumn[]>;
  try {
    plan = opts.plan ?? (await discoverTenantPlan({ ...opts.discover, client }));
    await client.query(BEGIN);
    ({ at: createdAt, source } = await readTenant({ client, plan, tenantId: opts.tenantId, allowInactive: opts.allowInactive ?? false }));
    await client.query("COMMIT");
    keys = await primaryKeys(client, plan);
  } catch (err) {
    const failure = wrapFailure(err, { tenantId: opts.tenantId, backupId: opts.backupId });
    await client.query("ROLLBACK").then(
      () => conn.release(),
      (e: unknown) => conn.release(asError(e)),
    );
    throw failure;
  }
  const manifest = scriptManifest({ opts, plan, createdAt });
  const tenant = client.escapeLiteral(opts.tenantId);
  let resolveDone!: (s: ExportSummary) => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<ExportSummary>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  done.catch(() => undefined);
  let current: { destroy(err?: Error): void } | undefined;
  let finished = false;
  const aborted = () =>
    tenantDataError({ code: "export_aborted", message: "tenant export aborted", context: { tenantId: opts.tenantId }, cause: opts.signal?.reason });

  async function* produce(): AsyncGenerator<Buffer> {
    const tables: { name: string; rows: number; bytes: number; sum: RowChecksum }[] = [];
    const consistency: BoundedConsistency = { mode: "bounded", pageRows, tables: {} };
    let bytes = 0;
    let failure: Error | undefined;
    const emit = (b: Buffer) => ((bytes += b.length), b);
    try {
      yield emit(Buffer.from(scriptHead(manifest), "utf8"));
      for (const [i, table] of plan.tables.entries()) {
        yield emit(Buffer.from(`${copyFromStdinLine(table)}\n`, "utf8"));
        const t = { name: table.name, rows: 0, bytes: 0, sum: new RowChecksum() };
        const times: Date[] = [];
        const key = keys.get(table.name);
        const pages = key
          ? keyedPages({ client, plan, table, tenant, key, pageRows, times, setCurrent: (c) => (current = c) })
          : wholeTable({ client, plan, table, tenant, times, setCurrent: (c) => (current = c) });
        for await (const page of pages) {
          if (opts.signal?.aborted) throw aborted();
          t.sum.push(page.data);
          t.rows += page.rows;
          t.bytes += page.data.length;
          yield emit(page.data);
        }
        tables.push(t);
        consistency.tables[table.name] = {
          from: times[0]!.toISOString(),
          to: times[times.length - 1]!.toISOString(),
          pages: times.length,
          keyed: key !== undefined,
        };
        yield emit(Buffer.from(`${END_OF_COPY}\n`, "utf8"));
        const rows = tables.reduce((n, x) => n + x.rows, 0);
        opts.onProgress?.({ table: table.name, tablesDone: i + 1, tablesTotal: plan.tables.length, bytes, rows });
      }
      yield emit(Buffer.from(scriptTail(Object.fromEntries(tables.map((t) => [t.name, t.rows]))), "utf8"));
      finished = true;
      conn.release();
      resolveDone({
        tenantId: opts.tenantId,
        backupId: opts.backupId,
        createdAt: manifest.createdAt,
        schemaFingerprint: plan.fingerprint,
        tables: tables.map((t) => ({ name: t.name, rows: t.rows, bytes: t.bytes, checksum: t.sum.digest() })),
        rows: tables.reduce((n, t) => n + t.rows, 0),
        bytes,
        durationMs: Math.round(performance.now() - started),
        ...(source ? { source } : {}),
        consistency,
      });
    } catch (err) {
      failure = opts.signal?.aborted
        ? aborted()
        : isHesaabError(err)
          ? err
          : wrapFailure(conn.lost() ?? err, { tenantId: opts.tenantId, backupId: opts.backupId, mode: "bounded" });
      throw failure;
    } finally {
      if (!finished) {
        failure ??= tenantDataError({ code: "export_aborted", message: "the export stream was closed before its end", context: { tenantId: opts.tenantId } });
        current?.destroy();
        conn.release(failure);
        rejectDone(failure);
      }
      opts.signal?.removeEventListener("abort", onAbort);
    }
  }

  const stream = Readable.from(produce(), { objectMode: false, highWaterMark: opts.highWaterMark ?? 1024 * 1024 });
  const onAbort = () => {
    const e = aborted();
    current?.destroy(e);
    stream.destroy(e);
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  return { stream, manifest, plan, done };
}

/** [2] Each table's primary key as plan columns, in key order; absent when it has none or a key column is not exported. */
async function primaryKeys(client: pg.ClientBase, plan: TenantPlan): Promise<Map<string, PlanColumn[]>> {
  const { rows } = await client.query<{ name: string; columns: string[] }>(
    `SELECT t.name, array_agg(a.attname::text ORDER BY k.ord) AS columns
     FROM unnest($1::text[], $2::text[]) AS t(name, sql)
     JOIN pg_catalog.pg_index i ON i.indrelid = t.sql::regclass AND i.indisprimary
     CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     GROUP BY t.name`,
    [plan.tables.map((t) => t.name), plan.tables.map((t) => t.sql)],
  );
  const keys = new Map<string, PlanColumn[]>();
  for (const r of rows) {
    const table = plan.tables.find((t) => t.name === r.name)!;
    const columns = r.columns.map((name) => table.columns.find((c) => c.name === name));
    if (columns.every((c) => c !== undefined)) keys.set(r.name, columns);
  }
  return keys;
}

interface Page {
  data: Buffer;
  rows: number;
}

interface TableRead {
  client: pg.ClientBase;
  plan: TenantPlan;
  table: PlanTable;
  tenant: string;
  /** Each transaction's time, appended as it begins. */
  times: Date[];
  setCurrent: (copy: { destroy(err?: Error): void } | undefined) => void;
}

/** Runs `copySql` in a transaction of its own; read whole (one page) when `whole`, else yielded as it streams. */
async function* copyInTransaction(o: TableRead & { copySql: string; whole: boolean }): AsyncGenerator<Page> {
  const replies = (await o.client.query(BEGIN)) as unknown as pg.QueryResult<{ at: Date }>[];
  o.times.push(replies[replies.length - 1]!.rows[0]!.at);
  const copy = o.client.query(copyTo(o.copySql));
  // an error after its rows ended (the connection lost later) belongs to the next query, not the process
  copy.on("error", () => {});
  o.setCurrent(copy);
  const chunks: Buffer[] = [];
  for await (const chunk of copy as AsyncIterable<Buffer>) {
    if (o.whole) chunks.push(chunk);
    else yield { data: chunk, rows: 0 };
  }
  o.setCurrent(undefined);
  // the page's transaction ends before its rows go downstream: a slow consumer holds no snapshot
  await o.client.query("COMMIT");
  if (o.whole) yield { data: Buffer.concat(chunks), rows: copy.rowCount };
  else yield { data: Buffer.alloc(0), rows: copy.rowCount };
}

/** [3] A keyed table, page after page until a page comes back short. */
async function* keyedPages(o: TableRead & { key: PlanColumn[]; pageRows: number }): AsyncGenerator<Page> {
  const indexes = o.key.map((k) => o.table.columns.indexOf(k));
  let after: string[] | undefined;
  for (;;) {
    const copySql = `COPY (${pageSelectSql({ plan: o.plan, table: o.table, tenant: o.tenant, key: o.key, after, limit: o.pageRows })}) TO STDOUT`;
    let page: Page | undefined;
    for await (const p of copyInTransaction({ ...o, copySql, whole: true })) page = p;
    if (!page || page.rows === 0) return;
    yield page;
    if (page.rows < o.pageRows) return;
    const fields = lastRowFields(page.data);
    after = indexes.map((i, k) => `${o.client.escapeLiteral(unescapeCopyField(fields[i]!))}::${o.key[k]!.type}`);
  }
}

/** [3] A table without a primary key: one streamed COPY in its own transaction. */
async function* wholeTable(o: TableRead): AsyncGenerator<Page> {
  yield* copyInTransaction({ ...o, copySql: `COPY (${selectSql({ plan: o.plan, table: o.table, tenant: o.tenant })}) TO STDOUT`, whole: false });
}

/** The fields of the last row of COPY text (ending with a newline), still escaped. Tabs and newlines inside values are always escaped. */
export function lastRowFields(data: Buffer): Buffer[] {
  const end = data[data.length - 1] === 0x0a ? data.length - 1 : data.length;
  const start = data.lastIndexOf(0x0a, end - 1) + 1;
  const row = data.subarray(start, end);
  const fields: Buffer[] = [];
  let from = 0;
  for (let i = 0; i <= row.length; i++) {
    if (i === row.length || row[i] === 0x09) {
      fields.push(row.subarray(from, i));
      from = i + 1;
    }
  }
  return fields;
}

const SIMPLE_ESCAPES: Record<string, number> = { b: 0x08, f: 0x0c, n: 0x0a, r: 0x0d, t: 0x09, v: 0x0b };

/** A COPY text field's value (its backslash escapes undone), as UTF-8 text. A key column is never NULL. */
export function unescapeCopyField(field: Buffer): string {
  const out: number[] = [];
  for (let i = 0; i < field.length; i++) {
    const b = field[i]!;
    if (b !== 0x5c || i + 1 >= field.length) {
      out.push(b);
      continue;
    }
    const c = String.fromCharCode(field[++i]!);
    if (c in SIMPLE_ESCAPES) out.push(SIMPLE_ESCAPES[c]!);
    else if (/[0-7]/.test(c)) {
      let digits = c;
      while (digits.length < 3 && i + 1 < field.length && /[0-7]/.test(String.fromCharCode(field[i + 1]!))) digits += String.fromCharCode(field[++i]!);
      out.push(parseInt(digits, 8) & 0xff);
    } else if (c === "x" && i + 1 < field.length && /[0-9a-fA-F]/.test(String.fromCharCode(field[i + 1]!))) {
      let digits = "";
      while (digits.length < 2 && i + 1 < field.length && /[0-9a-fA-F]/.test(String.fromCharCode(field[i + 1]!))) digits += String.fromCharCode(field[++i]!);
      out.push(parseInt(digits, 16));
    } else out.push(field[i]!);
  }
  return Buffer.from(out).toString("utf8");
}
