/**
 * A tenant drill proves that a backup restores into the rows that were backed up:
 *
 *  [1] the backup: the one asked for, or the tenant's latest restorable one;
 *  [2] a scratch database (created, or DRILL_DATABASE_URL) with the platform's table definitions;
 *  [3] the NORMAL restore path into it (`restoreTenants` with `targetDb`, global rows copied):
 *      the artifact is verified first (size, SHA-256 against the record, authenticated decryption
 *      under this tenant's key, row counts against the script's own trailer), falling back to the
 *      other provider when one copy is bad;
 *  [4] per-table checksums and row counts of the restored rows (tenant-data `tenantTableChecksums`,
 *      the same COPY text and hash the export used), compared with the backup record's;
 *  [5] an attested drill record (match, mismatch or failed), and an alert unless it matched;
 *  [6] the scratch database dropped, however the drill ended.
 *
 * An object replaced by another tenant's valid artifact fails at [3] (its SHA-256 is not the
 * record's, and its key and header name another tenant); a record whose manifest (counts or
 * checksums) was edited fails at [4].
 */
import pg from "pg";
import { describeError } from "@hesaab/config";
import { newId, type ProviderName } from "@hesaab/contracts";
import { getBackupRecord, latestRestorableBackup, raiseAlert, type BackupRecord } from "@hesaab/db";
import { restoreTenants, tenantPlan } from "@hesaab/tenant-backup";
import { tenantTableChecksums, type TableChecksum } from "@hesaab/tenant-data";
import { signDrill, signingKeyVersion } from "./attest";
import type { DrillDeps } from "./drill-deps";
import { DrillError } from "./errors";
import { insertDrillRecord, type DrillRow } from "./records";
import { copySchema, openScratchDatabase } from "./scratch";

export type DrillOutcome = "match" | "mismatch" | "failed";

export interface TableComparison {
  expectedRows: number | null;
  rows: number | null;
  expectedChecksum: string | null;
  checksum: string | null;
  match: boolean;
}

export interface DrillResult {
  drillId: string;
  kind: "tenant" | "disaster";
  backupId: string;
  tenantId: string | null;
  outcome: DrillOutcome;
  providerUsed: string | null;
  durations: Record<string, number>;
  tables: Record<string, TableComparison>;
  error: { code: string; message: string } | null;
  alertId?: string | undefined;
}

/** Compares restored tables with the record's counts and checksums (a record without checksums: counts only). */
export function compareTables(o: {
  expectedRows: Record<string, number>;
  expectedChecksums: Record<string, string> | undefined;
  actual: Record<string, TableChecksum>;
}): Record<string, TableComparison> {
  const out: Record<string, TableComparison> = {};
  for (const name of new Set([...Object.keys(o.expectedRows), ...Object.keys(o.actual)])) {
    const expectedRows = o.expectedRows[name] ?? null;
    const actual = o.actual[name];
    const expectedChecksum = o.expectedChecksums ? (o.expectedChecksums[name] ?? null) : null;
    const rowsMatch = actual !== undefined && (expectedRows ?? 0) === actual.rows && (expectedRows !== null || actual.rows === 0);
    const checksumMatch = !o.expectedChecksums || (actual !== undefined && expectedChecksum === actual.checksum);
    out[name] = { expectedRows, rows: actual?.rows ?? null, expectedChecksum, checksum: actual?.checksum ?? null, match: rowsMatch && checksumMatch };
  }
  return out;
}

const asRecord = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

function expectedOf(record: BackupRecord): { rows: Record<string, number>; checksums: Record<string, string> | undefined } {
  const rows = Object.fromEntries(Object.entries(asRecord(record.metadata.tables) ?? {}).map(([k, v]) => [k, Number(v)]));
  const raw = asRecord(record.metadata.checksums);
  const checksums = raw ? Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)])) : undefined;
  return { rows, checksums };
}

async function pickBackup(deps: DrillDeps, o: { tenantId?: string | undefined; backupId?: string | undefined }): Promise<BackupRecord> {
  const db = deps.tenantBackup.catalog.db;
  const record = o.backupId ? await getBackupRecord(db, o.backupId) : o.tenantId ? await latestRestorableBackup(db, { tenantId: o.tenantId }) : undefined;
  if (!record || record.backupType !== "tenant" || !record.tenantId || (o.tenantId && record.tenantId !== o.tenantId)) {
    throw new DrillError({
      code: "drill_no_backup",
      message: o.backupId ? `no tenant backup ${o.backupId}` : `tenant ${o.tenantId ?? "?"} has no restorable backup to drill`,
      hint: "List backups with: hesaab backup list",
      context: { tenantId: o.tenantId, backupId: o.backupId },
    });
  }
  return record;
}

/** Signs and stores a drill result, and raises an alert when it did not match. */
export async function attestDrill(deps: DrillDeps, o: { result: Omit<DrillResult, "alertId">; startedAt: Date; finishedAt: Date }): Promise<DrillResult> {
  const { result } = o;
  const keyVersion = signingKeyVersion(deps.drMasterKeys);
  const fields = {
    id: result.drillId,
    kind: result.kind,
    backupId: result.backupId,
    tenantId: result.tenantId,
    outcome: result.outcome,
    providerUsed: result.providerUsed,
    startedAt: o.startedAt,
    finishedAt: o.finishedAt,
    durations: result.durations,
    tables: result.tables as unknown as Record<string, Record<string, unknown>>,
    error: result.error,
    restoredByVersion: deps.version,
    restoredByCommit: deps.gitCommit,
    keyVersion,
  };
  const row: DrillRow = { ...fields, signature: signDrill(deps.drMasterKeys, fields) };
  await insertDrillRecord(deps.tenantBackup.catalog.db, row);
  if (result.outcome === "match") return result;
  const what = result.kind === "tenant" ? `tenant ${result.tenantId}'s backup ${result.backupId}` : `disaster backup ${result.backupId}`;
  const mismatched = Object.entries(result.tables)
    .filter(([, t]) => !t.match)
    .map(([name]) => name);
  const alertId = await raiseAlert(
    { catalog: deps.tenantBackup.catalog, publish: deps.tenantBackup.publish },
    {
      severity: "critical",
      code: "restore_drill_failed",
      message:
        result.outcome === "failed"
          ? `restore drill of ${what} failed: ${result.error?.message ?? "unknown error"}`
          : `restore drill of ${what} restored rows that differ from its manifest (${mismatched.slice(0, 5).join(", ")}${mismatched.length > 5 ? ", …" : ""})`,
      context: {
        drillId: result.drillId,
        kind: result.kind,
        backupId: result.backupId,
        tenantId: result.tenantId,
        outcome: result.outcome,
        tables: mismatched,
      },
      key: `drill:${result.drillId}`,
    },
  );
  return { ...result, alertId };
}

/** Drills one tenant backup (see the top of this file). Resolves with the attested result, also when the drill failed. */
export async function drillTenant(
  deps: DrillDeps,
  o: { tenantId?: string | undefined; backupId?: string | undefined; provider?: ProviderName | undefined; signal?: AbortSignal | undefined },
): Promise<DrillResult> {
  const now = deps.now ?? (() => new Date());
  const startedAt = now();
  const t0 = performance.now();
  const record = await pickBackup(deps, o);
  const tenantId = record.tenantId!;
  const drillId = newId("drl");
  const durations: Record<string, number> = {};
  let tables: Record<string, TableComparison> = {};
  let providerUsed: string | null = null;
  let error: DrillResult["error"] = null;
  try {
    await using scratch = await openScratchDatabase({ serverUrl: deps.platformUrl, configuredUrl: deps.scratchUrl });
    const plan = await tenantPlan(deps.tenantBackup);
    if (scratch.created) await copySchema({ sourceUrl: deps.platformUrl, targetUrl: scratch.url, schemas: plan.schemas });
    const restoreStarted = performance.now();
    const report = await restoreTenants(deps.tenantBackup, {
      backupId: record.id,
      provider: o.provider ?? "b2",
      targetDb: scratch.url,
      withDependencies: true,
      requestedBy: "system:drill",
      signal: o.signal,
    });
    durations.restoreMs = Math.round(performance.now() - restoreStarted);
    const outcome = report.tenants[0];
    providerUsed = outcome?.providerUsed ?? null;
    if (!outcome?.ok) {
      error = { code: outcome?.error?.code ?? "restore_failed", message: outcome?.error?.message ?? "the restore failed" };
    } else {
      const checkStarted = performance.now();
      const client = new pg.Client({ connectionString: scratch.url });
      await client.connect();
      try {
        const actual = await tenantTableChecksums({ client, plan, tenantId });
        const expected = expectedOf(record);
        tables = compareTables({ expectedRows: expected.rows, expectedChecksums: expected.checksums, actual });
      } finally {
        await client.end().catch(() => undefined);
      }
      durations.checkMs = Math.round(performance.now() - checkStarted);
    }
  } catch (err) {
    const d = describeError(err, { unknownCode: "drill_failed" });
    error = { code: d.code, message: d.message };
  }
  durations.totalMs = Math.round(performance.now() - t0);
  const matched = error === null && Object.values(tables).every((t) => t.match) && Object.keys(tables).length > 0;
  const outcome: DrillOutcome = error ? "failed" : matched ? "match" : "mismatch";
  return attestDrill(deps, {
    result: { drillId, kind: "tenant", backupId: record.id, tenantId, outcome, providerUsed, durations, tables, error },
    startedAt,
    finishedAt: now(),
  });
}
