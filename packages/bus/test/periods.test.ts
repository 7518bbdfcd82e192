import { describe, expect, it } from "vitest";
import { isHesaabError } from "@hesaab/config";
import { nextPeriod, periodAt, validateSchedule } from "../src";

const at = (iso: string) => new Date(iso);

/** Every period whose fire time falls in [from, to), by stepping nextPeriod. */
function firesBetween({ cron, timeZone, from, to }: { cron: string; timeZone: string; from: string; to: string }) {
  const out: Array<{ key: string; at: string }> = [];
  let now = new Date(at(from).getTime() - 1);
  for (;;) {
    const p = nextPeriod({ cron, timeZone, now });
    if (p.at >= at(to)) return out;
    out.push({ key: p.key, at: p.at.toISOString() });
    now = p.at;
  }
}

describe("periods in UTC", () => {
  const q = { cron: "0 2 * * *", timeZone: "UTC" };

  it("a fire time at exactly now belongs to the current period", () => {
    expect(periodAt({ ...q, now: at("2026-11-26T02:00:00Z") })).toEqual({ key: "2026-11-26T02:00+00:00", at: at("2026-11-26T02:00:00Z") });
    expect(periodAt({ ...q, now: at("2026-11-26T01:59:59.999Z") })?.key).toBe("2026-11-25T02:00+00:00");
  });

  it("the next period is strictly after now", () => {
    expect(nextPeriod({ ...q, now: at("2026-11-26T02:00:00Z") }).key).toBe("2026-11-27T02:00+00:00");
    expect(nextPeriod({ ...q, now: at("2026-11-26T01:59:59Z") }).key).toBe("2026-11-26T02:00+00:00");
  });

  it("handles sparse schedules (monthly, leap day)", () => {
    expect(periodAt({ cron: "0 2 1 * *", timeZone: "UTC", now: at("2026-11-26T12:00:00Z") })?.key).toBe("2026-11-01T02:00+00:00");
    expect(nextPeriod({ cron: "0 0 29 2 *", timeZone: "UTC", now: at("2026-11-26T12:00:00Z") }).key).toBe("2028-02-29T00:00+00:00");
  });
});

describe("periods in Asia/Tehran (+03:30)", () => {
  const q = { cron: "0 2 * * *", timeZone: "Asia/Tehran" };

  it("keys the period by the local fire time with its offset", () => {
    expect(periodAt({ ...q, now: at("2026-11-25T22:30:00Z") })).toEqual({ key: "2026-11-26T02:00+03:30", at: at("2026-11-25T22:30:00Z") });
    expect(periodAt({ ...q, now: at("2026-11-25T22:29:59Z") })?.key).toBe("2026-11-25T02:00+03:30");
    expect(nextPeriod({ ...q, now: at("2026-11-25T12:00:00Z") }).at).toEqual(at("2026-11-25T22:30:00Z"));
  });
});

describe("periods across DST in America/New_York", () => {
  it("spring forward: a nightly 02:30 that does not exist fires once, at 03:00 EDT", () => {
    const fires = firesBetween({ cron: "30 2 * * *", timeZone: "America/New_York", from: "2026-03-07T00:00:00Z", to: "2026-03-10T00:00:00Z" });
    expect(fires).toEqual([
      { key: "2026-03-07T02:30-05:00", at: "2026-03-07T07:30:00.000Z" },
      { key: "2026-03-08T03:00-04:00", at: "2026-03-08T07:00:00.000Z" },
      { key: "2026-03-09T02:30-04:00", at: "2026-03-09T06:30:00.000Z" },
    ]);
    expect(periodAt({ cron: "30 2 * * *", timeZone: "America/New_York", now: at("2026-03-08T12:00:00Z") })?.key).toBe("2026-03-08T03:00-04:00");
  });

  it("fall back: a nightly 01:30 that happens twice fires once, at the first", () => {
    const q = { cron: "30 1 * * *", timeZone: "America/New_York" };
    const fires = firesBetween({ ...q, from: "2026-10-31T00:00:00Z", to: "2026-11-03T00:00:00Z" });
    expect(fires).toEqual([
      { key: "2026-10-31T01:30-04:00", at: "2026-10-31T05:30:00.000Z" },
      { key: "2026-11-01T01:30-04:00", at: "2026-11-01T05:30:00.000Z" },
      { key: "2026-11-02T01:30-05:00", at: "2026-11-02T06:30:00.000Z" },
    ]);
    // During the second 01:30 (EST) the current period is still the first one, and the next is tomorrow.
    expect(periodAt({ ...q, now: at("2026-11-01T06:40:00Z") })?.key).toBe("2026-11-01T01:30-04:00");
    expect(nextPeriod({ ...q, now: at("2026-11-01T06:10:00Z") }).key).toBe("2026-11-02T01:30-05:00");
  });

  it("an hourly schedule gets one fire per wall-clock hour on the fall-back night", () => {
    const fires = firesBetween({ cron: "0 * * * *", timeZone: "America/New_York", from: "2026-11-01T04:30:00Z", to: "2026-11-01T08:30:00Z" });
    expect(fires.map((f) => f.key)).toEqual(["2026-11-01T01:00-04:00", "2026-11-01T02:00-05:00", "2026-11-01T03:00-05:00"]);
  });

  it("periodAt and nextPeriod agree every five minutes around DST transitions", () => {
    for (const [timeZone, start] of [
      ["America/New_York", "2026-03-08T05:00:00Z"],
      ["America/New_York", "2026-11-01T04:00:00Z"],
      ["Australia/Lord_Howe", "2026-10-03T13:00:00Z"], // a 30-minute shift
      ["Australia/Lord_Howe", "2026-04-04T13:00:00Z"],
    ] as const) {
      const q = { cron: "*/20 * * * *", timeZone };
      for (let t = at(start).getTime(); t < at(start).getTime() + 5 * 3_600_000; t += 5 * 60_000) {
        const now = new Date(t);
        const current = periodAt({ ...q, now })!;
        const next = nextPeriod({ ...q, now });
        expect(current.at.getTime()).toBeLessThanOrEqual(t);
        expect(next.at.getTime()).toBeGreaterThan(t);
        // Nothing fires between the current period and the next one.
        expect(nextPeriod({ ...q, now: current.at }).key).toBe(next.key);
        expect(periodAt({ ...q, now: next.at })?.key).toBe(next.key);
      }
    }
  });
});

describe("validation", () => {
  it("rejects a bad cron expression or zone with schedule_invalid", () => {
    for (const bad of [
      { cron: "not a cron", timeZone: "UTC" },
      { cron: "0 2 * * *", timeZone: "Mars/Olympus_Mons" },
    ]) {
      let caught: unknown;
      try {
        validateSchedule(bad);
      } catch (err) {
        caught = err;
      }
      expect(isHesaabError(caught, "schedule_invalid")).toBe(true);
    }
  });
});
