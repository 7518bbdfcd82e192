import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogClaims, migrate, openCatalog, scheduleRuns, type Catalog } from "@hesaab/db";
import { freshDatabase, type FreshDatabase } from "@hesaab/testkit";
import { createSchedule, nextPeriod, silentLogger } from "../src";

let database: FreshDatabase;
let catalog: Catalog;

beforeAll(async () => {
  database = await freshDatabase("bus_schedule");
  await migrate({ url: database.url });
  catalog = openCatalog({ url: database.url, max: 8 });
});

afterAll(async () => {
  await catalog.close();
  await database.drop();
});

const base = { cron: "0 2 * * *", timeZone: "Asia/Tehran", log: silentLogger, fireRetryDelayMs: 0 };

describe("schedule claims in backup.schedule_runs", () => {
  it("fires once per period when two replicas race, on real PostgreSQL", async () => {
    const fired = new Map<string, string[]>();
    const replica = (owner: string) =>
      createSchedule({
        ...base,
        name: "race",
        owner,
        ...catalogClaims(catalog.db),
        fire: async (period) => void fired.set(period, [...(fired.get(period) ?? []), owner]),
      });
    const a = replica("replica-a");
    const b = replica("replica-b");

    let now = new Date("2026-11-20T00:00:00Z");
    const periods: string[] = [];
    for (let i = 0; i < 10; i++) {
      const p = nextPeriod({ ...base, now });
      periods.push(p.key);
      now = p.at;
      const outcomes = (await Promise.all([a.tick(now), b.tick(now)])).map((r) => r.outcome).sort();
      expect(outcomes).toEqual(["fired", "taken"]);
    }
    expect([...fired.keys()]).toEqual(periods);
    for (const owners of fired.values()) expect(owners).toHaveLength(1);

    const rows = await catalog.db.select().from(scheduleRuns);
    expect(rows.map((r) => r.period).sort()).toEqual([...periods].sort());
    for (const row of rows) expect(fired.get(row.period)).toEqual([row.firedBy]);

    // A restarted replica (new owner) does not fire the same period again.
    const restarted = replica("replica-c");
    expect((await restarted.tick(now)).outcome).toBe("taken");
  });

  it("a replica whose fire failed releases the period, and another replica fires it", async () => {
    const claims = catalogClaims(catalog.db);
    const failing = createSchedule({
      ...base,
      name: "release",
      owner: "failing",
      ...claims,
      fireAttempts: 1,
      fire: async () => {
        throw new Error("nats is down");
      },
    });
    const fired: string[] = [];
    const healthy = createSchedule({ ...base, name: "release", owner: "healthy", ...claims, fire: async (p) => void fired.push(p) });
    const now = new Date("2026-11-25T22:30:00Z");
    expect((await failing.tick(now)).outcome).toBe("failed");
    expect((await healthy.tick(new Date(now.getTime() + 60_000))).outcome).toBe("fired");
    expect(fired).toEqual(["2026-11-26T02:00+03:30"]);
  });
});
