import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getBackupRecord } from "@hesaab/db";
import { keysSidecarKey, metaSidecarKey } from "@hesaab/storage";
import { applyRetention, recordParts, type RetentionRules } from "../src";
import { harness, storeDisasterBackup, storeTenantBackup, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await harness("sops_ret");
});
afterAll(async () => {
  await h?.close();
});

const now = new Date("2026-11-26T12:00:00Z");
const daysAgo = (n: number, hour = 2) => new Date(Date.UTC(2026, 10, 26 - n, hour));
const rules: RetentionRules = { tenant: { days: 30 }, disaster: { days: 90 } };

async function presentIn(key: string): Promise<string[]> {
  const out: string[] = [];
  for (const b of h.backends) {
    const all = await Promise.all([key, keysSidecarKey(key), metaSidecarKey(key)].map((k) => b.head(k)));
    if (all.some(Boolean)) out.push(b.name);
  }
  return out;
}

describe("applyRetention", () => {
  it("deletes exactly the expired backups from both providers, keeps the last good backup of an active tenant", async () => {
    // Tenant a: one fresh, two expired → the expired go.
    const aNew = await storeTenantBackup(h, { tenantId: "a", createdAt: daysAgo(1) });
    const aOld1 = await storeTenantBackup(h, { tenantId: "a", createdAt: daysAgo(40) });
    const aOld2 = await storeTenantBackup(h, { tenantId: "a", createdAt: daysAgo(35) });
    // Tenant b (active): only expired backups → the newest stays; a pre-restore snapshot never counts as it, and expires.
    const bOld = await storeTenantBackup(h, { tenantId: "b", createdAt: daysAgo(60) });
    const bLast = await storeTenantBackup(h, { tenantId: "b", createdAt: daysAgo(45) });
    const bSnap = await storeTenantBackup(h, { tenantId: "b", createdAt: daysAgo(44), purpose: "pre_restore" });
    // Tenant c (gone from the platform): its last backup expires too.
    const cLast = await storeTenantBackup(h, { tenantId: "c", createdAt: daysAgo(50) });
    // expires_at wins over created_at + days: a backup kept longer on purpose.
    const aPinned = await storeTenantBackup(h, { tenantId: "a", createdAt: daysAgo(50), retentionDays: 365 });
    // Disaster: 90 days.
    const dOld = await storeDisasterBackup(h, { createdAt: daysAgo(100) });
    const dNew = await storeDisasterBackup(h, { createdAt: daysAgo(10) });

    const dry = await applyRetention({ catalog: h.catalog, backends: h.backends, rules, now, dryRun: true, activeTenants: ["a", "b"] });
    const expectedGone = [aOld1.id, aOld2.id, bOld.id, bSnap.id, cLast.id, dOld.id].sort();
    expect(dry.expired.map((e) => e.backupId).sort()).toEqual(expectedGone);
    expect(dry.kept).toEqual([expect.objectContaining({ backupId: bLast.id, reasons: ["last_good"] })]);
    expect(dry.deleted).toEqual([]);
    for (const id of expectedGone) expect((await getBackupRecord(h.catalog.db, id))!.status).not.toBe("deleted");

    const done = await applyRetention({ catalog: h.catalog, backends: h.backends, rules, now, activeTenants: ["a", "b"], actor: "test" });
    expect(done.deleted.sort()).toEqual(expectedGone);
    expect(done.failed).toEqual([]);
    for (const id of expectedGone) {
      const r = (await getBackupRecord(h.catalog.db, id))!;
      expect(r.status).toBe("deleted");
      for (const part of recordParts(r)) expect(await presentIn(part.key)).toEqual([]);
    }
    for (const r of [aNew, bLast, aPinned, dNew]) {
      expect((await getBackupRecord(h.catalog.db, r.id))!.status).toBe("completed");
      for (const part of recordParts(r)) expect(await presentIn(part.key)).toEqual(["b2", "r2"]);
    }
    const audit = await h.catalog.pool.query("select target_id, actor from backup.audit_log where action = 'backup.deleted' order by target_id");
    expect(audit.rows.map((r) => r.target_id)).toEqual(expectedGone);
    expect(audit.rows.every((r) => r.actor === "test")).toBe(true);

    // Nothing left to do.
    const again = await applyRetention({ catalog: h.catalog, backends: h.backends, rules, now, activeTenants: ["a", "b"] });
    expect(again.expired).toEqual([]);
  });

  it("keeps the newest backup of each of the last N days, weeks and months (grandfather-father-son)", async () => {
    const t = "gfs";
    const made = [];
    for (const n of [31, 32, 33, 40, 47, 62, 95]) made.push(await storeTenantBackup(h, { tenantId: t, createdAt: daysAgo(n) }));
    const twice = await storeTenantBackup(h, { tenantId: t, createdAt: daysAgo(31, 1) }); // same day as 31, earlier
    const report = await applyRetention({
      catalog: h.catalog,
      backends: h.backends,
      rules: { ...rules, tenant: { days: 30, keepDaily: 2, keepWeekly: 3, keepMonthly: 3 } },
      now,
      dryRun: true,
    });
    const kept = new Map(report.kept.filter((k) => k.tenantId === t).map((k) => [k.backupId, k.reasons]));
    const [d31, d32, d33, d40, d47, d62, d95] = made.map((r) => r.id);
    expect(kept.get(d31!)).toEqual(["last_good", "keep_daily", "keep_weekly", "keep_monthly"]);
    expect(kept.get(d32!)).toEqual(["keep_daily", "keep_weekly"]);
    expect(kept.has(twice.id)).toBe(false); // not the newest of its day
    // Weeks (ISO, UTC): day 31 = 2026-10-26 (Mon, W44); 32 (Sun) and 33 (Sat) fall in W43; 40 in W42.
    expect(kept.has(d33!)).toBe(false);
    expect(kept.get(d40!)).toEqual(["keep_weekly"]);
    // Months: October (31), September (62 = 2026-09-25; 40/47 are October), August (95 = 2026-08-23).
    expect(kept.get(d62!)).toEqual(["keep_monthly"]);
    expect(kept.get(d95!)).toEqual(["keep_monthly"]);
    expect(kept.has(d47!)).toBe(false);
    expect(
      report.expired
        .filter((e) => e.tenantId === t)
        .map((e) => e.backupId)
        .sort(),
    ).toEqual([d33!, d47!, twice.id].sort());
  });
});
