/**
 * Which tenants a night's drill samples. Every tenant with a restorable backup must be drilled at
 * least once per retention window (a backup older than the window is gone; a drill proves the ones
 * that are kept). Each tenant has a deadline (a window after its last drill, or after its first
 * backup); see `planTenantDrills` for how many are taken a night.
 */
export interface DrillCandidate {
  tenantId: string;
  /** The tenant's last drill that ran (match or not); null when it was never drilled. */
  lastDrilledAt: Date | null;
  /** Its oldest restorable backup: a tenant never drilled is due a window after it. Default: due now. */
  firstBackupAt?: Date | null | undefined;
}

export interface DrillPlan {
  /** Tenants to drill tonight, earliest deadline first. */
  tenants: string[];
  /** How many were past their deadline (not drilled within a window). */
  overdue: number;
  sampleSize: number;
}

const DAY_MS = 86_400_000;
/** A tenant whose deadline falls within this of now is drilled tonight: a missed night must not make it late. */
const URGENT_MS = 2 * DAY_MS;

/** When a tenant must have been drilled by: a window after its last drill, or after its first backup when never drilled. */
function deadline(c: DrillCandidate, windowMs: number): number {
  const anchor = c.lastDrilledAt ?? c.firstBackupAt;
  return anchor ? anchor.getTime() + windowMs : -Infinity;
}

/**
 * Earliest deadline first. Tonight's sample is the larger of `minSample`, an even share
 * (candidates / (windowDays - 1), so a steady set comes round within the window with a night to
 * spare), and every tenant whose deadline is less than two days away (tenants that arrived in
 * numbers, or nights missed, cannot push one past its deadline). `maxSample` caps it (a first run
 * over a large platform spreads its backlog; coverage is then late, and the report shows it).
 */
export function planTenantDrills(o: {
  candidates: DrillCandidate[];
  now: Date;
  windowDays: number;
  minSample?: number | undefined;
  maxSample?: number | undefined;
}): DrillPlan {
  const windowMs = o.windowDays * DAY_MS;
  const now = o.now.getTime();
  const nights = Math.max(1, o.windowDays - 1);
  const ordered = o.candidates
    .map((c) => ({ c, due: deadline(c, windowMs) }))
    .sort((a, b) => a.due - b.due || (a.c.tenantId < b.c.tenantId ? -1 : a.c.tenantId > b.c.tenantId ? 1 : 0));
  const urgent = ordered.filter((x) => x.due - now <= URGENT_MS).length;
  const overdue = ordered.filter((x) => x.due <= now).length;
  const wanted = Math.max(o.minSample ?? 1, Math.ceil(o.candidates.length / nights), urgent);
  const sampleSize = Math.min(o.candidates.length, o.maxSample ?? Infinity, wanted);
  return { tenants: ordered.slice(0, sampleSize).map((x) => x.c.tenantId), overdue, sampleSize };
}

/** Coverage of a window: tenants with a backup, those drilled within it, and the oldest undrilled. */
export interface DrillCoverage {
  windowDays: number;
  tenantsWithBackups: number;
  drilledInWindow: number;
  /** Tenants with a backup but no drill within the window, the longest waiting first (never drilled: lastDrilledAt null). */
  undrilled: DrillCandidate[];
  oldestUndrilled: DrillCandidate | null;
}

export function drillCoverage(o: { candidates: DrillCandidate[]; now: Date; windowDays: number }): DrillCoverage {
  const since = o.now.getTime() - o.windowDays * 86_400_000;
  const undrilled = o.candidates
    .filter((c) => !c.lastDrilledAt || c.lastDrilledAt.getTime() < since)
    .sort((a, b) => (a.lastDrilledAt?.getTime() ?? -Infinity) - (b.lastDrilledAt?.getTime() ?? -Infinity));
  return {
    windowDays: o.windowDays,
    tenantsWithBackups: o.candidates.length,
    drilledInWindow: o.candidates.length - undrilled.length,
    undrilled,
    oldestUndrilled: undrilled[0] ?? null,
  };
}
