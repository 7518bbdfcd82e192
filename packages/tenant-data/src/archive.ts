// A tenant's data as a ZIP a person can open: the customer self-backup. One folder with
//
//   README.txt           what is inside, how to open it, the row count of every table
//   tables/<table>.csv   one per table: a header line, UTF-8 with a byte-order mark (spreadsheet
//                        tools then show Persian text as such), PostgreSQL's CSV (NULL is empty);
//                        text cells a spreadsheet would run as a formula start with a ' (below)
//   backup.sql           the same rows as the SQL script a tenant backup holds (psql can load it)
//
// Credential columns (./column-exclusions: password hashes, secrets, tokens, …) are in no file:
// the archive follows the plan without them, and the README names each one left out and why.
//
// Every file shows one moment: the CSV files are read in one REPEATABLE READ READ ONLY transaction,
// and the script's export imports that transaction's snapshot. Streams from the database to the
// output: memory does not grow with the tenant's size.
import { PassThrough, type Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { ZipFile } from "yazl";
import { isHesaabError } from "@hesaab/config";
import { asError, lease, type Lease } from "./connection";
import { wrapFailure, exportTenant, PIN_SETTINGS, validateIds, type ExportProgress, type ExportSummary, type TenantExport } from "./export";
import { tenantDataError } from "./errors";
import { DEFAULT_COLUMN_EXCLUSIONS, excludedColumns, withoutColumns, type ColumnExclusions, type ExcludedColumn } from "./column-exclusions";
import { selectSql, type PlanTable, type TenantPlan } from "./tenant-plan";

export interface ArchiveOptions {
  pool: pg.Pool;
  plan: TenantPlan;
  tenantId: string;
  /** The export's id (`exp_…`): named in the README and the script's manifest. */
  exportId: string;
  /** Where the ZIP goes; ended when the archive is complete, destroyed when it fails. */
  output: Writable;
  /** Columns left out of every file (default: the credential patterns, `DEFAULT_COLUMN_EXCLUSIONS`). */
  excludeColumns?: ColumnExclusions | undefined;
  signal?: AbortSignal | undefined;
  /** The script's progress, table by table (the archive's CSVs follow it in the same snapshot). */
  onProgress?: ((p: ExportProgress) => void) | undefined;
}

export interface ArchiveSummary {
  tenantId: string;
  exportId: string;
  /** The moment every file shows (the snapshot's time). */
  createdAt: string;
  /** Folder inside the ZIP. */
  folder: string;
  tables: { name: string; file: string; rows: number }[];
  rows: number;
  /** Columns in no file of the archive (credentials), each with the pattern that matched it. */
  excludedColumns: ExcludedColumn[];
}

/** UTF-8's byte-order mark: Excel and LibreOffice read a CSV with it as UTF-8. */
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** A table's file name: its `schema.table` name with what file systems refuse replaced. */
export function csvFileName(table: Pick<PlanTable, "name">): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  return `${table.name.replace(/[\u0000-\u001f/\\:*?"<>|]/g, "_")}.csv`;
}

/** Every table's file name, made unique where two names become one (`a:b` and `a_b`). */
function csvFileNames(tables: Pick<PlanTable, "name">[]): string[] {
  const seen = new Set<string>();
  return tables.map((table) => {
    const base = csvFileName(table).slice(0, -".csv".length);
    let name = `${base}.csv`;
    for (let n = 2; seen.has(name.toLowerCase()); n++) name = `${base}-${n}.csv`;
    seen.add(name.toLowerCase());
    return name;
  });
}

/**
 * Writes the archive of one tenant. A missing or inactive tenant rejects before any byte is written;
 * any failure destroys `output` (the caller removes what it wrote).
 *
 * It holds two connections of `pool` at once (the CSV transaction and the script's, which imports
 * its snapshot): a pool shared by N archives at once needs 2 × N connections, or they can wait on
 * each other for ever. backup-svc gives exports a pool of their own, sized so.
 */
export async function writeTenantArchive(opts: ArchiveOptions): Promise<ArchiveSummary> {
  try {
    return await archive(opts);
  } catch (err) {
    opts.output.destroy(); // closed, not errored: the error is this promise's, and `output` may have no listener
    throw err;
  }
}

async function archive(opts: ArchiveOptions): Promise<ArchiveSummary> {
  const { tenantId, exportId } = opts;
  validateIds({ tenantId, backupId: exportId });
  // Every file (the CSVs and the script) follows the plan without the excluded columns.
  const excluded = excludedColumns(opts.plan, opts.excludeColumns ?? DEFAULT_COLUMN_EXCLUSIONS);
  const plan = withoutColumns(opts.plan, excluded);
  const conn = await lease({ pool: opts.pool });
  const { client } = conn;
  const { createdAt, text, script } = await openSnapshot({ opts, conn, plan });

  const folder = `hesaab-export-${createdAt.toISOString().slice(0, 10)}-${exportId}`;
  const zip = new ZipFile();
  const mtime = createdAt;
  const tenant = client.escapeLiteral(tenantId);
  const counts: { name: string; file: string; stream: { rowCount: number } }[] = [];
  let current: Readable | undefined;
  // The first failure, wherever it comes from (a COPY, the script, the zip, the output, an abort),
  // stops everything; `failure` rejects with it, so no step waits for what will never come.
  let failed: Error | undefined;
  let rejectFailure!: (err: Error) => void;
  const failure = new Promise<never>((_, reject) => (rejectFailure = reject));
  failure.catch(() => {});
  const fail = (err: unknown): void => {
    if (failed) return;
    failed = err instanceof Error ? err : new Error(String(err));
    rejectFailure(failed);
    current?.destroy();
    script.stream.destroy();
    (zip.outputStream as PassThrough).destroy(failed);
  };
  zip.on("error", fail);
  const onAbort = (): void => fail(tenantDataError({ code: "export_aborted", message: "customer export aborted", context: { tenantId } }));
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const written = pipeline(zip.outputStream as Readable, opts.output);
  written.catch(fail);

  try {
    zip.addReadStreamLazy(`${folder}/backup.sql`, { mtime }, (cb) => cb(null, script.stream));
    let csvsDone!: () => void;
    const allCsvs = new Promise<void>((resolve) => (csvsDone = resolve));
    const files = csvFileNames(plan.tables);
    addCsvFiles({ zip, client, plan, folder, files, mtime, tenant, text, counts, fail, csvsDone, setCurrent: (c) => (current = c) });
    if (plan.tables.length === 0) csvsDone();
    const summary: ExportSummary = await Promise.race([script.done, failure]);
    await Promise.race([allCsvs, failure]);
    await client.query("COMMIT"); // every COPY's CommandComplete came before COMMIT's answer: the counts are final
    const tables = counts.map((c) => ({ name: c.name, file: c.file, rows: c.stream.rowCount }));
    checkAgainstScript({ tables, summary, tenantId, exportId });
    const result: ArchiveSummary = {
      tenantId,
      exportId,
      createdAt: createdAt.toISOString(),
      folder,
      tables,
      rows: tables.reduce((n, t) => n + t.rows, 0),
      excludedColumns: excluded,
    };
    zip.addBuffer(Buffer.from(readme(result), "utf8"), `${folder}/README.txt`, { mtime });
    zip.end();
    await Promise.race([written, failure]);
    conn.release();
    return result;
  } catch (err) {
    fail(err); // the script's export releases its own connection as its stream is destroyed
    conn.release(failed);
    throw isHesaabError(failed) ? failed : wrapFailure(failed, { tenantId, exportId });
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * Begins the CSV transaction (locks, the snapshot to share, the text columns), then starts the script's
 * export in that snapshot, which checks the tenant (missing, suspended) before any byte.
 */
async function openSnapshot({
  opts,
  conn,
  plan,
}: {
  opts: ArchiveOptions;
  conn: Lease;
  plan: TenantPlan;
}): Promise<{ createdAt: Date; text: Set<string>; script: TenantExport }> {
  const { tenantId, exportId } = opts;
  const { client } = conn;
  let snapshot: string;
  let createdAt: Date;
  let text: Set<string>;
  try {
    await client.query(
      `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ${PIN_SETTINGS}; LOCK TABLE ${plan.tables.map((t) => t.sql).join(", ")} IN ACCESS SHARE MODE`,
    );
    const { rows } = await client.query<{ snapshot: string; at: Date }>("SELECT pg_export_snapshot() AS snapshot, transaction_timestamp() AS at");
    snapshot = rows[0]!.snapshot;
    createdAt = rows[0]!.at;
    text = await textColumns(client, plan);
  } catch (err) {
    conn.release(asError(err));
    throw wrapFailure(err, { tenantId, exportId });
  }
  // The script's export checks the tenant (missing, suspended) in that snapshot, before any byte.
  let script;
  try {
    script = await exportTenant({ pool: opts.pool, plan, tenantId, backupId: exportId, snapshot, signal: opts.signal, onProgress: opts.onProgress });
  } catch (err) {
    await client.query("ROLLBACK").then(
      () => conn.release(),
      (e: unknown) => conn.release(asError(e)),
    );
    throw err;
  }
  return { createdAt, text, script };
}

/** Adds one CSV entry per table, each COPY started only when the zip reaches it; `csvsDone` runs once the last one has ended. */
function addCsvFiles({
  zip,
  client,
  plan,
  folder,
  files,
  mtime,
  tenant,
  text,
  counts,
  fail,
  csvsDone,
  setCurrent,
}: {
  zip: ZipFile;
  client: pg.ClientBase;
  plan: TenantPlan;
  folder: string;
  files: string[];
  mtime: Date;
  tenant: string;
  text: Set<string>;
  counts: { name: string; file: string; stream: { rowCount: number } }[];
  fail: (err: unknown) => void;
  csvsDone: () => void;
  setCurrent: (copy: Readable) => void;
}): void {
  plan.tables.forEach((table, i) => {
    const file = `tables/${files[i]}`;
    zip.addReadStreamLazy(`${folder}/${file}`, { mtime }, (cb) => {
      const copy = client.query(copyTo(`COPY (${csvSelectSql({ plan, table, tenant, text })}) TO STDOUT WITH (FORMAT csv, HEADER true)`));
      counts.push({ name: table.name, file, stream: copy });
      setCurrent(copy);
      const csv = new PassThrough();
      csv.write(BOM);
      copy.once("error", fail);
      if (i === plan.tables.length - 1) copy.once("end", csvsDone);
      copy.pipe(csv);
      cb(null, csv);
    });
  });
}

/** Each CSV file must hold as many rows as the script (they read one snapshot). */
function checkAgainstScript({
  tables,
  summary,
  tenantId,
  exportId,
}: {
  tables: { name: string; rows: number }[];
  summary: ExportSummary;
  tenantId: string;
  exportId: string;
}): void {
  for (const t of tables) {
    const inScript = summary.tables.find((x) => x.name === t.name)?.rows;
    if (inScript !== t.rows) {
      throw tenantDataError({
        code: "export_failed",
        message: `${t.name}: ${t.rows} rows in the CSV file, ${inScript} in the script (they read one snapshot)`,
        context: { tenantId, exportId },
      });
    }
  }
}

/**
 * The first characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection"):
 * = + - @, and tab and carriage return (which some tools skip before looking again).
 */
export const FORMULA_PREFIXES = ["=", "+", "-", "@", "\t", "\r"] as const;

/**
 * The text columns of the plan's tables (`table\0column`): PostgreSQL's string category (text,
 * varchar, char, name, citext) and domains over them. Only these are neutralised: numbers, dates,
 * intervals, JSON, enums and arrays are not text a person typed, and a negative amount stays a number.
 */
async function textColumns(client: pg.ClientBase, plan: TenantPlan): Promise<Set<string>> {
  const { rows } = await client.query<{ i: string; column: string }>(
    `SELECT r.i, a.attname AS column
     FROM unnest($1::text[]) WITH ORDINALITY AS r(name, i)
     JOIN pg_catalog.pg_attribute a ON a.attrelid = r.name::regclass
     JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
     LEFT JOIN pg_catalog.pg_type base ON base.oid = NULLIF(t.typbasetype, 0)
     WHERE a.attnum > 0 AND NOT a.attisdropped AND COALESCE(base.typcategory, t.typcategory) = 'S'`,
    [plan.tables.map((t) => t.sql)],
  );
  return new Set(rows.map((r) => `${plan.tables[Number(r.i) - 1]!.name}\u0000${r.column}`));
}

/**
 * The CSV's query: a text cell starting with a formula character gets a leading ' (a spreadsheet
 * then shows it as text, and hides the '). The SQL script keeps every value as it is.
 */
function csvSelectSql(o: { plan: TenantPlan; table: PlanTable; tenant: string; text: Set<string> }): string {
  const prefixes = FORMULA_PREFIXES.map((p) => `chr(${p.charCodeAt(0)})`).join(", ");
  return selectSql({
    ...o,
    column: (c, ref) =>
      o.text.has(`${o.table.name}\u0000${c.name}`) ? `CASE WHEN left(${ref}, 1) IN (${prefixes}) THEN '''' || ${ref} ELSE ${ref}::text END` : ref,
  });
}

function readme(s: ArchiveSummary): string {
  const width = Math.max(...s.tables.map((t) => t.file.length), 10);
  return [
    "HesaabPlus: a copy of your data",
    "",
    `Tenant:   ${s.tenantId}`,
    `Taken at: ${s.createdAt} (UTC); every file shows this same moment`,
    `Export:   ${s.exportId}`,
    "",
    "tables/      one CSV file per table, with a header line. UTF-8 text: open it with Excel, LibreOffice",
    "             or Google Sheets (Persian text shows as it should). An empty cell is an empty value",
    '             (NULL); an empty text is "".',
    "             Text that starts with = + - @, a tab or a carriage return begins with an added '",
    "             (a single quote): spreadsheets would otherwise run such text as a formula. The '",
    "             is not part of your data (backup.sql holds the text as it is). Numbers, amounts",
    "             and dates are never changed: -5 stays -5.",
    "backup.sql   the same rows as a SQL script for PostgreSQL: `psql -d <database> -f backup.sql`",
    "             loads them into a database that has the HesaabPlus tables.",
    "",
    "Rows per table:",
    ...s.tables.map((t) => `  ${t.file.padEnd(width)}  ${t.rows}`),
    `  ${"total".padEnd(width)}  ${s.rows}`,
    "",
    ...leftOut(s.excludedColumns),
  ].join("\r\n");
}

/** The README's account of the columns in no file. */
function leftOut(excluded: ExcludedColumn[]): string[] {
  if (excluded.length === 0) return ["Left out: nothing.", ""];
  const required = excluded.filter((e) => e.notNull);
  return [
    "Left out: these columns hold credentials (passwords, secrets, tokens, keys) and are in no file",
    "of this copy, neither the CSV files nor backup.sql. Your users keep signing in as before; a copy",
    "loaded elsewhere has no passwords: its users set new ones.",
    ...excluded.map((e) => `  ${e.table}.${e.column}`),
    ...(required.length > 0
      ? [
          "backup.sql loads a table whose left-out column is required (NOT NULL) only where that column",
          "has a default; give it one in the database you load into first:",
          ...required.map((e) => `  ${e.table}.${e.column}`),
        ]
      : []),
    "",
  ];
}
