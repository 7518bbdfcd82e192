import { and, eq } from "drizzle-orm";
import { scheduleRuns, type CatalogDb } from "@hesaab/db";
import { type ScheduleClaim, type ScheduleRelease } from "./schedule";

/**
 * Claims in the catalog table `backup.schedule_runs` (primary key schedule + period): the first
 * insert wins, every other gets nothing back. Survives restarts and holds across replicas.
 */
export function catalogClaims(db: CatalogDb): { claim: ScheduleClaim; release: ScheduleRelease } {
  return {
    async claim(schedule, period, owner) {
      const rows = await db
        .insert(scheduleRuns)
        .values({ schedule, period, firedBy: owner })
        .onConflictDoNothing()
        .returning({ schedule: scheduleRuns.schedule });
      return rows.length === 1;
    },
    async release(schedule, period, owner) {
      await db
        .delete(scheduleRuns)
        .where(and(eq(scheduleRuns.schedule, schedule), eq(scheduleRuns.period, period), eq(scheduleRuns.firedBy, owner)));
    },
  };
}

/** Claims held in this process only: for the CLI and unit tests, never for replicated services. */
export function memoryClaims(): { claim: ScheduleClaim; release: ScheduleRelease } {
  const taken = new Map<string, string>();
  return {
    async claim(schedule, period, owner) {
      const key = `${schedule}\u0000${period}`;
      if (taken.has(key)) return false;
      taken.set(key, owner);
      return true;
    },
    async release(schedule, period, owner) {
      const key = `${schedule}\u0000${period}`;
      if (taken.get(key) === owner) taken.delete(key);
    },
  };
}
