import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "@hesaab/contracts";
import { alerts, insertBackupRecord } from "@hesaab/db";
import { eq } from "drizzle-orm";
import { checkStorageBudget, evaluateAlertRules, newAlertRuleState } from "../src";
import { harness, type Harness } from "./harness";

const HOUR = 3_600_000;
const thresholds = { ALERT_TENANT_STALE_HOURS: 26, ALERT_PROVIDER_DOWN_MINUTES: 15, ALERT_DR_STALE_HOURS: 26 };
let h: Harness;

beforeAll(async () => {
  h = await harness("alrules");
});
afterAll(async () => {
  await h?.close();
});

/** A good backup record created at `at`. */
async function record(type: "tenant" | "disaster", tenantId: string | null, at: Date) {
  await insertBackupRecord(h.catalog.db, {
    id: newId("bkp"),
    backupType: type,
    tenantId,
    filename: "x.bkp1",
    encryptionKeyId: "",
    status: "completed",
    fileSize: 1_000_000_000,
    createdAt: at,
    completedAt: at,
    providers: { b2: { location: "k", status: "stored" }, r2: { location: "k", status: "stored" } },
  });
}

const byCode = async (code: string) => h.catalog.db.select().from(alerts).where(eq(alerts.code, code));

describe("alert rules (clock injected)", () => {
  it("a stale tenant and a missing disaster backup: raised once and counted while they hold, resolved when they clear", async () => {
    const t0 = new Date("2031-01-10T00:00:00Z");
    await record("tenant", "t_stale", t0);
    await record("disaster", null, t0);
    const state = newAlertRuleState();
    const pass = (now: Date) => evaluateAlertRules({ catalog: h.catalog, backends: [], publish: h.publish, thresholds, state, now });

    expect(await pass(new Date(t0.getTime() + 25 * HOUR))).toEqual({ raised: [], resolved: [] });
    const late = await pass(new Date(t0.getTime() + 27 * HOUR));
    expect(late.raised).toHaveLength(2);
    await pass(new Date(t0.getTime() + 28 * HOUR));
    expect((await byCode("tenant_backup_stale")).map((a) => [a.context.tenantId, a.occurrences, a.resolvedAt])).toEqual([["t_stale", 2, null]]);
    expect((await byCode("disaster_backup_missing")).map((a) => [a.occurrences, a.resolvedAt])).toEqual([[2, null]]);
    expect(h.events.filter((e) => e.type === "alert.raised.v1")).toHaveLength(2); // published once each

    await record("tenant", "t_stale", new Date(t0.getTime() + 29 * HOUR));
    await record("disaster", null, new Date(t0.getTime() + 29 * HOUR));
    const cleared = await pass(new Date(t0.getTime() + 30 * HOUR));
    expect(cleared.resolved.sort()).toEqual(late.raised.sort());
  });

  it("a provider failing its probe: raised only after ALERT_PROVIDER_DOWN_MINUTES, resolved when it answers", async () => {
    const state = newAlertRuleState();
    const now = new Date("2031-02-01T00:00:00Z");
    const pass = (minutes: number) =>
      evaluateAlertRules({
        catalog: h.catalog,
        backends: [h.b2.backend],
        publish: h.publish,
        thresholds,
        state,
        now: new Date(now.getTime() + minutes * 60_000),
      });
    h.b2.faults!.failAlways("head");
    try {
      await pass(0);
      await pass(14);
      expect(await byCode("provider_unavailable")).toEqual([]);
      await pass(16);
      expect((await byCode("provider_unavailable")).map((a) => [a.context.provider, a.resolvedAt])).toEqual([["b2", null]]);
    } finally {
      h.b2.faults!.clear();
    }
    const back = await pass(17);
    expect(back.resolved).toEqual([(await byCode("provider_unavailable"))[0]!.id]);
  });

  it("storage cost over the budget raises; under it resolves", async () => {
    const now = new Date("2031-03-01T00:00:00Z");
    const over = await checkStorageBudget({ catalog: h.catalog, publish: h.publish, thresholds: { ...thresholds, ALERT_STORAGE_BUDGET_MONTHLY: 0.0001 }, now });
    expect(over.raised).toHaveLength(1);
    const under = await checkStorageBudget({
      catalog: h.catalog,
      publish: h.publish,
      thresholds: { ...thresholds, ALERT_STORAGE_BUDGET_MONTHLY: 1_000_000 },
      now,
    });
    expect(under.resolved).toEqual(over.raised);
  });
});
