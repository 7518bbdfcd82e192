import { describe, expect, it } from "vitest";
import { INVOICES_AT_SCALE_1, planPlatform } from "../src/tenant-shapes";
import { Rng, rngFor } from "../src/random";
import { TABLE_WRITERS, TenantData } from "../src/rows";

function allRows(seed: number): string {
  return planPlatform({ tenants: 4, scale: 0.05, seed })
    .map((plan) => {
      const data = new TenantData(plan);
      return TABLE_WRITERS.map((w) => [...w.rows(data)].join("")).join("");
    })
    .join("");
}

describe("deterministic randomness", () => {
  it("gives the same sequence for the same seed, another for another seed", () => {
    const a = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.next()
      )(new Rng(42)),
    );
    const b = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.next()
      )(new Rng(42)),
    );
    const c = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.next()
      )(new Rng(43)),
    );
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it("makes v4-shaped uuids", () => {
    const id = rngFor(1, 2, 3).uuid();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(rngFor(1, 2, 3).uuid()).toBe(id);
    expect(rngFor(1, 2, 4).uuid()).not.toBe(id);
  });

  it("keeps int() within bounds", () => {
    const rng = new Rng(7);
    for (let i = 0; i < 1000; i++) {
      const v = rng.int(-3, 3);
      expect(v).toBeGreaterThanOrEqual(-3);
      expect(v).toBeLessThanOrEqual(3);
    }
  });
});

describe("planPlatform", () => {
  it("skews tenant sizes: a few large, a long tail of small", () => {
    const plans = planPlatform({ tenants: 200, scale: 1, seed: 1 });
    const sizes = plans.map((p) => p.counts.invoices);
    const sorted = [...sizes].sort((a, b) => a - b);
    const median = sorted[100]!;
    expect(sizes[0]).toBe(Math.max(...sizes));
    expect(sizes[0]!).toBeGreaterThan(INVOICES_AT_SCALE_1 * 0.7);
    expect(sizes[0]!).toBeGreaterThan(20 * median);
    // the top 10% hold at least 40% of the rows
    const top = [...sizes]
      .sort((a, b) => b - a)
      .slice(0, 20)
      .reduce((s, n) => s + n, 0);
    expect(top / sizes.reduce((s, n) => s + n, 0)).toBeGreaterThan(0.4);
  });

  it("scale multiplies row counts and largeScale only tenant #1", () => {
    const base = planPlatform({ tenants: 3, scale: 1, seed: 5 });
    const double = planPlatform({ tenants: 3, scale: 2, seed: 5 });
    const large = planPlatform({ tenants: 3, scale: 1, seed: 5, largeScale: 10 });
    expect(double[1]!.counts.invoices / base[1]!.counts.invoices).toBeCloseTo(2, 1);
    expect(large[0]!.counts.invoices / base[0]!.counts.invoices).toBeCloseTo(10, 1);
    expect(large[1]!.counts).toEqual(base[1]!.counts);
  });

  it("has suspended and deleted tenants, and unique ids and slugs", () => {
    const plans = planPlatform({ tenants: 10, seed: 1 });
    expect(plans.filter((p) => p.status === "suspended").length).toBeGreaterThanOrEqual(2);
    expect(plans.filter((p) => p.status === "deleted").length).toBeGreaterThanOrEqual(1);
    expect(new Set(plans.map((p) => p.id)).size).toBe(10);
    expect(new Set(plans.map((p) => p.slug)).size).toBe(10);
  });

  it("assigns disjoint id ranges to tenants", () => {
    const plans = planPlatform({ tenants: 5, seed: 3 });
    for (let i = 1; i < plans.length; i++) {
      const prev = plans[i - 1]!;
      expect(plans[i]!.base.invoices).toBe(prev.base.invoices + prev.counts.invoices);
      expect(plans[i]!.base.invoiceLines).toBe(prev.base.invoiceLines + prev.counts.invoiceLines);
      expect(plans[i]!.base.journalLines).toBe(prev.base.journalLines + prev.counts.journalLines);
    }
  });

  it("rejects nonsense sizes", () => {
    expect(() => planPlatform({ tenants: 0 })).toThrow(RangeError);
    expect(() => planPlatform({ tenants: 2, scale: 0 })).toThrow(RangeError);
  });
});

describe("row generators", () => {
  it("produce byte-identical COPY text for the same seed and different text for another", () => {
    const a = allRows(11);
    expect(allRows(11)).toBe(a);
    expect(allRows(12)).not.toBe(a);
  });

  it("give a tenant the same rows whatever the number of tenants", () => {
    const rowsOf = (tenants: number) => {
      const plan = planPlatform({ tenants, scale: 0.05, seed: 9 })[1]!;
      const data = new TenantData({ ...plan, base: { accounts: 0, customers: 0, invoices: 0, invoiceLines: 0, journalEntries: 0, journalLines: 0 } });
      return TABLE_WRITERS.map((w) => [...w.rows(data)].join("")).join("");
    };
    expect(rowsOf(3)).toBe(rowsOf(30));
  });

  it("write as many fields per row as the table has columns", () => {
    const data = new TenantData(planPlatform({ tenants: 1, scale: 0.05, seed: 2 })[0]!);
    for (const w of TABLE_WRITERS) {
      for (const row of w.rows(data)) {
        expect(row.endsWith("\n")).toBe(true);
        expect(row.slice(0, -1).split("\t")).toHaveLength(w.columns.length);
      }
    }
  });
});
