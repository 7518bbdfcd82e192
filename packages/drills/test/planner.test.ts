import { describe, expect, it } from "vitest";
import { drillCoverage, planTenantDrills, type DrillCandidate } from "../src";

const DAY = 86_400_000;

/** Runs the nightly plan over `days` simulated nights (injected clock) and returns each tenant's drill days. */
function simulate(o: { tenants: (day: number) => string[]; days: number; windowDays: number; minSample?: number; skipNights?: Set<number> }) {
  const start = Date.UTC(2026, 0, 1, 2);
  const last = new Map<string, Date>();
  const drilledOn = new Map<string, number[]>();
  const firstSeen = new Map<string, Date>();
  for (let day = 0; day < o.days; day++) {
    if (o.skipNights?.has(day)) continue;
    const now = new Date(start + day * DAY);
    for (const t of o.tenants(day)) if (!firstSeen.has(t)) firstSeen.set(t, now);
    const candidates: DrillCandidate[] = o.tenants(day).map((tenantId) => ({
      tenantId,
      lastDrilledAt: last.get(tenantId) ?? null,
      firstBackupAt: firstSeen.get(tenantId)!,
    }));
    const plan = planTenantDrills({ candidates, now, windowDays: o.windowDays, minSample: o.minSample });
    for (const t of plan.tenants) {
      last.set(t, now);
      drilledOn.set(t, [...(drilledOn.get(t) ?? []), day]);
    }
  }
  return { drilledOn, last, end: new Date(start + (o.days - 1) * DAY) };
}

describe("nightly drill planner", () => {
  const ids = (n: number, prefix = "t") => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, "0")}`);

  it("drills every tenant at least once over a simulated 30-day window", () => {
    for (const n of [1, 7, 29, 30, 31, 100, 2000]) {
      const tenants = ids(n);
      const { drilledOn } = simulate({ tenants: () => tenants, days: 30, windowDays: 30 });
      const undrilled = tenants.filter((t) => !drilledOn.has(t));
      expect(undrilled, `${n} tenants`).toEqual([]);
    }
  });

  it("keeps every tenant within the window over 90 nights, with tenants arriving and a night missed", () => {
    const early = ids(300);
    const late = ids(120, "n");
    const { drilledOn } = simulate({
      tenants: (day) => (day < 40 ? early : [...early, ...late]),
      days: 90,
      windowDays: 30,
      skipNights: new Set([50]),
    });
    for (const t of [...early, ...late]) {
      const days = drilledOn.get(t) ?? [];
      const firstSeen = t.startsWith("n") ? 40 : 0;
      expect(days[0]! - firstSeen, t).toBeLessThan(30);
      for (let i = 1; i < days.length; i++) expect(days[i]! - days[i - 1]!, t).toBeLessThanOrEqual(30);
      expect(89 - days[days.length - 1]!, t).toBeLessThan(30);
    }
  });

  it("samples the least recently drilled first, and at least minSample", () => {
    const now = new Date("2026-03-01T02:00:00Z");
    const candidates: DrillCandidate[] = [
      { tenantId: "a", lastDrilledAt: new Date("2026-02-27T02:00:00Z") },
      { tenantId: "b", lastDrilledAt: null },
      { tenantId: "c", lastDrilledAt: new Date("2026-01-15T02:00:00Z") },
    ];
    expect(planTenantDrills({ candidates, now, windowDays: 30, minSample: 2 })).toEqual({ tenants: ["b", "c"], overdue: 2, sampleSize: 2 });
    // a tenant close to its deadline is taken even past the share and the minimum; maxSample caps the night
    const due = [...candidates, { tenantId: "d", lastDrilledAt: new Date("2026-01-31T03:00:00Z") }];
    expect(planTenantDrills({ candidates: due, now, windowDays: 30 }).tenants).toEqual(["b", "c", "d"]);
    expect(planTenantDrills({ candidates: due, now, windowDays: 30, maxSample: 1 }).tenants).toEqual(["b"]);
    expect(planTenantDrills({ candidates: [], now, windowDays: 30 }).tenants).toEqual([]);
  });

  it("reports coverage: tenants drilled in the window and the oldest undrilled", () => {
    const now = new Date("2026-03-01T02:00:00Z");
    const cov = drillCoverage({
      now,
      windowDays: 30,
      candidates: [
        { tenantId: "a", lastDrilledAt: new Date("2026-02-27T02:00:00Z") },
        { tenantId: "b", lastDrilledAt: null },
        { tenantId: "c", lastDrilledAt: new Date("2026-01-15T02:00:00Z") },
      ],
    });
    expect(cov).toMatchObject({ tenantsWithBackups: 3, drilledInWindow: 1, oldestUndrilled: { tenantId: "b", lastDrilledAt: null } });
    expect(cov.undrilled.map((c) => c.tenantId)).toEqual(["b", "c"]);
  });
});
