import { describe, expect, it } from "vitest";
import { createSchedule, memoryClaims, runSchedule, silentLogger, type TickResult } from "../src";

const at = (iso: string) => new Date(iso);
// 02:00 in Tehran is 22:30 UTC the day before.
const base = { name: "tenant-backups", cron: "0 2 * * *", timeZone: "Asia/Tehran", log: silentLogger, fireRetryDelayMs: 0 };

describe("createSchedule().tick", () => {
  it("fires once for the current period, then idles until the next", async () => {
    const fired: string[] = [];
    const s = createSchedule({ ...base, ...memoryClaims(), fire: async (p) => void fired.push(p) });
    expect((await s.tick(at("2026-11-25T22:30:00Z"))).outcome).toBe("fired");
    expect((await s.tick(at("2026-11-25T22:31:00Z"))).outcome).toBe("idle");
    expect((await s.tick(at("2026-11-26T22:30:00Z"))).outcome).toBe("fired");
    expect(fired).toEqual(["2026-11-26T02:00+03:30", "2026-11-27T02:00+03:30"]);
    expect(s.next(at("2026-11-26T22:30:00Z")).key).toBe("2026-11-28T02:00+03:30");
  });

  it("lets exactly one of two replicas sharing a claim store fire", async () => {
    const claims = memoryClaims();
    const fired: string[] = [];
    const a = createSchedule({ ...base, ...claims, owner: "a", fire: async (p) => void fired.push(`a:${p}`) });
    const b = createSchedule({ ...base, ...claims, owner: "b", fire: async (p) => void fired.push(`b:${p}`) });
    const now = at("2026-11-25T22:30:00.005Z");
    const outcomes = (await Promise.all([a.tick(now), b.tick(now)])).map((r) => r.outcome).sort();
    expect(outcomes).toEqual(["fired", "taken"]);
    expect(fired).toHaveLength(1);
  });

  it("does a fire missed while the process was down, if within the grace window", async () => {
    const fired: Array<{ period: string; lateMs: number }> = [];
    const s = createSchedule({
      ...base,
      ...memoryClaims(),
      graceMs: 30 * 60_000,
      fire: async (period, info) => void fired.push({ period, lateMs: info.lateMs }),
    });
    // The process starts at 02:10 local.
    const r = await s.tick(at("2026-11-25T22:40:00Z"));
    expect(r.outcome).toBe("fired");
    expect(fired).toEqual([{ period: "2026-11-26T02:00+03:30", lateMs: 10 * 60_000 }]);
  });

  it("skips a fire missed by more than the grace window", async () => {
    let calls = 0;
    const s = createSchedule({ ...base, ...memoryClaims(), graceMs: 30 * 60_000, fire: async () => void calls++ });
    const r = await s.tick(at("2026-11-25T23:30:00Z")); // 03:00 local
    expect(r).toMatchObject({ outcome: "missed", period: { key: "2026-11-26T02:00+03:30" } });
    expect((await s.tick(at("2026-11-25T23:31:00Z"))).outcome).toBe("idle");
    expect(calls).toBe(0);
  });

  it("retries a failing fire, releases the period after the last attempt, and fires it on a later tick", async () => {
    let calls = 0;
    const s = createSchedule({
      ...base,
      ...memoryClaims(),
      fireAttempts: 2,
      fire: async () => {
        calls++;
        if (calls <= 2) throw new Error("nats is down");
      },
    });
    const first = await s.tick(at("2026-11-25T22:30:00Z"));
    expect(first.outcome).toBe("failed");
    expect(calls).toBe(2);
    expect((await s.tick(at("2026-11-25T22:31:00Z"))).outcome).toBe("fired");
    expect(calls).toBe(3);
  });

  it("without a release, a failed period is not tried again (at most once)", async () => {
    let calls = 0;
    const { claim } = memoryClaims();
    const s = createSchedule({
      ...base,
      claim,
      fireAttempts: 1,
      fire: async () => {
        calls++;
        throw new Error("boom");
      },
    });
    expect((await s.tick(at("2026-11-25T22:30:00Z"))).outcome).toBe("failed");
    expect((await s.tick(at("2026-11-25T22:31:00Z"))).outcome).toBe("idle");
    expect(calls).toBe(1);
  });
});

describe("runSchedule", () => {
  it("ticks at start (a missed fire within grace) and stops on abort", async () => {
    const results: TickResult[] = [];
    const controller = new AbortController();
    const runner = runSchedule({
      ...base,
      ...memoryClaims(),
      now: () => at("2026-11-25T22:35:00Z"),
      signal: controller.signal,
      fire: async () => {},
      onTick: (r) => {
        results.push(r);
        controller.abort();
      },
    });
    await runner.done;
    expect(results.map((r) => [r.outcome, r.period?.key])).toEqual([["fired", "2026-11-26T02:00+03:30"]]);
  });
});
