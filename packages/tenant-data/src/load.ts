/**
 * Load: a tenant script back into the database, in ONE transaction, all or nothing.
 *
 *  [1] read the script up to its manifest; the manifest's tenant (and backup, when expected) must
 *      be the ones asked for: otherwise refused before the database is touched;
 *  [2] map every table of the manifest onto the current plan by column name (./drift): missing
 *      tables, dropped columns and narrowed types are refused here, still before any change;
 *  [3] BEGIN; SET CONSTRAINTS ALL DEFERRED; take the tenant's restore lock (advisory, per tenant);
 *      replace: foreign-key triggers off for this transaction and integrity checked set-based
 *      (./replace-integrity: kept rows referencing the tenant's refused here), or, when the role may
 *      not, row by row as PostgreSQL does with a warning naming the slow keys; then delete the
 *      tenant's rows in delete order (children first, root row last);
 *      into-empty: make sure the tenant is not there;
 *  [4] each COPY block → `COPY <table> (<columns>) FROM STDIN`: bytes pass through untouched when
 *      the columns are those of the table (added columns simply are not listed and take their
 *      defaults); with allowDroppedColumns, dropped fields are cut out of every line;
 *  [5] the trailer `-- rows:` must be there (else the script was truncated) and equal each COPY's
 *      own row count;
 *  [5b] replace with triggers off: every foreign key of the loaded rows finds its parent;
 *  [6] identity/serial sequences of the loaded tables move up to at least the largest loaded id;
 *  [7] COMMIT. Any error before → ROLLBACK: the tenant is exactly as it was. A connection lost or a
 *      process killed midway is the same: PostgreSQL never commits half a transaction.
 *
 * setval (step [6]) is not transactional: after a rollback a sequence may stay moved forward, which
 * only skips ids.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { isHesaabError } from "@hesaab/config";
import { type PgSource, asError, lease } from "./connection";
import { type DiscoverOptions, discoverTenantPlan } from "./discover";
import { type TableMapping, mapScript, stripColumns } from "./drift";
import { TenantDataError, isRetryableSqlState, sqlState, tenantDataError } from "./errors";
import { type TenantPlan, aggregateSql, deleteSql } from "./tenant-plan";
import { ScriptReader, type ScriptEvent } from "./script-reader";
import { DEAD_CLIENT_CHECK } from "./export";
import {
  type PlanForeignKey,
  checkKeptReferences,
  checkLoadedReferences,
  disableForeignKeyTriggers,
  planForeignKeys,
  rowByRowWarning,
} from "./replace-integrity";
import type { ScriptManifest } from "./script";

export type LoadMode = "replace" | "into-empty";

export interface LoadProgress {
  phase: "delete" | "load" | "finish";
  table: string;
  tablesDone: number;
  tablesTotal: number;
  /** Script bytes read so far. */
  bytes: number;
  /** Rows loaded so far (of finished tables). */
  rows: number;
}

export interface LoadTableSummary {
  name: string;
  rows: number;
  /** Rows of the tenant deleted from this table first (replace mode). */
  deleted: number;
  fastPath: boolean;
  droppedColumns: string[];
  addedColumns: string[];
}

export interface LoadSummary {
  tenantId: string;
  backupId: string;
  mode: LoadMode;
  schemaFingerprint: { backup: string; current: string };
  tables: LoadTableSummary[];
  /** Tables of the current plan the backup did not have: emptied of the tenant's rows (replace mode). */
  tablesNotInBackup: string[];
  rows: number;
  deleted: number;
  bytes: number;
  sequencesMoved: string[];
  /** How foreign keys were checked: set-based (triggers off, anti-joins) or row by row (PostgreSQL's triggers). */
  foreignKeyChecks: ForeignKeyChecks;
  /** Things the operator should know (e.g. why a replace fell back to row-by-row checks). */
  warnings: string[];
  durationMs: number;
}

export type ForeignKeyChecks = "set-based" | "row-by-row";

export type LoadOptions = PgSource & {
  tenantId: string;
  /** The plaintext script (UTF-8), e.g. the end of download → decrypt → gunzip. */
  script: Readable | AsyncIterable<Buffer | string> | Iterable<Buffer | string>;
  mode: LoadMode;
  /** The current plan; discovered (with `discover`) when absent. */
  plan?: TenantPlan | undefined;
  discover?: DiscoverOptions | undefined;
  /** Load a backup whose columns have since been dropped, leaving their values out. Default false. */
  allowDroppedColumns?: boolean | undefined;
  /** What the manifest must say: refused with restore_wrong_tenant / restore_wrong_backup otherwise. */
  expect?: { tenantId?: string; backupId?: string } | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: (progress: LoadProgress) => void;
  /**
   * Replace mode: "set-based" (default) when the role may `SET session_replication_role`, falling
   * back to "row-by-row" with a warning; "row-by-row" forces PostgreSQL's own per-row checks.
   */
  foreignKeyChecks?: ForeignKeyChecks | undefined;
  /** Called with each warning as it arises (they are in the summary too). */
  onWarning?: (warning: string) => void;
};

const RESTORE_LOCK = "hesaab.tenant-restore:";
const PROGRESS_EVERY = 8 * 1024 * 1024;

/** Pass `data` through, calling `report` every `every` bytes. */
async function* reportBytes(o: { data: AsyncIterable<Buffer>; every: number; report: () => void }): AsyncGenerator<Buffer> {
  let since = 0;
  for await (const chunk of o.data) {
    since += chunk.length;
    if (since >= o.every) {
      since = 0;
      o.report();
    }
    yield chunk;
  }
}

function failed(err: unknown, context: Record<string, unknown>): Error {
  if (isHesaabError(err)) return err;
  const state = sqlState(err);
  return new TenantDataError({
    code: "restore_failed",
    message: `tenant restore failed: ${asError(err).message}`,
    retryable: isRetryableSqlState(state),
    cause: err,
    context: { ...context, sqlState: state },
  });
}

/** [1] Events up to and including the manifest. */
async function readManifest(events: AsyncGenerator<ScriptEvent>): Promise<ScriptManifest> {
  for (;;) {
    const { value, done } = await events.next();
    if (done) throw tenantDataError({ code: "restore_truncated", message: "the script ends before its manifest", hint: "The artifact is empty or damaged" });
    if (value.kind === "manifest") return value.manifest;
    throw tenantDataError({ code: "restore_bad_script", message: `the script has a ${value.kind} before its manifest` });
  }
}

function checkIdentity(manifest: ScriptManifest, opts: LoadOptions): void {
  const wanted = [opts.tenantId, opts.expect?.tenantId].filter((t): t is string => t !== undefined);
  for (const t of wanted) {
    if (manifest.tenantId !== t) {
      throw tenantDataError({
        code: "restore_wrong_tenant",
        message: `the script is tenant ${manifest.tenantId}'s, not tenant ${t}'s`,
        hint: "A backup can only be restored into the tenant it was taken from",
        context: { scriptTenantId: manifest.tenantId, tenantId: t },
      });
    }
  }
  if (opts.expect?.backupId !== undefined && manifest.backupId !== opts.expect.backupId) {
    throw tenantDataError({
      code: "restore_wrong_backup",
      message: `the script is backup ${manifest.backupId}, not ${opts.expect.backupId}`,
      context: { scriptBackupId: manifest.backupId, backupId: opts.expect.backupId },
    });
  }
}

/** Move each sequence of the loaded tables to at least the largest id the tenant now has. */
async function moveSequences(o: { client: pg.ClientBase; plan: TenantPlan; tables: TableMapping[]; tenantId: string }): Promise<string[]> {
  const moved: string[] = [];
  for (const m of o.tables) {
    for (const s of m.target.sequences) {
      const column = m.target.columns.find((c) => c.name === s.column);
      if (!column) continue;
      const max = aggregateSql({ plan: o.plan, table: m.target, tenant: "$1", expression: `max($self.${column.sql})` });
      const { rows } = await o.client.query<{ setval: string }>(
        `SELECT pg_catalog.setval($2::regclass, m.v) FROM (${max}) AS m(v), ${s.sequence} AS s
         WHERE m.v IS NOT NULL AND (m.v > s.last_value OR (m.v = s.last_value AND NOT s.is_called))`,
        [o.tenantId, s.sequence],
      );
      if (rows.length > 0) moved.push(s.sequence);
    }
  }
  return moved;
}

/**
 * Load a tenant script. `replace` deletes the tenant's current rows first; `into-empty` loads into a
 * database without this tenant (a copy in another database). Resolves after COMMIT.
 */
export async function loadTenantScript(opts: LoadOptions): Promise<LoadSummary> {
  const started = performance.now();
  const reader = new ScriptReader(opts.script);
  const events = reader.events();
  const destroyScript = (err?: Error) => {
    if (opts.script instanceof Readable) opts.script.destroy(err);
  };
  let manifest: ScriptManifest;
  try {
    manifest = await readManifest(events);
    checkIdentity(manifest, opts);
  } catch (err) {
    destroyScript();
    throw err;
  }

  const conn = await lease(opts);
  const { client } = conn;
  let inTransaction = false;
  let active: { destroy(err?: Error): unknown } | null = null;
  let abortError: Error | undefined;
  const onAbort = () => {
    abortError = tenantDataError({
      code: "restore_aborted",
      message: "tenant restore aborted",
      context: { tenantId: opts.tenantId },
      cause: opts.signal?.reason,
    });
    active?.destroy(abortError);
  };
  const checkAbort = () => {
    if (abortError) throw abortError;
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();

  try {
    checkAbort();
    const plan = opts.plan ?? (await discoverTenantPlan({ tenantColumn: manifest.tenantColumn, ...opts.discover, client }));
    const mappings = mapScript({ manifest, plan, allowDroppedColumns: opts.allowDroppedColumns });
    const tablesTotal = manifest.tables.length;
    const progress = (p: Omit<LoadProgress, "bytes" | "tablesTotal">) => opts.onProgress?.({ ...p, bytes: reader.bytes, tablesTotal });

    // [3]
    await client.query("BEGIN");
    inTransaction = true;
    await client.query(`SET LOCAL client_encoding = 'UTF8'; SET LOCAL standard_conforming_strings = on; ${DEAD_CLIENT_CHECK}; SET CONSTRAINTS ALL DEFERRED`);
    await client.query("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended($1, 0))", [RESTORE_LOCK + opts.tenantId]);
    const warnings: string[] = [];
    const integrity = await chooseIntegrity({ client, plan, opts, warn: (w) => (warnings.push(w), opts.onWarning?.(w)) });
    if (integrity.keys) await checkKeptReferences({ client, plan, keys: integrity.keys, tenantId: opts.tenantId });
    const deleted = await clearTarget({ client, plan, opts, checkAbort, progress });

    // [4]
    const { loaded, trailer, loadedRows } = await loadCopies({
      client,
      events,
      manifest,
      mappings,
      opts,
      checkAbort,
      progress,
      setActive: (a) => (active = a),
      abortError: () => abortError,
    });

    // [5]
    checkCounts({ manifest, mappings, trailer, loaded });
    checkAbort();
    if (integrity.keys) await checkLoadedReferences({ client, plan, keys: integrity.keys, tenantId: opts.tenantId, loaded });

    // [6] [7]
    checkAbort();
    progress({ phase: "finish", table: "", tablesDone: loaded.size, rows: loadedRows });
    const sequencesMoved = await moveSequences({ client, plan, tables: [...mappings.values()], tenantId: opts.tenantId });
    checkAbort();
    await client.query("COMMIT");
    inTransaction = false;
    conn.release();
    const inBackup = new Set(manifest.tables.map((t) => t.name));
    return {
      tenantId: opts.tenantId,
      backupId: manifest.backupId,
      mode: opts.mode,
      schemaFingerprint: { backup: manifest.schemaFingerprint, current: plan.fingerprint },
      tables: manifest.tables.map((t) => {
        const m = mappings.get(t.name)!;
        return {
          name: t.name,
          rows: loaded.get(t.name) ?? 0,
          deleted: deleted.get(t.name) ?? 0,
          fastPath: m.fastPath,
          droppedColumns: m.dropped,
          addedColumns: m.added,
        };
      }),
      tablesNotInBackup: plan.tables.filter((t) => !inBackup.has(t.name)).map((t) => t.name),
      rows: loadedRows,
      deleted: [...deleted.values()].reduce((a, b) => a + b, 0),
      bytes: reader.bytes,
      sequencesMoved,
      foreignKeyChecks: integrity.keys ? "set-based" : "row-by-row",
      warnings,
      durationMs: Math.round(performance.now() - started),
    };
  } catch (err) {
    const failure = failed(abortError ?? err, { tenantId: opts.tenantId, backupId: manifest.backupId });
    destroyScript();
    await events.return(undefined).catch(() => undefined);
    if (inTransaction) {
      await client.query("ROLLBACK").then(
        () => conn.release(),
        (e: unknown) => conn.release(asError(e)),
      );
    } else {
      conn.release();
    }
    throw failure;
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * [3] Replace mode: turns the foreign-key triggers off and returns the keys to check set-based, or
 * (role without the privilege, or asked) leaves them on with a warning naming the unindexed keys and
 * the tenant's rows behind them. Into-empty loads keep PostgreSQL's checks (no deletes to speed up).
 */
async function chooseIntegrity(o: {
  client: pg.ClientBase;
  plan: TenantPlan;
  opts: LoadOptions;
  warn: (warning: string) => void;
}): Promise<{ keys: PlanForeignKey[] | null }> {
  if (o.opts.mode !== "replace") return { keys: null };
  if (o.opts.foreignKeyChecks !== "row-by-row") {
    if (await disableForeignKeyTriggers(o.client)) return { keys: await planForeignKeys(o.client, o.plan) };
    const rows = new Map<string, number>();
    for (const name of new Set(o.plan.unindexedForeignKeys.flatMap((f) => [f.table, f.references]))) {
      const table = o.plan.tables.find((t) => t.name === name);
      if (!table) continue;
      const { rows: r } = await o.client.query<{ n: string }>(aggregateSql({ plan: o.plan, table, tenant: "$1", expression: "count(*) AS n" }), [
        o.opts.tenantId,
      ]);
      rows.set(name, Number(r[0]!.n));
    }
    o.warn(rowByRowWarning(o.plan, rows));
  }
  return { keys: null };
}

/** [3] In `replace` mode, deletes the tenant's current rows (children first); in `into-empty` mode, checks the tenant is absent. */
async function clearTarget({
  client,
  plan,
  opts,
  checkAbort,
  progress,
}: {
  client: pg.ClientBase;
  plan: TenantPlan;
  opts: LoadOptions;
  checkAbort: () => void;
  progress: (p: Omit<LoadProgress, "bytes" | "tablesTotal">) => void;
}): Promise<Map<string, number>> {
  const deleted = new Map<string, number>();
  if (opts.mode === "replace") {
    for (const name of plan.deleteOrder) {
      checkAbort();
      const table = plan.tables.find((t) => t.name === name)!;
      progress({ phase: "delete", table: name, tablesDone: 0, rows: 0 });
      const result = await client.query(deleteSql({ plan, table, tenant: "$1" }), [opts.tenantId]);
      deleted.set(name, result.rowCount ?? 0);
    }
  } else {
    const { rows } = await client.query(`SELECT 1 FROM ${plan.root.sql} WHERE ${plan.root.keySql} = $1`, [opts.tenantId]);
    if (rows.length > 0) {
      throw tenantDataError({
        code: "restore_target_not_empty",
        message: `tenant ${opts.tenantId} already exists in the target database`,
        hint: "Load into a database without this tenant, or use replace mode",
        context: { tenantId: opts.tenantId },
      });
    }
  }
  return deleted;
}

/** [4] Streams each table's COPY into it, checking it against the manifest; the row counts at the end are returned, not checked. */
async function loadCopies({
  client,
  events,
  manifest,
  mappings,
  opts,
  checkAbort,
  progress,
  setActive,
  abortError,
}: {
  client: pg.ClientBase;
  events: AsyncGenerator<ScriptEvent>;
  manifest: ScriptManifest;
  mappings: Map<string, TableMapping>;
  opts: LoadOptions;
  checkAbort: () => void;
  progress: (p: Omit<LoadProgress, "bytes" | "tablesTotal">) => void;
  setActive: (stream: { destroy(err?: Error): unknown } | null) => void;
  abortError: () => Error | undefined;
}): Promise<{ loaded: Map<string, number>; trailer: Record<string, number> | null; loadedRows: number }> {
  const loaded = new Map<string, number>();
  let trailer: Record<string, number> | null = null;
  let loadedRows = 0;
  for (;;) {
    checkAbort();
    const { value: event, done } = await events.next();
    if (done) break;
    if (trailer) throw tenantDataError({ code: "restore_bad_script", message: "the script goes on after its row counts" });
    if (event.kind === "rows") {
      trailer = event.rows;
      continue;
    }
    if (event.kind !== "copy") continue;
    const { header } = event;
    const mapping = mappings.get(header.table);
    if (!mapping)
      throw tenantDataError({
        code: "restore_bad_script",
        message: `the script loads ${header.table}, which its manifest does not list`,
        context: { table: header.table },
      });
    if (loaded.has(header.table))
      throw tenantDataError({ code: "restore_bad_script", message: `the script loads ${header.table} twice`, context: { table: header.table } });
    const listed = manifest.tables.find((t) => t.name === header.table)!.columns;
    if (listed.join("\u0000") !== header.columns.join("\u0000")) {
      throw tenantDataError({
        code: "restore_bad_script",
        message: `the COPY columns of ${header.table} differ from its manifest`,
        context: { table: header.table },
      });
    }
    progress({ phase: "load", table: header.table, tablesDone: loaded.size, rows: loadedRows });
    const ingest = client.query(copyFrom(`COPY ${mapping.target.sql} (${mapping.columns.join(", ")}) FROM STDIN`));
    setActive(ingest);
    const counted = reportBytes({
      data: event.data,
      every: PROGRESS_EVERY,
      report: () => progress({ phase: "load", table: header.table, tablesDone: loaded.size, rows: loadedRows }),
    });
    const data = mapping.fastPath ? counted : stripColumns(counted, mapping.keep);
    try {
      await pipeline(data, ingest);
    } catch (err) {
      throw failed(abortError() ?? err, { tenantId: opts.tenantId, table: header.table });
    } finally {
      setActive(null);
    }
    loaded.set(header.table, ingest.rowCount);
    loadedRows += ingest.rowCount;
  }
  return { loaded, trailer, loadedRows };
}

/** [5] The script's row counts must match what was loaded, table by table. */
function checkCounts({
  manifest,
  mappings,
  trailer,
  loaded,
}: {
  manifest: ScriptManifest;
  mappings: Map<string, TableMapping>;
  trailer: Record<string, number> | null;
  loaded: Map<string, number>;
}): void {
  if (!trailer) {
    throw tenantDataError({
      code: "restore_truncated",
      message: "the script has no row counts at its end (truncated)",
      hint: "The artifact is incomplete: use another copy or another backup",
    });
  }
  const mismatches: { table: string; expected: number | null; loaded: number | null }[] = [];
  for (const t of manifest.tables) {
    const expected = trailer[t.name];
    const got = loaded.get(t.name);
    if (expected === undefined || got === undefined || expected !== got) mismatches.push({ table: t.name, expected: expected ?? null, loaded: got ?? null });
  }
  for (const name of Object.keys(trailer)) if (!mappings.has(name)) mismatches.push({ table: name, expected: trailer[name]!, loaded: null });
  if (mismatches.length > 0) {
    throw tenantDataError({
      code: "restore_count_mismatch",
      message: `row counts differ from the script's for ${mismatches.map((m) => `${m.table} (expected ${m.expected ?? "none"}, loaded ${m.loaded ?? "none"})`).join(", ")}`,
      hint: "The artifact is damaged: nothing was changed",
      context: { mismatches },
    });
  }
}
