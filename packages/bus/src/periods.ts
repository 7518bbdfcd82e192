import { CronExpressionParser, type CronExpression } from "cron-parser";
import { BusError } from "./errors";

/**
 * Periods of a cron schedule in a time zone.
 *
 * A cron expression names wall-clock times (`0 2 * * *`: 02:00 local). We enumerate those wall-clock
 * times with cron-parser in UTC (where no clock ever jumps) and map each to an instant in the zone:
 *  - a wall time that does not exist (spring forward, 02:30 in New York on DST day) fires at the
 *    first instant after the gap (03:00 EDT), so a nightly job still runs that night;
 *  - a wall time that happens twice (fall back, 01:30 in New York) fires at the first of them,
 *    once.
 * The mapping never goes backwards in time, so "the latest fire at or before now" and "the next fire
 * after now" are well defined. (cron-parser's own time-zone stepping disagrees with itself around
 * DST: `prev()` skips the spring-forward night, `next()` from inside the repeated hour yields a
 * second 01:30.) A period's key is its fire time in the zone, with the offset:
 * `2026-11-26T02:00+03:30`; two wall times that land on one instant share one period.
 */
export interface SchedulePeriod {
  /** `YYYY-MM-DDTHH:mm[:ss]±HH:MM`, the fire time in the schedule's zone: the dedup key of the period. */
  key: string;
  /** The fire instant. */
  at: Date;
}

export interface PeriodQuery {
  cron: string;
  timeZone: string;
  now: Date;
}

/** The latest period whose fire time is at or before `now` (undefined if the schedule never fired before). */
export function periodAt({ cron, timeZone, now }: PeriodQuery): SchedulePeriod | undefined {
  const zone = zoneOf(timeZone);
  // Wall times run at most a few hours from their instants: start a little after now's wall time and step back.
  const walls = parseCron(cron, new Date(zone.wallOf(now.getTime()) + SLACK_MS + 1));
  for (let i = 0; i < MAX_STEPS; i++) {
    const wall = step(() => walls.prev());
    if (wall === undefined) return undefined;
    const instant = zone.resolve(wall);
    if (instant <= now.getTime()) return zone.period(instant);
  }
  throw tooDense(cron);
}

/** The first period whose fire time is after `now`. */
export function nextPeriod({ cron, timeZone, now }: PeriodQuery): SchedulePeriod {
  const zone = zoneOf(timeZone);
  const walls = parseCron(cron, new Date(zone.wallOf(now.getTime()) - SLACK_MS - 1));
  for (let i = 0; i < MAX_STEPS; i++) {
    const wall = step(() => walls.next());
    if (wall === undefined) break;
    const instant = zone.resolve(wall);
    if (instant > now.getTime()) return zone.period(instant);
  }
  throw tooDense(cron);
}

/** Throws `schedule_invalid` unless the cron expression and the time zone are usable. */
export function validateSchedule({ cron, timeZone }: { cron: string; timeZone: string }): void {
  zoneOf(timeZone);
  parseCron(cron, new Date(0));
}

/** The next wall time from cron-parser, or undefined past the end of its range. */
function step(advance: () => { getTime(): number }): number | undefined {
  try {
    return advance().getTime();
  } catch {
    return undefined;
  }
}

const zones = new Map<string, Zone>();

function zoneOf(name: string): Zone {
  let zone = zones.get(name);
  if (!zone) {
    zone = new Zone(name);
    zones.set(name, zone);
  }
  return zone;
}

const SLACK_MS = 3 * 3_600_000; // more than any zone's clock shift (2 h at most)
const MAX_STEPS = 100_000;

function parseCron(cron: string, currentDate: Date): CronExpression {
  try {
    return CronExpressionParser.parse(cron, { tz: "UTC", currentDate, strict: false });
  } catch (err) {
    throw new BusError({
      code: "schedule_invalid",
      message: `invalid cron expression ${JSON.stringify(cron)}: ${(err as Error).message}`,
      hint: "Use five fields: minute hour day-of-month month day-of-week, e.g. 0 2 * * *",
      cause: err,
    });
  }
}

function tooDense(cron: string): BusError {
  return new BusError({ code: "schedule_invalid", message: `cron expression ${JSON.stringify(cron)} fires too often to schedule` });
}

/** Wall-clock arithmetic in one IANA zone. A "wall" time is the local date and time written as if it were UTC. */
class Zone {
  readonly #format: Intl.DateTimeFormat;

  constructor(readonly name: string) {
    try {
      this.#format = new Intl.DateTimeFormat("en-US", {
        timeZone: name,
        hourCycle: "h23",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      });
    } catch (err) {
      throw new BusError({
        code: "schedule_invalid",
        message: `unknown time zone ${JSON.stringify(name)}`,
        hint: "Use an IANA zone name such as Asia/Tehran or UTC",
        cause: err,
      });
    }
  }

  /** The wall time of an instant (ms). */
  wallOf(instant: number): number {
    const p: Record<string, number> = {};
    for (const part of this.#format.formatToParts(new Date(instant))) {
      if (part.type !== "literal") p[part.type] = Number(part.value);
    }
    const wall = Date.UTC(p.year!, p.month! - 1, p.day, p.hour, p.minute, p.second);
    return wall + (((instant % 1000) + 1000) % 1000);
  }

  /** Offset (ms) of the zone at an instant: wall - instant. */
  offsetAt(instant: number): number {
    return this.wallOf(instant) - instant;
  }

  /** The instant a wall time stands for: the first of two in a repeated hour, the end of the gap for a skipped one. */
  resolve(wall: number): number {
    const guesses = [this.offsetAt(wall - DAY_MS), this.offsetAt(wall + DAY_MS)].map((offset) => wall - offset);
    const exact = guesses.filter((instant) => this.wallOf(instant) === wall);
    if (exact.length) return Math.min(...exact);
    // In a gap: the offsets before and after it bracket the transition, the first instant whose
    // wall time is past `wall`.
    let lo = Math.min(...guesses); // wall time before `wall`
    let hi = Math.max(...guesses); // wall time after `wall`
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.wallOf(mid) > wall) hi = mid;
      else lo = mid;
    }
    return hi;
  }

  period(instant: number): SchedulePeriod {
    const wall = new Date(this.wallOf(instant));
    const offset = Math.round(this.offsetAt(instant) / 60_000);
    const sign = offset < 0 ? "-" : "+";
    const abs = Math.abs(offset);
    const seconds = wall.getUTCSeconds() ? `:${pad(wall.getUTCSeconds())}` : "";
    const key =
      `${wall.getUTCFullYear()}-${pad(wall.getUTCMonth() + 1)}-${pad(wall.getUTCDate())}` +
      `T${pad(wall.getUTCHours())}:${pad(wall.getUTCMinutes())}${seconds}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
    return { key, at: new Date(instant) };
  }
}

const DAY_MS = 86_400_000;
const pad = (n: number) => String(n).padStart(2, "0");
