import { type ScheduleClaim, type ScheduleRelease } from "./schedule";

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
