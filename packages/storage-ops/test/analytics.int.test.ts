import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storageAnalytics, takeStorageSample } from "../src";
import { harness, storeDisasterBackup, storeTenantBackup, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await harness("sops_stats");
});
afterAll(async () => {
  await h?.close();
});

describe("storage analytics", () => {
  it("bytes and objects per provider, type and tenant; listings; growth from samples; cost and projection", async () => {
    const a = await storeTenantBackup(h, { tenantId: "a" });
    const b = await storeTenantBackup(h, { tenantId: "b" });
    const d = await storeDisasterBackup(h);
    const dConfig = (d.metadata.config as { size: number }).size;
    h.r2.faults!.down();
    let degraded;
    try {
      degraded = await storeTenantBackup(h, { tenantId: "a" });
    } finally {
      h.r2.faults!.up();
    }
    const b2Bytes = a.fileSize + b.fileSize + d.fileSize + dConfig + degraded.fileSize;
    const r2Bytes = b2Bytes - degraded.fileSize;

    // Samples over three earlier days: B2 grew by 1000 bytes a day up to now.
    const day = (n: number) => new Date(Date.UTC(2026, 10, 20 + n, 12));
    for (const n of [0, 1, 2]) {
      await h.catalog.pool.query("insert into backup.storage_samples (taken_at, provider, bytes, objects) values ($1, 'b2', $2, 10)", [
        day(n),
        b2Bytes - 1000 * (3 - n),
      ]);
    }
    const now = new Date(Date.UTC(2026, 10, 23, 12));
    expect(await takeStorageSample({ catalog: h.catalog, now })).toBeGreaterThan(0);

    const stats = await storageAnalytics({ catalog: h.catalog, backends: h.backends, now });
    expect(stats.providers).toEqual([
      { provider: "b2", bytes: b2Bytes, objects: 3 * 2 + 4, backups: 4 },
      { provider: "r2", bytes: r2Bytes, objects: 2 * 2 + 4, backups: 3 },
    ]);
    expect(stats.tenants.filter((t) => t.provider === "b2")).toEqual([
      { provider: "b2", tenantId: "a", bytes: a.fileSize + degraded.fileSize, objects: 4, backups: 2 },
      { provider: "b2", tenantId: "b", bytes: b.fileSize, objects: 2, backups: 1 },
    ]);
    // every provider together: tenant a's degraded backup (B2 only) counted once, its bytes once per copy
    expect(stats.largestTenants).toEqual([
      { tenantId: "a", bytes: 2 * a.fileSize + degraded.fileSize, backups: 2 },
      { tenantId: "b", bytes: 2 * b.fileSize, backups: 1 },
    ]);
    expect(stats.byType.find((t) => t.provider === "r2" && t.type === "disaster")).toMatchObject({ bytes: d.fileSize + dConfig, backups: 1 });
    // The listing sees the same artifacts, plus their sidecars.
    const listedB2 = stats.listing!.find((l) => l.provider === "b2")!;
    expect(listedB2.objects).toBe(10);
    expect(listedB2.bytes).toBeGreaterThan(b2Bytes);

    // Growth: one point per day (the sample just taken is the 4th day's).
    expect(stats.growth.filter((g) => g.provider === "b2").map((g) => g.day)).toEqual(["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"]);
    const b2Trend = stats.trend.find((t) => t.provider === "b2")!;
    expect(b2Trend.basis).toBe("samples");
    expect(b2Trend.bytesPerDay).toBe(1000);
    // R2 has one sample only: the trend comes from the catalog (bytes stored in the last 30 days, per day).
    expect(stats.trend.find((t) => t.provider === "r2")).toEqual({ provider: "r2", basis: "catalog", bytesPerDay: Math.round(r2Bytes / 30) });

    // Cost: tiny here, but computed from the usage and the default prices.
    expect(stats.usage.b2!.storedBytes).toBe(b2Bytes);
    expect(stats.cost.monthly.b2!.total).toBeGreaterThanOrEqual(0);
    expect(stats.projection.map((p) => p.months)).toEqual([3, 6, 12]);
    expect(stats.projection[2]!.providers.b2!.bytes).toBeGreaterThan(stats.projection[0]!.providers.b2!.bytes);
    expect(stats.prices.checked).toBe("2026-11");

    // A big store, priced: 10 TB in each provider.
    const big = await storageAnalytics({
      catalog: h.catalog,
      now,
      usage: { b2: { storedBytes: 1e13, egressBytes: 0, classAOps: 0, classBOps: 0 }, r2: { storedBytes: 1e13, egressBytes: 0, classAOps: 0, classBOps: 0 } },
    });
    expect(big.cost.monthly.b2!.storage).toBe(60);
    expect(big.cost.monthly.r2!.storage).toBe(150);
    expect(big.cost.monthlyTotal).toBe(210);

    // Prices from the catalog's settings.
    await h.catalog.pool.query(`insert into backup.settings (key, value) values ('storage.prices', '{"providers": {"b2": {"storagePerGbMonth": 0.012}}}')`);
    const repriced = await storageAnalytics({ catalog: h.catalog, now, usage: { b2: { storedBytes: 1e13 } } });
    expect(repriced.cost.monthly.b2!.storage).toBe(120);
  });
});
