// A night of many small tenants on two backup-svc processes sharing the work queue (issue 19):
// tenants per second per worker, the workers' CPU and peak RSS, and the catalog rows the night wrote,
// beside one `pg_dump -Fc` of the same platform (BENCH_ROUNDS nights, alternating with the dump).
// Everything is private to the run: its own database, bus prefix, and two s3rver endpoints in a
// temporary folder (thousands of objects never land in the shared stack's buckets).
//
//   pnpm --filter @hesaab/backup-svc bench:night                    # 20,000 tenants (BENCH_TENANTS)
//   BENCH_TENANTS=500 pnpm --filter @hesaab/backup-svc bench:night  # a quick run
//   BENCH_WORKERS=1 …                                               # one worker instead of two
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { connectBus } from "@hesaab/bus";
import { migrate } from "@hesaab/db";
import { createPlatformSchema, generatePlatform } from "@hesaab/platform";
import { ensureStack, freshDatabase, stopStack } from "@hesaab/testkit";
import { benchRounds, emitReport, medianRun, timedTool, type ToolRun } from "@hesaab/testkit/bench";

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux); with `children`, also
 * its children that ended (a PostgreSQL server's backends, reaped by the postmaster).
 */
function cpuSeconds(pid: number, { children = false }: { children?: boolean } = {}): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number) as [number, number, number, number];
  return (utime + stime + (children ? cutime + cstime : 0)) / 100; // clock ticks (USER_HZ = 100)
}

/** Processes whose command name is `comm` (nats-server, postgres), from /proc. */
function processesNamed(comm: string): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/comm`, "utf8").trim() === comm;
      } catch {
        return false; // ended while we looked
      }
    })
    .map(Number);
}

/**
 * CPU seconds so far of the parts a night leans on: the bench's own two s3rver endpoints, the NATS
 * server, and the PostgreSQL server (every process of it, and its ended backends: shared with
 * whatever else runs on the machine, so an upper bound).
 */
function partsCpuSeconds(dir: string): Record<"s3rver" | "nats-server" | "postgres", number> {
  const sum = (pids: number[], children = false) =>
    pids.reduce((total, pid) => {
      try {
        return total + cpuSeconds(pid, { children });
      } catch {
        return total; // ended while we looked
      }
    }, 0);
  return {
    s3rver: sum(["b2", "r2"].map((name) => Number(readFileSync(path.join(dir, `${name}.pid`), "utf8")))),
    "nats-server": sum(processesNamed("nats-server")),
    postgres: sum(processesNamed("postgres"), true),
  };
}

/** Peak RSS of a process since it started (VmHWM), in MiB, from /proc (Linux). */
function peakRssMiB(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb ?? 0) / 1024;
}

/** Rows of every catalog table (schema "backup"). */
async function catalogRows(pool: pg.Pool): Promise<Record<string, number>> {
  const { rows: tables } = await pool.query<{ t: string }>("SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'backup' ORDER BY 1");
  const out: Record<string, number> = {};
  for (const { t } of tables) out[t] = Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM backup.${t}`)).rows[0]!.n);
  return out;
}

/** backup-svc as it is deployed: its bundle, dist/main.js (`pnpm build`), run by plain node, not through tsx. */
function bundleWorker(): void {
  log("bundling backup-svc (pnpm build: dist/main.js), to run it as it is deployed");
  const r = spawnSync("pnpm", ["run", "build"], { cwd: appDir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`pnpm build of backup-svc failed: ${r.stderr || r.stdout}`);
}

function startWorker(env: Record<string, string>, name: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["dist/main.js"], {
    cwd: appDir,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("backup-svc running")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`${name} exited ${code}: ${stderr}`)));
  });
}

async function main(): Promise<void> {
  const tenants = Number(process.env.BENCH_TENANTS ?? 20_000);
  const workers = Math.max(1, Number(process.env.BENCH_WORKERS ?? 2));
  const dir = await mkdtemp(path.join(os.tmpdir(), "hesaab-night-"));
  const db = await freshDatabase("bench_night");
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const prefix = `N${randomBytes(3).toString("hex")}`;
  const children: ChildProcess[] = [];
  try {
    const stack = await ensureStack({ dir, b2Port: await freePort(), r2Port: await freePort(), database: db.url.slice(db.url.lastIndexOf("/") + 1) });
    log(`generating ${tenants} small tenants …`);
    await createPlatformSchema({ url: db.url });
    const gen = await generatePlatform({ url: db.url, tenants, scale: 0.01, largeScale: 0.01 });
    const active = gen.tenants.filter((t) => t.status === "active").length;
    await migrate({ url: db.url });
    const control = await connectBus({ url: stack.env.NATS_URL!, name: "bench-night", prefix });
    await control.ensureStreams();
    try {
      const env = {
        ...stack.env,
        PLATFORM_DATABASE_URL: db.url,
        BACKUP_DATABASE_URL: db.url,
        HESAAB_BUS_PREFIX: prefix,
        BACKUP_SCHEDULE_ENABLED: "false",
        HESAAB_DATA_DIR: path.join(dir, "data"),
        BACKUP_SVC_HTTP_PORT: "0", // two workers on one machine: each its own health port
      };
      bundleWorker();
      for (let i = 0; i < workers; i++) children.push(await startWorker(env, `worker ${i + 1}`));
      const rounds = benchRounds();
      const runs = {
        dump: [] as ToolRun[],
        night: [] as {
          seconds: number;
          /** Seconds from the request to its last job queued (the fan-out). */
          fanOutSeconds: number;
          ok: number;
          failed: number;
          cpu: number[];
          parts: Record<string, number>;
          peakRssMiB: number;
          written: [string, number][];
        }[],
      };
      const dumpFile = path.join(dir, "platform.dump");
      for (let round = 1; round <= rounds; round++) {
        log(`round ${round}/${rounds}: pg_dump -Fc of the platform (the catalog's schema left out) …`);
        runs.dump.push(timedTool(`pg_dump -Fc -N backup -d '${db.url}' -f '${dumpFile}'`, { output: dumpFile }));
        await rm(dumpFile, { force: true });
        const cpuBefore = children.map((c) => cpuSeconds(c.pid!));
        const partsBefore = partsCpuSeconds(dir);
        const rowsBefore = await catalogRows(pool);
        const period = `bench-${prefix}-${round}`;
        log(`round ${round}/${rounds}: ${workers} worker(s) running; requesting the night for ${active} active tenants …`);
        const started = Date.now();
        await control.publish("backup.tenant.requested.v1", { all: true, purpose: "scheduled", period, requestedBy: "bench" }, { msgId: period });
        let done = { ok: 0, failed: 0 };
        while (done.ok + done.failed < active) {
          await new Promise((r) => setTimeout(r, 500));
          const { rows } = await pool.query<{ ok: string; failed: string }>(
            "SELECT count(*) FILTER (WHERE status IN ('completed', 'degraded')) AS ok, count(*) FILTER (WHERE status = 'failed') AS failed FROM backup.backup_records WHERE period = $1",
            [period],
          );
          done = { ok: Number(rows[0]!.ok), failed: Number(rows[0]!.failed) };
        }
        const seconds = (Date.now() - started) / 1000;
        const partsAfter = partsCpuSeconds(dir);
        const lastQueued = Date.parse((await control.jsm.streams.info(control.layout.stream("commands"))).state.last_ts);
        const rowsAfter = await catalogRows(pool);
        runs.night.push({
          seconds,
          fanOutSeconds: (lastQueued - started) / 1000,
          ...done,
          cpu: children.map((c, i) => cpuSeconds(c.pid!) - cpuBefore[i]!),
          parts: Object.fromEntries(Object.entries(partsAfter).map(([k, v]) => [k, v - partsBefore[k as keyof typeof partsBefore]])),
          peakRssMiB: Math.max(...children.map((c) => peakRssMiB(c.pid!))),
          written: Object.entries(rowsAfter)
            .map(([t, n]) => [t, n - (rowsBefore[t] ?? 0)] as [string, number])
            .filter(([, n]) => n > 0),
        });
      }
      const night = medianRun(runs.night);
      const cpu = night.cpu.reduce((a, b) => a + b, 0);
      const { rows: bytes } = await pool.query<{ b: string }>("SELECT coalesce(sum(file_size), 0) AS b FROM backup.backup_records WHERE period = $1", [
        `bench-${prefix}-1`,
      ]);
      emitReport({
        bench: "night",
        title: `A night on ${workers} backup-svc process(es) sharing one work queue (pnpm bench:night)`,
        setup: [`${active} active tenants (${tenants} generated, small), the bench's own database, bus prefix and s3rver endpoints`],
        rows: [
          {
            label: "pg_dump -Fc of the platform → file",
            seconds: runs.dump.map((d) => d.seconds),
            peakRssMiB: runs.dump.flatMap((d) => (d.peakRssMiB === undefined ? [] : [d.peakRssMiB])),
          },
          {
            label: `the night: every active tenant, ${workers} worker(s)`,
            seconds: runs.night.map((n) => n.seconds),
            peakRssMiB: runs.night.map((n) => n.peakRssMiB),
            note: `${(night.ok / night.seconds).toFixed(1)} tenants/s (${(night.ok / night.seconds / workers).toFixed(1)} per worker), worker CPU ${night.cpu.map((c) => `${c.toFixed(1)} s`).join(" + ")}`,
          },
        ],
        ratios: [{ name: "night/pg_dump", what: "the night ÷ one pg_dump -Fc", values: runs.night.map((n, i) => n.seconds / runs.dump[i]!.seconds) }],
        notes: [
          `completed ${runs.night.map((n) => n.ok).join(", ")}, failed ${runs.night.map((n) => n.failed).join(", ")} (per round); ${(night.ok / cpu).toFixed(1)} tenants per worker CPU second`,
          `fan-out: every job queued ${night.fanOutSeconds.toFixed(2)} s after the request`,
          `CPU of the parts during the night: ${Object.entries(night.parts)
            .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
            .join(", ")} (postgres: the whole server, shared with the machine)`,
          `artifacts ${(Number(bytes[0]!.b) / 1e6).toFixed(1)} MB per night; PUTs: ${night.ok * 2} per provider (artifact + sidecar)`,
          `catalog rows written per night: ${night.written.map(([t, n]) => `${t} ${n}`).join(", ")}`,
          "peak RSS: the larger worker's, since it started (VmHWM)",
        ],
      });
    } finally {
      for (const c of children) c.kill("SIGTERM");
      await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : Promise.resolve())));
      await control.deleteStreams().catch(() => undefined);
      await control.close();
    }
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    stopStack(dir);
    await pool.end();
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
