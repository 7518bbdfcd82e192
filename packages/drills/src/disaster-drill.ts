/**
 * The weekly disaster-recovery drill: the latest disaster backup restored from nothing but the buckets
 * and DR_MASTER_KEYS (packages/dr `restorePlatform`, the runbook's path) into a scratch database the
 * drill creates and drops, its table row counts compared with the backup's manifest (restorePlatform
 * counts them), and the result attested like a tenant drill; a failure raises an alert.
 */
import { describeError } from "@hesaab/config";
import { newId, type ProviderName } from "@hesaab/contracts";
import { restorePlatform } from "@hesaab/dr";
import type { DrillDeps } from "./drill-deps";
import { DrillError } from "./errors";
import { openScratchDatabase } from "./scratch";
import { attestDrill, type DrillOutcome, type DrillResult, type TableComparison } from "./tenant-drill";

export async function drillDisaster(
  deps: DrillDeps,
  o: { backupId?: string | undefined; provider?: ProviderName | undefined; root?: string | undefined; signal?: AbortSignal | undefined } = {},
): Promise<DrillResult> {
  if (!deps.drKeyRing) {
    throw new DrillError({ code: "drill_key_missing", message: "a disaster drill needs the DR key ring", hint: "Set DR_MASTER_KEYS" });
  }
  const now = deps.now ?? (() => new Date());
  const startedAt = now();
  const t0 = performance.now();
  const drillId = newId("drl");
  const preferred = o.provider ?? "b2";
  // the preferred provider first, the others as restorePlatform's fallbacks
  const backends = [...deps.tenantBackup.backends].sort((a, b) => Number(b.name === preferred) - Number(a.name === preferred));
  let backupId = o.backupId ?? "latest";
  let providerUsed: string | null = null;
  let durations: Record<string, number> = {};
  const tables: Record<string, TableComparison> = {};
  let error: DrillResult["error"] = null;
  try {
    // created by restorePlatform once the backup is verified; dropped here however the drill ends
    await using scratch = await openScratchDatabase({ serverUrl: deps.platformUrl, configuredUrl: deps.scratchUrl, create: false });
    const report = await restorePlatform({
      ...(o.backupId ? { backupId: o.backupId } : { latest: true }),
      backends,
      keyRing: deps.drKeyRing,
      targetUrl: scratch.url,
      roles: "skip",
      allowNonEmpty: !scratch.created,
      workDir: deps.tenantBackup.workDir,
      root: o.root,
      signal: o.signal,
    });
    backupId = report.backupId;
    providerUsed = report.providerUsed;
    durations = { fetchMs: report.durationsMs.fetch, restoreMs: report.durationsMs.restore, checkMs: report.durationsMs.check };
    for (const t of report.tables) {
      tables[t.table] = { expectedRows: t.expected, rows: t.actual, expectedChecksum: null, checksum: null, match: t.ok };
    }
  } catch (err) {
    const d = describeError(err, { unknownCode: "drill_failed" });
    error = { code: d.code, message: d.message };
  }
  durations.totalMs = Math.round(performance.now() - t0);
  const matched = error === null && Object.values(tables).every((t) => t.match);
  const outcome: DrillOutcome = error ? "failed" : matched ? "match" : "mismatch";
  return attestDrill(deps, {
    result: { drillId, kind: "disaster", backupId, tenantId: null, outcome, providerUsed, durations, tables, error },
    startedAt,
    finishedAt: now(),
  });
}
