// The shared shape of every `pnpm bench:*`: rounds, timed stock tools (with their peak RSS), the
// machine's facts, and one table per benchmark (each measurement's median and min–max, its peak RSS,
// then each ratio's median and min–max over the rounds, against its target). `pnpm bench` runs them
// all and reads what each one wrote to `BENCH_RESULT_DIR` to print the summary.
//
// A ratio is computed per round (ours ÷ the anchor measured in the same round) and then summarised,
// so a slow round of the machine weighs on both sides of the ratio it belongs to.
import { fork, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bundleEsmSync, copyAddons } from "@hesaab/bundle/lib";

/** `BENCH_ROUNDS` (default 1): rounds of every measurement, alternating; medians are reported. */
export function benchRounds(): number {
  const raw = process.env.BENCH_ROUNDS;
  if (raw === undefined || raw === "") return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_ROUNDS must be a whole number ≥ 1, got ${raw}`);
  return n;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Median (the upper of the middle two for an even count), min and max. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error("spread of no values");
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** The run whose time is the median (the same rule as `spread`): its other figures go with it. */
export function medianRun<T extends { seconds: number }>(runs: readonly T[]): T {
  if (runs.length === 0) throw new Error("median of no runs");
  return [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(runs.length / 2)]!;
}

/** One thing measured: its time in every round, and the peak RSS of its largest process (MiB). */
export interface BenchRow {
  label: string;
  seconds: number[];
  /** Peak RSS per round (MiB); the table shows the largest. */
  peakRssMiB?: number[];
  /** A short free text shown after the row (an output size, a throughput). */
  note?: string;
}

/** A ratio of two rows, one value per round. */
export interface BenchRatio {
  name: string;
  /** What it divides, e.g. "ours ÷ pg_dump -Fc". */
  what: string;
  values: number[];
  /** Met when the median is at or below it. */
  target?: number;
}

export interface BenchReport {
  /** The script's name without `bench:` (backup, dr, restore, …): the result file's name. */
  bench: string;
  title: string;
  /** What was measured on (sizes, counts), one line each. */
  setup: string[];
  rows: BenchRow[];
  ratios: BenchRatio[];
  notes?: string[];
}

/** The report as one machine-readable object (what `pnpm bench` reads). */
export interface BenchResult extends BenchReport {
  date: string;
  machine: string[];
  rounds: number;
  ratioSpreads: (Spread & { name: string; what: string; target?: number; met?: boolean })[];
  peakRssMiB: number;
}

/** Sizes in bytes as people read them. */
export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return (r.stdout || r.stderr || "not installed").split("\n")[0]!.replace(/\*+/g, "").trim();
}

/** Cores, memory, load, and the versions of the tools the benchmarks compare with. */
export function machineFacts(): string[] {
  const cpus = os.cpus();
  return [
    `${cpus.length} cores (${cpus[0]?.model.trim() ?? "unknown"}), ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
    `node ${process.version}; ${firstLine("psql", ["--version"])}; ${firstLine("gzip", ["--version"])}; ${firstLine("zstd", ["--version"])}; ${firstLine("openssl", ["version"])}`,
  ];
}

export interface ToolRun {
  seconds: number;
  /** Size of `output` when one was named. */
  bytes: number;
  /** Peak RSS of the command's largest process (MiB), when GNU time is installed (`apt-get install time`). */
  peakRssMiB: number | undefined;
  /** CPU seconds (user + system) of the command and its children, with GNU time too: what a shared machine's noise touches least. */
  cpuSeconds: number | undefined;
  /** What the command printed, when asked for (`stdout: true`). */
  stdout: string;
}

const GNU_TIME = "/usr/bin/time";

/**
 * Runs a shell command line (bash, pipefail) and times it. Its peak RSS is the kernel's maxrss of
 * its largest process, and its CPU time that of all of them, read by GNU time. Throws with the command's stderr when it fails.
 */
export function timedTool(command: string, opts: { output?: string; env?: Record<string, string>; stdout?: boolean } = {}): ToolRun {
  const rssFile = path.join(os.tmpdir(), `bench-rss-${process.pid}-${Date.now()}`);
  const withTime = existsSync(GNU_TIME);
  const argv = withTime ? [GNU_TIME, "-f", "%M %U %S", "-o", rssFile, "bash", "-o", "pipefail", "-c", command] : ["bash", "-o", "pipefail", "-c", command];
  const started = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: "utf8",
    stdio: ["ignore", opts.stdout ? "pipe" : "ignore", "pipe"],
    maxBuffer: 16 << 20,
    env: { ...process.env, ...opts.env },
  });
  const seconds = (performance.now() - started) / 1000;
  if (r.status !== 0) throw new Error(`command failed (${r.status}): ${command}\n${r.stderr}`);
  let peakRssMiB: number | undefined;
  let cpuSeconds: number | undefined;
  if (withTime) {
    const [kb, user, system] = readFileSync(rssFile, "utf8").trim().split("\n").pop()!.split(" ").map(Number);
    if (Number.isFinite(kb)) peakRssMiB = kb! / 1024;
    if (Number.isFinite(user) && Number.isFinite(system)) cpuSeconds = user! + system!;
    rmSync(rssFile, { force: true });
  }
  return { seconds, bytes: opts.output ? statSync(opts.output).size : 0, peakRssMiB, cpuSeconds, stdout: r.stdout ?? "" };
}

// ---------------------------------------------------------------------------------------------
// Our side of a measurement runs in a child process of its own, so its peak RSS and CPU are its own.

const bundles = new Map<string, string>();

/** The folder of the package `file` belongs to: the nearest one above it with a package.json. */
function packageDir(file: string): string {
  let dir = path.dirname(file);
  while (!existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`${file} is not inside a package`);
    dir = parent;
  }
  return dir;
}

/** Bundles left by bench processes that are gone (killed before their exit handler ran). */
function removeOrphanBundles(cache: string): void {
  for (const name of readdirSync(cache)) {
    const pid = /^bench-child-(\d+)-/.exec(name)?.[1];
    if (pid === undefined || existsSync(`/proc/${pid}`)) continue;
    rmSync(path.join(cache, name), { recursive: true, force: true });
  }
}

/**
 * `entry` (a bench file) as one esbuild bundle for plain `node`, the way the services are deployed
 * (dist/, `hesaab-bundle`, with its settings and addons: @hesaab/bundle/lib), not run through tsx: tsx's loader thread (~45 MiB of RSS) and its
 * hooks would otherwise be counted as ours. Built once per process into a directory of its own
 * under the bench's package (node_modules/.cache: inside the checkout, so what looks for the
 * repository from its own file, as the stack's .stack/env, still finds it), with the workspace's
 * built native addons beside it, where each package looks for them in a bundle; removed when the
 * process exits, or by the next run when it was killed first.
 */
function bundled(entry: string): string {
  const cache = path.join(packageDir(entry), "node_modules", ".cache");
  mkdirSync(cache, { recursive: true });
  removeOrphanBundles(cache);
  const known = bundles.get(entry);
  if (known) return known;
  const dir = mkdtempSync(path.join(cache, `bench-child-${process.pid}-`));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const outfile = path.join(dir, `${path.basename(entry).replace(/\.ts$/, "")}.mjs`);
  bundleEsmSync({ entry, outfile });
  copyAddons(dir); // every built one: which packages a bench pulls in is the bundle's business
  bundles.set(entry, outfile);
  return outfile;
}

/**
 * Runs the bench file `entry` (its `import.meta.url`) bundled, in a child process with `args` and
 * `env`, and resolves to the one message it sends (its result) once it has exited with status 0.
 */
export function benchChild<T>(entry: string, args: string[], env: NodeJS.ProcessEnv): Promise<T> {
  const file = bundled(entry.startsWith("file:") ? fileURLToPath(entry) : entry);
  return new Promise((resolve, reject) => {
    const child = fork(file, args, { env, execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let got: { message: T } | undefined;
    child.once("message", (message) => (got = { message: message as T }));
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 && got ? resolve(got.message) : reject(new Error(`${path.basename(file)} ${args.join(" ")} exited with ${code}`)),
    );
  });
}

/** In a bench child: hands `result` to the parent (`benchChild`) and exits; run by hand, prints it as JSON. */
export function benchResult(result: unknown): void {
  if (process.send) process.send(result, () => process.exit(0));
  else process.stdout.write(`${JSON.stringify(result)}\n`);
}

// ---------------------------------------------------------------------------------------------
// The CPU account: on a 2-core machine the local S3 endpoints and PostgreSQL use the same cores as
// our backup, so a benchmark can say how much of a run's time the others' CPU alone accounts for.

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on Linux x86-64). */
const CLOCK_TICKS = 100;

/** The fields of /proc/<pid>/stat after the command name, or undefined when the process is gone. */
function procStat(pid: string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

function procText(pid: string, file: "cmdline" | "comm"): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return "";
  }
}

/** CPU seconds (user + system) used so far by the s3rver processes on this machine: every one, or those whose command line names `dir` (a stack's data directory). */
export function s3rverCpuSeconds(dir?: string): number {
  let ticks = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = procText(pid, "cmdline");
    if (!cmdline.includes("s3rver") || (dir !== undefined && !cmdline.includes(dir))) continue;
    const f = procStat(pid);
    if (f) ticks += Number(f[11]) + Number(f[12]); // utime, stime
  }
  return ticks / CLOCK_TICKS;
}

/**
 * CPU seconds used so far by the local PostgreSQL server: its living processes, plus what its ended
 * backends used (the postmaster's reaped children: a connection's backend exits with it). Read it
 * before and after a run: the difference is the server's work for that run (and for anyone else
 * using it meanwhile).
 */
export function postgresCpuSeconds(): number {
  let ticks = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid) || procText(pid, "comm").trim() !== "postgres") continue;
    const f = procStat(pid);
    if (!f) continue;
    ticks += Number(f[11]) + Number(f[12]); // utime, stime
    const parent = f[1]!;
    if (procText(parent, "comm").trim() !== "postgres") ticks += Number(f[13]) + Number(f[14]); // the postmaster: cutime, cstime
  }
  return ticks / CLOCK_TICKS;
}

/** This process's peak RSS so far (MiB): call it in the child that ran one of our phases. */
export function ownPeakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

const secs = (s: Spread) => `${s.median.toFixed(2)} s`.padStart(9) + `  ${s.min.toFixed(2)}–${s.max.toFixed(2)}`.padEnd(14);

/** The report as one table: rows (median time, min–max, peak RSS), then the ratios against their targets. */
export function formatReport(result: BenchResult): string {
  const width = Math.max(40, ...result.rows.map((r) => r.label.length), ...result.ratioSpreads.map((r) => r.name.length + r.what.length + 3));
  const lines = [
    "",
    `${result.title} (${result.date}, ${result.rounds} round${result.rounds === 1 ? "" : "s"}: medians, min–max)`,
    ...result.machine.map((l) => `  machine: ${l}`),
    ...result.setup.map((l) => `  ${l}`),
    "",
    `  ${"".padEnd(width)}       time  min–max        peak RSS`,
  ];
  for (const row of result.rows) {
    const rss = row.peakRssMiB?.length ? `${Math.max(...row.peakRssMiB).toFixed(0)} MiB`.padStart(8) : "       –";
    lines.push(`  ${row.label.padEnd(width)}  ${secs(spread(row.seconds))}  ${rss}${row.note ? `   ${row.note}` : ""}`);
  }
  lines.push("");
  for (const r of result.ratioSpreads) {
    const verdict = r.target === undefined ? "" : `   target ≤ ${r.target}: ${r.met ? "met" : "NOT met"}`;
    lines.push(`  ${`${r.name} (${r.what})`.padEnd(width)}  ${r.median.toFixed(2).padStart(7)}    ${r.min.toFixed(2)}–${r.max.toFixed(2)}${verdict}`);
  }
  for (const note of result.notes ?? []) lines.push(`  ${note}`);
  return `${lines.join("\n")}\n`;
}

/** Summarises, prints the table on stdout, and writes `<BENCH_RESULT_DIR>/<bench>.json` when that is set. */
export function emitReport(report: BenchReport): BenchResult {
  const ratioSpreads = report.ratios.map((r) => {
    const s = spread(r.values);
    return { name: r.name, what: r.what, ...s, ...(r.target === undefined ? {} : { target: r.target, met: s.median <= r.target }) };
  });
  const result: BenchResult = {
    ...report,
    date: new Date().toISOString(),
    machine: machineFacts(),
    rounds: Math.max(1, ...report.rows.map((r) => r.seconds.length)),
    ratioSpreads,
    peakRssMiB: Math.max(0, ...report.rows.flatMap((r) => r.peakRssMiB ?? [])),
  };
  process.stdout.write(formatReport(result));
  const dir = process.env.BENCH_RESULT_DIR;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `${report.bench}.json`), `${JSON.stringify(result, null, 2)}\n`);
  }
  return result;
}
