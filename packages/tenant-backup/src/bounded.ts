/**
 * Large tenants: the design document's "fallback to smaller batch sizes". A tenant backup reads one
 * snapshot for the whole tenant; for a tenant large enough, that snapshot outlives what the database
 * allows (statement_timeout, idle_in_transaction_session_timeout, old_snapshot_threshold, a standby's
 * max_standby_streaming_delay) or what memory allows. Such a failure is taken again in the bounded
 * mode (tenant-data `exportTenantBounded`: per-table, keyset-paged short transactions), which gives up
 * the single snapshot and says so in the record and the manifest. See docs/operations.md.
 *
 * Which failures: {@link sizeOrTimeFailure}. Which tenants start bounded: {@link startsBounded}.
 */
import type { BoundedConsistency, ExportSummary } from "@hesaab/tenant-data";
import type { TenantBackupDeps } from "./tenant-backup-deps";

/** What the bounded mode needs to know; all optional (from `BACKUP_BOUNDED_*`). */
export interface BoundedSettings {
  /** Tenants always backed up bounded (`BACKUP_BOUNDED_TENANTS`). */
  tenants?: ReadonlySet<string> | undefined;
  /** A tenant whose last good backup had more plaintext bytes than this starts bounded (`BACKUP_BOUNDED_BYTES`; 0: never by size). */
  bytes?: number | undefined;
  /** Rows per keyset page (`BACKUP_BOUNDED_PAGE_ROWS`). */
  pageRows?: number | undefined;
}

/** Why a backup runs bounded: recorded in its metadata. */
export type BoundedReason = "forced" | "size" | `failure:${string}`;

/** SQLSTATEs that say the snapshot lived too long or the tenant was too big for it. */
const SIZE_OR_TIME_STATES: Record<string, string> = {
  "57014": "statement_timeout", // query_canceled: statement_timeout (or a DBA's cancel of a long read)
  "25P03": "idle_in_transaction_timeout",
  "25P04": "transaction_timeout", // PostgreSQL 17+
  "72000": "snapshot_too_old",
  "53200": "out_of_memory",
};

type Chained = { code?: unknown; context?: { sqlState?: unknown }; cause?: unknown; message?: unknown; name?: unknown } | undefined;

/** The SQLSTATE of an error or of any error it wraps. */
export function sqlStateIn(err: unknown): string | undefined {
  for (let e = err as Chained, depth = 0; e && depth < 8; depth++) {
    if (typeof e.context?.sqlState === "string") return e.context.sqlState;
    if (typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
    e = e.cause as Chained;
  }
  return undefined;
}

/** Node's own memory failures (a buffer or string that could not be allocated), anywhere in the chain. */
function outOfMemory(err: unknown): boolean {
  for (let e = err as Chained, depth = 0; e && depth < 8; depth++) {
    if (e.code === "export_tenant_too_large") return true; // our own size guard (batch export)
    if (e.name === "RangeError" && typeof e.message === "string" && /allocation failed|Invalid (string|array|typed array) length/i.test(e.message)) return true;
    e = e.cause as Chained;
  }
  return false;
}

/**
 * Why `err` is a failure of size or time (the name recorded as the bounded run's reason), or
 * undefined when it is not: a missing tenant, a provider down, a bug are not cured by smaller reads.
 * SQLSTATE 40001 counts only when read from a standby (replay cancelled the long snapshot).
 */
export function sizeOrTimeFailure(err: unknown, o: { fromStandby: boolean }): string | undefined {
  if (outOfMemory(err)) return "out_of_memory";
  const state = sqlStateIn(err);
  if (state === undefined) return undefined;
  if (state === "40001") return o.fromStandby ? "standby_recovery_conflict" : undefined;
  return SIZE_OR_TIME_STATES[state];
}

/** Whether a tenant's backup starts bounded: named in the settings, or its last good backup was larger than the threshold. */
export async function startsBounded(deps: Pick<TenantBackupDeps, "catalog" | "bounded">, tenantId: string): Promise<BoundedReason | undefined> {
  const settings = deps.bounded;
  if (settings?.tenants?.has(tenantId)) return "forced";
  if (!settings?.bytes) return undefined;
  return (await largerThan(deps, [tenantId], settings.bytes)).has(tenantId) ? "size" : undefined;
}

/** Tenants whose last good backup had more plaintext than `bytes`. */
export async function largerThan(deps: Pick<TenantBackupDeps, "catalog">, tenantIds: string[], bytes: number): Promise<Set<string>> {
  const { rows } = await deps.catalog.pool.query<{ tenant_id: string }>(
    `select tenant_id from (
       select distinct on (tenant_id) tenant_id, (metadata->>'plaintextBytes')::bigint as bytes
       from backup.backup_records
       where backup_type = 'tenant' and tenant_id = any($1::text[]) and status in ('completed', 'degraded')
       order by tenant_id, created_at desc
     ) last where bytes > $2`,
    [tenantIds, bytes],
  );
  return new Set(rows.map((r) => r.tenant_id));
}

/** The record metadata of a bounded backup: the mode and when each table was read. Empty for a snapshot backup. */
export function boundedMetadata(summary: Pick<ExportSummary, "consistency">): Record<string, unknown> {
  const c: BoundedConsistency | undefined = summary.consistency;
  if (!c) return {};
  // the reason is in the record since it started (a failed bounded run says so too)
  return { mode: "bounded", pageRows: c.pageRows, tableSnapshots: c.tables };
}

/**
 * The same, as the manifest's flat values. The manifest travels as object metadata (under 2 KB, most
 * of it the table checksums): not every table's times, only how far apart the first and the last
 * snapshot were (the record holds each table's).
 */
export function boundedManifest(summary: Pick<ExportSummary, "consistency"> | undefined): Record<string, string | number> {
  const c = summary?.consistency;
  if (!c) return {};
  const times = Object.values(c.tables).flatMap((t) => [Date.parse(t.from), Date.parse(t.to)]);
  return { mode: "bounded", snapshotSpanMs: times.length > 0 ? Math.max(...times) - Math.min(...times) : 0 };
}
