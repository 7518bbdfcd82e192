import { describe, expect, it } from "vitest";
import { DEFAULT_PRICES, mergePrices, monthlyCost } from "../src";
import { analyticsInternals } from "../src/analytics";
import { retentionInternals } from "../src/retention";

describe("prices", () => {
  it("defaults: B2 $6/TB-month with 3× free egress, R2 $0.015/GB-month, zero egress, class A/B per million", () => {
    const tb = 1e12;
    expect(monthlyCost(DEFAULT_PRICES.providers.b2!, { storedBytes: tb, egressBytes: 0, classAOps: 0, classBOps: 0 })).toEqual({
      storage: 6,
      egress: 0,
      operations: 0,
      total: 6,
    });
    // 3 TB of egress on 1 TB stored is free; the 4th TB costs $0.01/GB.
    expect(monthlyCost(DEFAULT_PRICES.providers.b2!, { storedBytes: tb, egressBytes: 4 * tb, classAOps: 0, classBOps: 0 }).egress).toBe(10);
    expect(monthlyCost(DEFAULT_PRICES.providers.r2!, { storedBytes: tb, egressBytes: 10 * tb, classAOps: 2e6, classBOps: 10e6 })).toEqual({
      storage: 15,
      egress: 0,
      operations: 12.6,
      total: 27.6,
    });
  });

  it("overrides field by field; ignores invalid numbers", () => {
    const p = mergePrices(DEFAULT_PRICES, {
      checked: "2027-01",
      providers: { r2: { storagePerGbMonth: 0.02, classAPerMillion: -1 }, fs: { storagePerGbMonth: 0.1 } },
    });
    expect(p.checked).toBe("2027-01");
    expect(p.providers.r2).toEqual({ ...DEFAULT_PRICES.providers.r2, storagePerGbMonth: 0.02 });
    expect(p.providers.fs!.storagePerGbMonth).toBe(0.1);
    expect(p.providers.b2).toEqual(DEFAULT_PRICES.providers.b2);
  });

  it("linear trend and calendar buckets", () => {
    expect(
      analyticsInternals.slope([
        { x: 0, y: 10 },
        { x: 1, y: 20 },
        { x: 2, y: 30 },
      ]),
    ).toBe(10);
    expect(analyticsInternals.slope([{ x: 5, y: 1 }])).toBe(0);
    expect(retentionInternals.isoWeekOf(new Date("2026-01-01T00:00:00Z"))).toBe("2026-W01");
    expect(retentionInternals.isoWeekOf(new Date("2027-01-01T00:00:00Z"))).toBe("2026-W53");
    expect(retentionInternals.isoWeekOf(new Date("2026-10-25T23:59:59Z"))).toBe("2026-W43");
    expect(retentionInternals.isoWeekOf(new Date("2026-10-26T00:00:00Z"))).toBe("2026-W44");
  });
});
