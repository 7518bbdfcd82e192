// Claims of a schedule's periods (@hesaab/bus's `runSchedule` takes them), kept in the catalog.
import { and, eq } from "drizzle-orm";
import type { CatalogDb } from "./client";
import { scheduleRuns } from "./schema";

/**
 * Claims in the catalog table `backup.schedule_runs` (primary key schedule + period): the first
 * insert wins, every other gets nothing back. Survives restarts and holds across replicas.
 */
export function catalogClaims(db: CatalogDb): {
  claim: (schedule: string, period: string, owner: string) => Promise<boolean>;
  release: (schedule: string, period: string, owner: string) => Promise<void>;
} {
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
      await db.delete(scheduleRuns).where(and(eq(scheduleRuns.schedule, schedule), eq(scheduleRuns.period, period), eq(scheduleRuns.firedBy, owner)));
    },
  };
}
