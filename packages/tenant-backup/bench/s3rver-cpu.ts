// CPU used by the local S3 endpoints, for the benchmarks: s3rver runs in processes of its own, and on
// a 2-core machine its CPU is part of what a backup costs.
import { readFileSync, readdirSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on Linux x86-64). */
const CLOCK_TICKS = 100;

/** CPU seconds used so far by the s3rver processes on this machine (user + system, from /proc): every one, or those whose command line names `dir` (a stack's data directory). */
export function s3rverCpuSeconds(dir?: string): number {
  let ticks = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (!cmdline.includes("s3rver") || (dir !== undefined && !cmdline.includes(dir))) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks / CLOCK_TICKS;
}
