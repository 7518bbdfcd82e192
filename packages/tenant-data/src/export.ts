/**
 * Export: one tenant's rows as a streamed SQL script (./script), read in ONE
 * `REPEATABLE READ READ ONLY` transaction on one connection, so every table is read from the same
 * snapshot. Each table is one `COPY (SELECT …) TO STDOUT` whose chunks are passed through as they
 * come, never parsed or buffered whole: memory stays at a few highWaterMarks whatever the tenant's size.
 *
 *  [1] discover the plan (unless given), outside the transaction;
 *  [2] BEGIN REPEATABLE READ READ ONLY; pin the output settings (UTF8, ISO dates, UTC, hex bytea);
 *      LOCK the tables IN ACCESS SHARE MODE (no DDL can change them under the export);
 *  [3] check the tenant: missing → `tenant_not_found`, suspended/deleted → `tenant_not_active`
 *      (this first query also takes the snapshot); nothing is streamed before this passed;
 *  [4] stream head, then per table: COPY header line, COPY data, `\.`;
 *  [5] COMMIT, then the tail with the row counts (each COPY's own count).
 * On any failure or abort the connection is destroyed (`release(err)`): it may be mid-COPY.
 */
import { Readable } from "node:stream";
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { backupId as backupIdSchema, exportId as exportIdSchema, tenantId as tenantIdSchema } from "@hesaab/contracts";
import { isHesaabError } from "@hesaab/config";
import { asError, lease, type Lease } from "./connection";
import { type DiscoverOptions, discoverTenantPlan } from "./discover";
import { TenantDataError, isRetryableSqlState, sqlState, tenantDataError } from "./errors";
import { type TenantPlan, copyFromStdinLine, selectSql } from "./tenant-plan";
import { RowChecksum } from "./checksum";
import { END_OF_COPY, SCRIPT_FORMAT, SCRIPT_VERSION, type ScriptManifest, scriptHead, scriptTail } from "./script";

export interface ExportProgress {
  /** The table being read. */
  table: string;
  tablesDone: number;
  tablesTotal: number;
  /** Script bytes produced so far. */
  bytes: number;
  /** Rows of the tables finished so far. */
  rows: number;
}

export interface ExportTableSummary {
  name: string;
  rows: number;
  /** COPY text bytes of this table. */
  bytes: number;
  /** Order-independent checksum of the table's COPY text rows (./checksum, hesaab-row-sum-v1). */
  checksum: string;
}

export interface ExportSummary {
  tenantId: string;
  backupId: string;
  createdAt: string;
  schemaFingerprint: string;
  tables: ExportTableSummary[];
  rows: number;
  /** Bytes of the whole script. */
  bytes: number;
  durationMs: number;
  /** Where the rows were read (single-tenant exports): the primary, or a hot standby and how far behind it was. */
  source?: ExportSource;
  /** Set by a bounded export (./export-bounded): the tables were NOT read from one snapshot; when each was. */
  consistency?: BoundedConsistency;
}

/** How a bounded export read each table: the consistency it gave up, recorded with the backup. */
export interface BoundedConsistency {
  mode: "bounded";
  /** Rows per keyset page. */
  pageRows: number;
  /** Per table: its snapshots' times (first and last, ISO), how many pages, and whether it was paged by its primary key. */
  tables: Record<string, { from: string; to: string; pages: number; keyed: boolean }>;
}

export interface ExportSource {
  standby: boolean;
  /**
   * On a standby, how far behind the primary its snapshot was, in seconds: 0 when it had replayed all
   * it received, else the age of the last transaction it replayed. null on the primary (or unknown).
   */
  replayLagSeconds: number | null;
}

export interface TenantExport {
  /** The plaintext SQL script (UTF-8). Read it to the end, or destroy it to abandon the export. */
  stream: Readable;
  manifest: ScriptManifest;
  plan: TenantPlan;
  /** Resolves after the last byte was produced and the transaction ended; rejects when the export failed. */
  done: Promise<ExportSummary>;
}

export type ExportOptions = {
  /**
   * Where to read. With `pool` a connection is taken from it. A `client` is owned by the export from
   * then on: released (pool client) or ended (plain client) when the export ends, destroyed when it fails.
   */
  pool?: pg.Pool;
  client?: pg.PoolClient | pg.Client;
  tenantId: string;
  backupId: string;
  /** The plan to follow; discovered (with `discover`) when absent. */
  plan?: TenantPlan;
  discover?: DiscoverOptions | undefined;
  /** Export a suspended or deleted tenant too (e.g. the rollback point before restoring one). Default false. */
  allowInactive?: boolean | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: ExportProgress) => void) | undefined;
  /** Buffer size of the script stream and of each COPY stream. Default 1 MiB. */
  highWaterMark?: number;
  /**
   * A snapshot another transaction exported (`pg_export_snapshot()`): the script then holds exactly the
   * rows that transaction sees (a customer export's CSV files and its script agree row for row).
   */
  snapshot?: string;
};

const MiB = 1024 * 1024;
const PROGRESS_EVERY = 8 * MiB;
/** Tenant statuses that are not backed up (a root table's status column). */
export const INACTIVE: ReadonlySet<string> = new Set(["suspended", "deleted"]);
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A killed client's statement goes on in its backend until it next writes to the socket: minutes of
 * a DELETE holding the tenant's lock. PostgreSQL 14+ checks the socket this often while a query runs
 * and ends the backend when its client is gone. Set on every export and restore transaction.
 */
export const DEAD_CLIENT_CHECK = "SET LOCAL client_connection_check_interval = '2s'";

// Output settings that make the COPY text the same whatever the server's or role's defaults are
// (and the dead-client check, which every transaction using them wants too).
export const PIN_SETTINGS = [
  DEAD_CLIENT_CHECK,
  "SET LOCAL client_encoding = 'UTF8'",
  "SET LOCAL standard_conforming_strings = on",
  "SET LOCAL datestyle = 'ISO, YMD'",
  "SET LOCAL intervalstyle = 'postgres'",
  "SET LOCAL extra_float_digits = 3",
  "SET LOCAL bytea_output = 'hex'",
  "SET LOCAL timezone = 'UTC'",
].join("; ");

/** A pooled client is leased; a caller's `client` is owned by the export (released or ended when it ends). */
async function connect(opts: ExportOptions): Promise<Lease> {
  if (opts.client) {
    const client = opts.client;
    let done = false;
    return {
      client,
      release: (err) => {
        if (done) return;
        done = true;
        if ("release" in client && typeof client.release === "function") client.release(err);
        else void client.end().catch(() => undefined);
      },
      lost: () => undefined,
    };
  }
  if (!opts.pool) throw new TypeError("exportTenant needs a pool or a client");
  return lease({ pool: opts.pool });
}

export function validateIds(opts: { tenantId: string; backupId: string }): void {
  if (!tenantIdSchema.safeParse(opts.tenantId).success) {
    throw tenantDataError({
      code: "invalid_tenant_id",
      message: "the tenant id is not a valid tenant id",
      context: { tenantId: String(opts.tenantId).slice(0, 140) },
    });
  }
  if (!backupIdSchema.safeParse(opts.backupId).success && !exportIdSchema.safeParse(opts.backupId).success) {
    throw tenantDataError({
      code: "invalid_backup_id",
      message: "the backup id is not a valid backup or export id (bkp_…, exp_…)",
      context: { backupId: String(opts.backupId).slice(0, 140) },
    });
  }
}

export function wrapFailure(err: unknown, context: Record<string, unknown>): Error {
  if (isHesaabError(err)) return err;
  const state = sqlState(err);
  return new TenantDataError({
    code: "export_failed",
    message: `tenant export failed: ${asError(err).message}`,
    retryable: state === undefined || isRetryableSqlState(state),
    cause: err,
    context: { ...context, sqlState: state },
  });
}

/** `tenant_not_active` for a suspended or deleted tenant (unless allowed), else undefined. */
export function inactiveError(o: { tenantId: string; status: string | null; allowInactive: boolean }): TenantDataError | undefined {
  if (o.status === null || !INACTIVE.has(o.status) || o.allowInactive) return undefined;
  return tenantDataError({
    code: "tenant_not_active",
    message: `tenant ${o.tenantId} is ${o.status}`,
    hint: "Suspended and deleted tenants are not backed up",
    context: { tenantId: o.tenantId, status: o.status },
  });
}

/** [3] The tenant must exist and be active (`tenant_not_found`, `tenant_not_active`). Returns the transaction's time. */
export async function checkTenant(o: { client: pg.ClientBase; plan: TenantPlan; tenantId: string; allowInactive: boolean }): Promise<Date> {
  return (await readTenant(o)).at;
}

/** Standby and replay lag, read in the same round trip as the tenant's row. */
const SOURCE_SQL = `pg_catalog.pg_is_in_recovery() AS standby,
  CASE WHEN pg_catalog.pg_is_in_recovery() THEN
    CASE WHEN pg_catalog.pg_last_wal_receive_lsn() = pg_catalog.pg_last_wal_replay_lsn() THEN 0
         ELSE extract(epoch FROM transaction_timestamp() - pg_catalog.pg_last_xact_replay_timestamp())::float8 END
  END AS lag`;

/** The tenant's status check (see `checkTenant`) with the transaction's time and where it was read. */
export async function readTenant(o: {
  client: pg.ClientBase;
  plan: TenantPlan;
  tenantId: string;
  allowInactive: boolean;
}): Promise<{ at: Date; source: ExportSource }> {
  const { plan, tenantId } = o;
  if (plan.root.keyType === "uuid" && !UUID.test(tenantId)) {
    throw tenantDataError({ code: "tenant_not_found", message: `tenant ${tenantId} not found (not a uuid)`, context: { tenantId } });
  }
  const status = plan.root.statusColumn ? `${plan.root.statusColumn}::text` : "NULL::text";
  const { rows } = await o.client.query<{ status: string | null; at: Date; standby: boolean; lag: number | null }>(
    `SELECT ${status} AS status, transaction_timestamp() AS at, ${SOURCE_SQL} FROM ${plan.root.sql} WHERE ${plan.root.keySql} = $1`,
    [tenantId],
  );
  const row = rows[0];
  if (!row) {
    throw tenantDataError({
      code: "tenant_not_found",
      message: `tenant ${tenantId} not found`,
      hint: "Check the tenant id and the database",
      context: { tenantId },
    });
  }
  const inactive = inactiveError({ tenantId, status: row.status, allowInactive: o.allowInactive });
  if (inactive) throw inactive;
  return { at: row.at, source: { standby: row.standby, replayLagSeconds: row.lag === null ? null : Math.max(0, Number(row.lag)) } };
}

/**
 * Opens the export's transaction (its snapshot, or the one given), locks the tenant's tables and checks
 * the tenant; a failure releases the connection (rolled back when it is the tenant's fault) and throws.
 */
async function beginSnapshot({ opts, conn }: { opts: ExportOptions; conn: Lease }): Promise<{ plan: TenantPlan; createdAt: Date; source: ExportSource }> {
  const { client } = conn;
  let plan: TenantPlan;
  let createdAt: Date;
  let source: ExportSource;
  try {
    plan = opts.plan ?? (await discoverTenantPlan({ ...opts.discover, client }));
    // One round trip (a backup of thousands of small tenants pays it per tenant). Neither SET nor
    // LOCK takes the snapshot: the tenant check below does, after the locks are held.
    await client.query(
      `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ${opts.snapshot ? `SET TRANSACTION SNAPSHOT ${client.escapeLiteral(opts.snapshot)}; ` : ""}${PIN_SETTINGS}; LOCK TABLE ${plan.tables.map((t) => t.sql).join(", ")} IN ACCESS SHARE MODE`,
    );
    ({ at: createdAt, source } = await readTenant({ client, plan, tenantId: opts.tenantId, allowInactive: opts.allowInactive ?? false }));
  } catch (err) {
    const failure = wrapFailure(err, { tenantId: opts.tenantId, backupId: opts.backupId });
    if (isHesaabError(failure) && failure.code.startsWith("tenant_")) {
      await client.query("ROLLBACK").then(
        () => conn.release(),
        (e: unknown) => conn.release(asError(e)),
      );
    } else {
      conn.release(asError(err));
    }
    throw failure;
  }
  return { plan, createdAt, source };
}

/** The script's manifest: what the export holds and the schema it was taken from. */
export function scriptManifest({ opts, plan, createdAt }: { opts: ExportOptions; plan: TenantPlan; createdAt: Date }): ScriptManifest {
  return {
    format: SCRIPT_FORMAT,
    version: SCRIPT_VERSION,
    tenantId: opts.tenantId,
    backupId: opts.backupId,
    createdAt: createdAt.toISOString(),
    schemaFingerprint: plan.fingerprint,
    tenantColumn: plan.tenantColumn,
    tables: plan.tables.map((t) => ({ name: t.name, columns: t.columns.map((c) => c.name), types: t.columns.map((c) => c.type) })),
    dependencies: plan.dependencies,
  };
}

/**
 * Start exporting one tenant. Resolves once the snapshot is taken and the tenant checked (so a
 * missing or inactive tenant rejects here, before any byte exists); then read `stream`.
 */
export async function exportTenant(opts: ExportOptions): Promise<TenantExport> {
  const started = performance.now();
  validateIds(opts);
  if (opts.signal?.aborted) throw tenantDataError({ code: "export_aborted", message: "tenant export aborted before it started" });
  const conn = await connect(opts);
  const { client } = conn;
  const highWaterMark = opts.highWaterMark ?? MiB;
  const { plan, createdAt, source } = await beginSnapshot({ opts, conn });

  const manifest = scriptManifest({ opts, plan, createdAt });
  const tenantLiteral = client.escapeLiteral(opts.tenantId);
  let current: Readable | null = null;
  let finished = false;
  let resolveDone!: (s: ExportSummary) => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<ExportSummary>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  done.catch(() => undefined); // the caller may only watch the stream

  const progress = { bytes: 0, rows: 0, reportedAt: 0, tablesDone: 0 };
  const report = (table: string, force: boolean) => {
    if (!opts.onProgress || (!force && progress.bytes - progress.reportedAt < PROGRESS_EVERY)) return;
    progress.reportedAt = progress.bytes;
    opts.onProgress({ table, tablesDone: progress.tablesDone, tablesTotal: plan.tables.length, bytes: progress.bytes, rows: progress.rows });
  };

  async function* produce(): AsyncGenerator<Buffer> {
    const copies: { name: string; stream: { rowCount: number }; bytes: number; sum: RowChecksum }[] = [];
    let failure: Error | undefined;
    try {
      const head = Buffer.from(scriptHead(manifest), "utf8");
      progress.bytes += head.length;
      yield head;
      yield* scriptBody({ client, plan, tenantLiteral, highWaterMark, progress, report, copies, setCurrent: (c) => (current = c) });
      await client.query("COMMIT");
      // every COPY's CommandComplete has been handled before COMMIT's answer: the counts are final
      const rows: Record<string, number> = {};
      for (const c of copies) rows[c.name] = c.stream.rowCount;
      const tail = Buffer.from(scriptTail(rows), "utf8");
      progress.bytes += tail.length;
      progress.rows = copies.reduce((n, c) => n + c.stream.rowCount, 0);
      yield tail;
      finished = true;
      conn.release();
      report("", true);
      resolveDone({
        tenantId: opts.tenantId,
        backupId: opts.backupId,
        createdAt: manifest.createdAt,
        schemaFingerprint: plan.fingerprint,
        tables: copies.map((c) => ({ name: c.name, rows: c.stream.rowCount, bytes: c.bytes, checksum: c.sum.digest() })),
        rows: progress.rows,
        bytes: progress.bytes,
        durationMs: Math.round(performance.now() - started),
        source,
      });
    } catch (err) {
      // a connection lost between two queries (a standby's recovery conflict is FATAL 40001) fails the next
      // query with "not queryable": the connection's own error says why, and whether to retry
      failure = abortError ?? wrapFailure(isHesaabError(err) ? err : (conn.lost() ?? err), { tenantId: opts.tenantId, backupId: opts.backupId });
      throw failure;
    } finally {
      if (!finished) {
        failure ??=
          abortError ??
          tenantDataError({ code: "export_aborted", message: "the export stream was closed before its end", context: { tenantId: opts.tenantId } });
        current?.destroy();
        conn.release(failure);
        rejectDone(failure);
        opts.signal?.removeEventListener("abort", onAbort);
      }
    }
  }

  let abortError: Error | undefined;
  const stream = Readable.from(produce(), { objectMode: false, highWaterMark });
  const onAbort = () => {
    abortError = tenantDataError({
      code: "export_aborted",
      message: "tenant export aborted",
      context: { tenantId: opts.tenantId },
      cause: opts.signal?.reason,
    });
    current?.destroy(abortError);
    stream.destroy(abortError);
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  // Readable.from ends the generator only at its next yield; a COPY waiting for the server is
  // destroyed right away instead, so abandoning the stream never waits on the connection.
  const destroyStream = stream._destroy.bind(stream);
  stream._destroy = (err, cb) => {
    if (!finished) {
      abortError ??= tenantDataError({
        code: "export_aborted",
        message: "the export stream was closed before its end",
        context: { tenantId: opts.tenantId },
        cause: err ?? undefined,
      });
      current?.destroy();
    }
    destroyStream(err, cb);
  };
  void done.then(
    () => opts.signal?.removeEventListener("abort", onAbort),
    () => undefined,
  );
  return { stream, manifest, plan, done };
}

/** The script's body: each table's COPY line, its rows as the server streams them, and its end-of-copy line. */
async function* scriptBody({
  client,
  plan,
  tenantLiteral,
  highWaterMark,
  progress,
  report,
  copies,
  setCurrent,
}: {
  client: pg.ClientBase;
  plan: TenantPlan;
  tenantLiteral: string;
  highWaterMark: number;
  progress: { bytes: number; rows: number; reportedAt: number; tablesDone: number };
  report: (table: string, force: boolean) => void;
  copies: { name: string; stream: { rowCount: number }; bytes: number; sum: RowChecksum }[];
  setCurrent: (copy: Readable | null) => void;
}): AsyncGenerator<Buffer> {
  for (const table of plan.tables) {
    const line = Buffer.from(`${copyFromStdinLine(table)}\n`, "utf8");
    progress.bytes += line.length;
    yield line;
    const copy = client.query(copyTo(`COPY (${selectSql({ plan, table, tenant: tenantLiteral })}) TO STDOUT`, { highWaterMark }));
    // an error after its rows ended (the connection lost later) belongs to the next query, not the process
    copy.on("error", () => {});
    setCurrent(copy);
    let bytes = 0;
    const sum = new RowChecksum();
    for await (const chunk of copy as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      sum.push(chunk);
      progress.bytes += chunk.length;
      report(table.name, false);
      yield chunk;
    }
    setCurrent(null);
    copies.push({ name: table.name, stream: copy, bytes, sum });
    // the previous COPY has surely completed (and counted its rows) once the next one streams
    progress.rows = copies.slice(0, -1).reduce((n, c) => n + c.stream.rowCount, 0);
    progress.tablesDone++;
    const end = Buffer.from(`${END_OF_COPY}\n`, "utf8");
    progress.bytes += end.length;
    yield end;
  }
}
