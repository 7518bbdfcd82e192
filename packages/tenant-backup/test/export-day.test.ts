// The daily limit's day boundary: when a tenant may ask for its next export, in the limit's time zone.
import { describe, expect, it } from "vitest";
import { exportDay, nextExportDayAt } from "../src/customer-export";

describe("nextExportDayAt", () => {
  it("is the next midnight in UTC", () => {
    expect(nextExportDayAt(new Date("2026-03-10T17:42:05Z"), "UTC").toISOString()).toBe("2026-03-11T00:00:00.000Z");
  });

  it("is the next local midnight in a zone half an hour off the hour (Tehran, +03:30)", () => {
    const at = new Date("2026-12-07T21:00:00Z"); // 00:30 on the 8th in Tehran
    expect(exportDay(at, "Asia/Tehran")).toBe("2026-12-08");
    expect(nextExportDayAt(at, "Asia/Tehran").toISOString()).toBe("2026-12-08T20:30:00.000Z");
  });

  it("counts a 23-hour day across a daylight-saving change (New York, March)", () => {
    const at = new Date("2026-03-08T05:00:00Z"); // midnight, the day clocks go forward
    expect(nextExportDayAt(at, "America/New_York").toISOString()).toBe("2026-03-09T04:00:00.000Z");
  });

  it("from the very first minute of a day is still that day's end", () => {
    expect(nextExportDayAt(new Date("2026-03-11T00:00:00Z"), "UTC").toISOString()).toBe("2026-03-12T00:00:00.000Z");
  });
});
