import type { ProviderName } from "@hesaab/contracts";
import type { MasterKeySet } from "@hesaab/config";
import type { CatalogDb } from "@hesaab/db";
import type { DrillDeps } from "./drill-deps";
import { drillCoverage, planTenantDrills, type DrillCoverage } from "./planner";
import { drillCandidates, listDrillRecords, type DrillRecordView } from "./records";
import { drillTenant, type DrillResult } from "./tenant-drill";

export interface NightlyDrillReport {
  planned: string[];
  results: DrillResult[];
}

/**
 * The nightly sample: the planner's tenants (see ./planner), drilled one after the other (a drill
 * holds a scratch database and a restore; one at a time keeps the night's load flat). The provider
 * alternates by day, so each cloud's copies are proven too. A drill that cannot start (no backup
 * any more, a scratch database refused) is reported in its result's error, not thrown.
 */
export async function runNightlyDrills(
  deps: DrillDeps,
  o: { windowDays: number; minSample?: number | undefined; maxSample?: number | undefined; signal?: AbortSignal | undefined },
): Promise<NightlyDrillReport> {
  const now = (deps.now ?? (() => new Date()))();
  const candidates = await drillCandidates(deps.tenantBackup.catalog.db);
  const plan = planTenantDrills({ candidates, now, windowDays: o.windowDays, minSample: o.minSample, maxSample: o.maxSample });
  const provider: ProviderName = Math.floor(now.getTime() / 86_400_000) % 2 === 0 ? "b2" : "r2";
  const results: DrillResult[] = [];
  for (const tenantId of plan.tenants) {
    if (o.signal?.aborted) break;
    results.push(await drillTenant(deps, { tenantId, provider, signal: o.signal }));
  }
  return { planned: plan.tenants, results };
}

export interface DrillReport {
  coverage: DrillCoverage;
  drills: DrillRecordView[];
  /** Records whose signature does not match their fields (edited in the catalog). */
  tampered: number;
}

/** Coverage of the window and the latest drill records, each verified (`hesaab drill report`, the admin API). */
export async function drillReport(o: {
  db: CatalogDb;
  keys: MasterKeySet;
  windowDays: number;
  now?: Date;
  limit?: number;
  tenantId?: string;
}): Promise<DrillReport> {
  const coverage = drillCoverage({ candidates: await drillCandidates(o.db), now: o.now ?? new Date(), windowDays: o.windowDays });
  const drills = await listDrillRecords(o.db, { keys: o.keys, limit: o.limit ?? 50, tenantId: o.tenantId });
  return { coverage, drills, tampered: drills.filter((d) => d.attestation === "tampered").length };
}
