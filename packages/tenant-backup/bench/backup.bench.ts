// `pnpm bench:backup` (issue 5): tenant backups measured side by side with what the stock tools do
// with the same rows, in ONE run on one generated platform (one large tenant and a long tail):
//
//   (a) psql \copy of the large tenant's tables to /dev/null (the SELECTs our export runs, from the
//       discovered plan, one `\copy (select …) to '/dev/null'` per table in one psql session);
//   (b) the same piped through `gzip -6 | openssl enc -aes-256-ctr -pbkdf2` to a file;
//   (c) `pg_dump -Fc` of the whole platform database to a file;
//   (d) our backup of the large tenant end to end (export → gzip → BKP1 → SHA-256 → both local S3
//       endpoints, sidecars, catalog record);
//   (e) our backup of every active tenant (backupTenants: small tenants in batches, large ones alone),
//       BENCH_CONCURRENCY units at once, one plan discovery.
//
// Plus, to see where the time and the memory go: (d) and (e) again to two filesystem backends
// instead of the s3rver endpoints (s3rver is a Node process on the same cores: its CPU is shown),
// a small tenant's backup (its peak RSS beside the large one's), and the large backup's peak RSS
// after each quarter of its data (flat = memory does not grow with the tenant's size).
//
// Each of our backups runs in its own child process, so its peak RSS (the kernel's maxrss) is the
// backup's and not the generator's. (a) runs once untimed first (warm cache), then a, b, c, d,
// e (BENCH_ROUNDS times, alternating).
// Machines here are shared and noisy: read the ratios, run twice before believing a change, and
// never turn these numbers into test assertions.
//
// Environment: BENCH_TENANTS (2000), BENCH_LARGE_SCALE (190 ≈ 300 MB of COPY text for tenant #1),
// BENCH_SCALE (1, the tail), BENCH_CONCURRENCY (2), BENCH_QUICK=1 (200 tenants, large scale 19:
// ≈ 30 MB), BENCH_ROUNDS (1: rounds of a, b, c, d, e, alternating; medians are shown),
// BENCH_SKIP_FS=1 (no fs-backend runs), BENCH_KEEP=1 (keep the databases and objects).
import { spawnSync, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { s3rverCpuSeconds } from "./s3rver-cpu";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { Secret } from "@hesaab/config";
import { KeyRing, TenantKeyStore } from "@hesaab/crypto";
import { migrate, openCatalog } from "@hesaab/db";
import { createPlatformSchema, generatePlatform } from "@hesaab/platform";
import { openBackend, type StorageBackend } from "@hesaab/storage";
import { discoverTenantPlan, selectSql } from "@hesaab/tenant-data";
import { adminQuery, ensureStack, freshDatabase, readStackEnv, stopStack, testProviderConfig } from "@hesaab/testkit";
import type { BackupRecord } from "@hesaab/db";
import { activeTenants, backupTenant, backupTenants, TENANT_BACKUP_UPLOAD, type TenantBackupDeps } from "../src";

// The SDK's notice that its 2027 releases need Node 22 (we pin it) would only clutter the table.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const QUICK = process.env.BENCH_QUICK === "1";
const TENANTS = envNumber("BENCH_TENANTS", QUICK ? 200 : 2000);
const LARGE_SCALE = envNumber("BENCH_LARGE_SCALE", QUICK ? 19 : 190);
const SCALE = envNumber("BENCH_SCALE", 1);
/** (e): units of work at once (a batch of small tenants, or one large tenant). */
const CONCURRENCY = envNumber("BENCH_CONCURRENCY", 2);
/** Rounds of (a), (b), (c), (d), (e), alternating; the table shows each one's median run. */
const ROUNDS = envNumber("BENCH_ROUNDS", 1);
const SEED = 1;
const MiB = 1024 * 1024;
/** openssl's password for (b): a throwaway, not a secret (the figure is the cipher's cost). */
const OPENSSL_PASS = "hesaab-bench";

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return n;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Child side: one of our backups, in a process of its own.

type Phase = "large" | "small" | "large-fs" | "all" | "all-fs";

interface PhaseResult {
  phase: Phase;
  seconds: number;
  cpuSeconds: number;
  /** RSS once everything was loaded and the deps opened, before the first backup. */
  startRssMb: number;
  maxRssMb: number;
  tenants: number;
  /** Stored artifact bytes (ciphertext) and exported plaintext bytes, summed over tenants. */
  artifactBytes: number;
  plaintextBytes: number;
  statuses: Record<string, number>;
  /** Peak RSS so far when a quarter, half, three quarters of the (single) tenant's script had been exported. */
  maxRssAtQuarters: number[];
  /** CPU seconds the s3rver processes used while this phase ran (they may also serve other users of the stack). */
  s3rverCpuSeconds: number;
}

interface ChildConfig {
  /** The S3 settings of the bench's own pair of local endpoints (B2_*, R2_*), laid over the environment. */
  s3Env: Record<string, string>;
  /** Their data directory: their processes are the ones whose CPU is counted. */
  s3Dir: string;
  platformUrl: string;
  catalogUrl: string;
  masterKeyHex: string;
  keyPrefix: string;
  fsRoot: string;
  largeTenant: string;
  /** COPY text bytes of the large tenant (for the RSS quarters). */
  largeBytes: number;
  smallTenant: string;
}

function childConfig(): ChildConfig {
  const cfg = JSON.parse(process.env.BENCH_CHILD_CONFIG!) as ChildConfig;
  Object.assign(process.env, cfg.s3Env); // testProviderConfig reads the endpoints from the environment
  return cfg;
}

/** Ports nothing listens on now, for the bench's own S3 endpoints. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve) => {
          const server = net.createServer();
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** The providers of a run: both local S3 endpoints (under the run's key prefix), or two directories. */
function openProviders(cfg: ChildConfig, kind: "s3" | "fs"): StorageBackend[] {
  if (kind === "fs") {
    return (["b2", "r2"] as const).map((name) => openBackend({ backend: { kind: "fs", name, root: path.join(cfg.fsRoot, name), create: true } }).backend);
  }
  return (["b2", "r2"] as const).map((name) => {
    return openBackend({
      backend: { ...testProviderConfig(name), ...TENANT_BACKUP_UPLOAD },
      keyPrefix: cfg.keyPrefix,
    }).backend;
  });
}

/** Deps wired as `openTenantBackupDeps` wires them, with the bench's databases, key and providers. */
function openDeps(cfg: ChildConfig, kind: "s3" | "fs"): TenantBackupDeps & { close(): Promise<void> } {
  const platform = new pg.Pool({ connectionString: cfg.platformUrl, max: CONCURRENCY + 2, application_name: "hesaab-backup" });
  platform.on("error", () => {});
  const catalog = openCatalog({ url: cfg.catalogUrl });
  const tenantKeys = new TenantKeyStore({ pool: catalog.pool, masterKeys: new Map([[1, new Secret(Buffer.from(cfg.masterKeyHex, "hex"))]]) });
  return {
    platform,
    catalog,
    keyRing: new KeyRing({ tenantKeys }),
    backends: openProviders(cfg, kind),
    retentionDays: 30,
    gzipLevel: 6,
    workDir: os.tmpdir(),
    async close() {
      await platform.end();
      await catalog.close();
    },
  };
}

async function runPhase(phase: Phase): Promise<PhaseResult> {
  const cfg = childConfig();
  const deps = openDeps(cfg, phase.endsWith("-fs") ? "fs" : "s3");
  const result: PhaseResult = {
    phase,
    seconds: 0,
    cpuSeconds: 0,
    startRssMb: process.memoryUsage().rss / MiB,
    maxRssMb: 0,
    tenants: 0,
    artifactBytes: 0,
    plaintextBytes: 0,
    statuses: {},
    maxRssAtQuarters: [],
    s3rverCpuSeconds: 0,
  };
  const onProgress = (p: { bytes: number }): void => {
    const quarter = result.maxRssAtQuarters.length + 1;
    if (quarter <= 3 && p.bytes >= (cfg.largeBytes * quarter) / 4) result.maxRssAtQuarters.push(process.resourceUsage().maxRSS / 1024);
  };
  const count = (record: BackupRecord): void => {
    result.tenants++;
    result.artifactBytes += record.fileSize ?? 0;
    result.plaintextBytes += Number((record.metadata as { plaintextBytes?: number }).plaintextBytes ?? 0);
    result.statuses[record.status] = (result.statuses[record.status] ?? 0) + 1;
  };
  const one = async (tenantId: string): Promise<void> => {
    const { record } = await backupTenant(deps, { tenantId, purpose: "on_demand", requestedBy: "bench", ...(phase.startsWith("large") ? { onProgress } : {}) });
    count(record);
  };
  const cpu = process.cpuUsage();
  const s3rverCpu = s3rverCpuSeconds(cfg.s3Dir);
  const started = performance.now();
  if (phase.startsWith("all")) {
    // what `hesaab backup tenant --all` and the nightly run do: small tenants in batches, large ones alone
    const outcomes = await backupTenants(deps, { tenantIds: await activeTenants(deps), purpose: "on_demand", requestedBy: "bench", concurrency: CONCURRENCY });
    for (const o of outcomes) {
      if (!o.ok) throw o.error;
      count(o.record);
    }
  } else {
    await one(phase === "small" ? cfg.smallTenant : cfg.largeTenant);
  }
  result.seconds = (performance.now() - started) / 1000;
  result.s3rverCpuSeconds = s3rverCpuSeconds(cfg.s3Dir) - s3rverCpu;
  const used = process.cpuUsage(cpu);
  result.cpuSeconds = (used.user + used.system) / 1e6;
  result.maxRssMb = process.resourceUsage().maxRSS / 1024;
  await deps.close();
  return result;
}

function inChild(phase: Phase, cfg: ChildConfig): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ["--phase", phase], {
      env: { ...process.env, BENCH_CHILD_CONFIG: JSON.stringify(cfg) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let got: PhaseResult | undefined;
    child.once("message", (m) => (got = m as PhaseResult));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 && got ? resolve(got) : reject(new Error(`phase ${phase} exited with ${code}`))));
  });
}

// ---------------------------------------------------------------------------------------------
// Parent side: the platform, the stock tools, the table.

interface ToolResult {
  seconds: number;
  bytes: number;
}

/** Runs a shell command line (bash, pipefail) and times it; throws with its stderr when it fails. */
function timed(command: string, output?: string): ToolResult {
  const started = performance.now();
  const r = spawnSync("bash", ["-o", "pipefail", "-c", command], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
  const seconds = (performance.now() - started) / 1000;
  if (r.status !== 0) throw new Error(`command failed (${r.status}): ${command}\n${r.stderr}`);
  return { seconds, bytes: output ? statSync(output).size : 0 };
}

/** The run with the median time (the upper one of the middle two for an even count). */
function median<T extends { seconds: number }>(runs: T[]): T {
  return [...runs].sort((x, y) => x.seconds - y.seconds)[Math.floor(runs.length / 2)]!;
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

async function removeObjects(cfg: ChildConfig): Promise<number> {
  let removed = 0;
  for (const backend of openProviders(cfg, "s3")) {
    const keys: string[] = [];
    for await (const entry of backend.list("")) keys.push(entry.key);
    for (let i = 0; i < keys.length; i += 16) {
      await Promise.all(keys.slice(i, i + 16).map((k) => backend.delete(k)));
    }
    removed += keys.length;
  }
  return removed;
}

function machineFacts(): string {
  const cpus = os.cpus();
  return [
    `machine: ${cpus.length} cores (${cpus[0]?.model.trim() ?? "unknown"}), ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
    `node ${process.version}; ${firstLine("psql", ["--version"])}; ${firstLine("pg_dump", ["--version"])}; ${firstLine("gzip", ["--version"])}; ${firstLine("openssl", ["version"])}`,
  ].join("\n");
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return (r.stdout || r.stderr || "?").split("\n")[0]!.trim();
}

async function main(): Promise<void> {
  const facts = machineFacts();
  log(facts);
  await ensureStack({ log });
  const work = mkdtempSync(path.join(os.tmpdir(), "backup-bench-"));
  // Our own pair of local S3 endpoints on empty directories: s3rver's cost per put grows with what
  // it already holds (measured: 1.1 ms of CPU on an empty directory, 2.7-3.0 ms in the shared stack
  // after a day of test runs), so leftovers of other runs must not weigh on these figures.
  const s3Dir = path.join(work, "s3");
  const [b2Port, r2Port] = await freePorts(2);
  await ensureStack({ log, dir: s3Dir, b2Port, r2Port });
  const s3Env = Object.fromEntries(Object.entries(readStackEnv(s3Dir)).filter(([k]) => /^(B2|R2)_/.test(k)));
  Object.assign(process.env, s3Env);
  const platformDb = await freshDatabase("bench");
  const catalogDb = await freshDatabase("benchcat");
  const cfg: ChildConfig = {
    s3Env,
    s3Dir,
    platformUrl: platformDb.url,
    catalogUrl: catalogDb.url,
    masterKeyHex: randomBytes(32).toString("hex"),
    keyPrefix: `bench-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}/`,
    fsRoot: path.join(work, "fs"),
    largeTenant: "",
    largeBytes: 0,
    smallTenant: "",
  };
  const keep = process.env.BENCH_KEEP === "1";
  try {
    // The platform: tenant #1 large, the rest a long tail; the catalog in its own database, so (c)
    // dumps the platform alone.
    log(`generating ${TENANTS} tenants (scale ${SCALE}, tenant #1 × ${LARGE_SCALE}) into ${platformDb.name}`);
    await createPlatformSchema({ url: platformDb.url });
    const generated = await generatePlatform({
      url: platformDb.url,
      tenants: TENANTS,
      scale: SCALE,
      seed: SEED,
      largeScale: LARGE_SCALE,
      skipForeignKeyChecks: true,
      onProgress: (p) => log(`  ${p.tenantsDone}/${p.tenantsTotal} tenants, ${(p.bytes / MiB).toFixed(0)} MiB`),
    });
    await migrate({ url: catalogDb.url });
    const large = generated.tenants[0]!;
    const active = generated.tenants.filter((t) => t.status === "active");
    const small = active[active.length - 1]!;
    cfg.largeTenant = large.id;
    cfg.largeBytes = large.bytes;
    cfg.smallTenant = small.id;
    log(
      `generated ${(generated.bytes / MiB).toFixed(0)} MiB of COPY text in ${(generated.durationMs / 1000).toFixed(0)} s; tenant #1 ${(large.bytes / MiB).toFixed(0)} MiB`,
    );

    // The SELECTs our export runs for tenant #1, from the discovered plan.
    const client = new pg.Client({ connectionString: platformDb.url });
    await client.connect();
    let selects: string[];
    let databaseBytes: number;
    try {
      const plan = await discoverTenantPlan({ client });
      const tenant = client.escapeLiteral(large.id);
      selects = plan.tables.map((table) => selectSql({ plan, table, tenant }).replace(/\s+/g, " "));
      const { rows } = await client.query<{ size: string }>("select pg_database_size(current_database()) as size");
      databaseBytes = Number(rows[0]!.size);
    } finally {
      await client.end();
    }
    const toNull = path.join(work, "copy-null.sql");
    const toStdout = path.join(work, "copy-stdout.sql");
    writeFileSync(toNull, selects.map((s) => `\\copy (${s}) to '/dev/null'\n`).join(""));
    writeFileSync(toStdout, selects.map((s) => `\\copy (${s}) to stdout\n`).join(""));
    const psql = `psql -X -q -v ON_ERROR_STOP=1 -d ${q(platformDb.url)}`;
    const encFile = path.join(work, "tenant.copy.gz.enc");
    const dumpFile = path.join(work, "platform.dump");

    log("warming the cache: (a) once, untimed");
    timed(`${psql} -f ${q(toNull)}`);
    const skipFs = process.env.BENCH_SKIP_FS === "1";
    const runs = {
      a: [] as ToolResult[],
      b: [] as ToolResult[],
      c: [] as ToolResult[],
      d: [] as PhaseResult[],
      dFs: [] as PhaseResult[],
      e: [] as PhaseResult[],
    };
    for (let round = 1; round <= ROUNDS; round++) {
      const of = ROUNDS > 1 ? ` (round ${round} of ${ROUNDS})` : "";
      log(`(a) psql \\copy to /dev/null${of}`);
      runs.a.push(timed(`${psql} -f ${q(toNull)}`));
      log(`(b) psql \\copy | gzip -6 | openssl enc -aes-256-ctr -pbkdf2 > file${of}`);
      runs.b.push(timed(`${psql} -f ${q(toStdout)} | gzip -6 | openssl enc -aes-256-ctr -pbkdf2 -pass pass:${OPENSSL_PASS} -out ${q(encFile)}`, encFile));
      rmSync(encFile, { force: true });
      log(`(c) pg_dump -Fc of the whole database${of}`);
      runs.c.push(timed(`pg_dump -Fc -d ${q(platformDb.url)} -f ${q(dumpFile)}`, dumpFile));
      rmSync(dumpFile, { force: true });
      log(`(d) our backup of tenant #1 to both local S3 endpoints${of}`);
      runs.d.push(await inChild("large", cfg));
      if (!skipFs) {
        log(`    tenant #1 again, to two fs backends${of}`);
        mkdirSync(cfg.fsRoot, { recursive: true });
        runs.dFs.push(await inChild("large-fs", cfg));
        rmSync(cfg.fsRoot, { recursive: true, force: true });
      }
      log(`(e) our backup of every active tenant, ${CONCURRENCY} at once${of}`);
      runs.e.push(await inChild("all", cfg));
    }
    const [a, b, c, d, e] = [median(runs.a), median(runs.b), median(runs.c), median(runs.d), median(runs.e)];
    const dFs = runs.dFs.length > 0 ? median(runs.dFs) : undefined;
    log("    the smallest active tenant (peak RSS beside the large one's)");
    const s = await inChild("small", cfg);
    let eFs: PhaseResult | undefined;
    if (!skipFs) {
      log("    every active tenant again, to two fs backends");
      mkdirSync(cfg.fsRoot, { recursive: true });
      eFs = await inChild("all-fs", cfg);
      rmSync(cfg.fsRoot, { recursive: true, force: true });
    }

    const copyBytes = d.plaintextBytes;
    const ratio = (x: number, y: number) => (x / y).toFixed(2);
    const mark = (ok: boolean) => (ok ? "met" : "NOT met");
    const mib = (x: number) => `${x.toFixed(0)} MiB`;
    const row = (o: { label: string; seconds: number; bytesIn?: number; out?: string; run?: PhaseResult }) =>
      [
        `  ${o.label.padEnd(52)}`,
        `${o.seconds.toFixed(2).padStart(7)} s`,
        o.bytesIn ? `${(o.bytesIn / 1e6 / o.seconds).toFixed(1).padStart(7)} MB/s` : " ".repeat(12),
        (o.out ?? "").padStart(14),
        o.run ? `${o.run.cpuSeconds.toFixed(1).padStart(6)} s` : " ".repeat(8),
        o.run && !o.run.phase.endsWith("-fs") ? `${o.run.s3rverCpuSeconds.toFixed(1).padStart(6)} s` : " ".repeat(8),
        o.run ? `${mib(o.run.maxRssMb).padStart(8)} (${mib(o.run.startRssMb)})` : "",
      ].join("  ");
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    const lines = [
      "",
      `Tenant backup benchmark, ${new Date().toISOString().slice(0, 10)}`,
      facts,
      `platform: ${TENANTS} tenants (${active.length} active), scale ${SCALE}, tenant #1 × ${LARGE_SCALE}: ${mb(generated.bytes)} of COPY text, database ${mb(databaseBytes)} on disk`,
      `tenant #1: ${mb(large.bytes)} of COPY text in ${selects.length} tables (our script ${mb(copyBytes)}); smallest active tenant ${(small.bytes / 1e3).toFixed(0)} kB`,
      "",
      `  ${"".padEnd(52)}     time    throughput         output  our CPU  s3rver CPU  peak RSS (start)`,
      row({ label: "(a) psql \\copy → /dev/null", seconds: a.seconds, bytesIn: copyBytes }),
      row({ label: "(b) psql \\copy | gzip -6 | openssl enc → file", seconds: b.seconds, bytesIn: copyBytes, out: mb(b.bytes) }),
      row({ label: "(c) pg_dump -Fc, whole database → file", seconds: c.seconds, out: mb(c.bytes) }),
      row({ label: "(d) ours: tenant #1 → B2 + R2 (s3rver)", seconds: d.seconds, bytesIn: copyBytes, out: `${mb(d.artifactBytes)} ×2`, run: d }),
      ...(dFs
        ? [row({ label: "    ours: tenant #1 → two fs backends", seconds: dFs.seconds, bytesIn: copyBytes, out: `${mb(dFs.artifactBytes)} ×2`, run: dFs })]
        : []),
      row({ label: "    ours: smallest tenant → B2 + R2", seconds: s.seconds, out: `${(s.artifactBytes / 1e3).toFixed(0)} kB ×2`, run: s }),
      row({ label: `(e) ours: ${e.tenants} tenants → B2 + R2, ${CONCURRENCY} at once`, seconds: e.seconds, out: `${mb(e.artifactBytes)} ×2`, run: e }),
      ...(eFs
        ? [row({ label: `    ours: ${eFs.tenants} tenants → two fs backends`, seconds: eFs.seconds, out: `${mb(eFs.artifactBytes)} ×2`, run: eFs })]
        : []),
      ...(ROUNDS > 1
        ? [
            "",
            `  medians of ${ROUNDS} rounds; min–max: ` +
              Object.entries(runs)
                .filter(([, r]) => r.length > 0)
                .map(([name, r]) => `${name} ${Math.min(...r.map((x) => x.seconds)).toFixed(2)}–${Math.max(...r.map((x) => x.seconds)).toFixed(2)} s`)
                .join(", "),
          ]
        : []),
      "",
      `  d/a = ${ratio(d.seconds, a.seconds)}`,
      `  d/b = ${ratio(d.seconds, b.seconds)}   target ≤ 1.0: ${mark(d.seconds <= b.seconds)}${dFs ? `   (to fs backends: ${ratio(dFs.seconds, b.seconds)})` : ""}`,
      `  e/c = ${ratio(e.seconds, c.seconds)}   target ≤ 2.0: ${mark(e.seconds <= 2 * c.seconds)}${eFs ? `   (to fs backends: ${ratio(eFs.seconds, c.seconds)})` : ""}`,
      `  peak RSS of one backup: tenant #1 ${mib(d.maxRssMb)}, smallest tenant ${mib(s.maxRssMb)}   target < 256 MiB: ${mark(d.maxRssMb < 256)}` +
        `   (every tenant, ${CONCURRENCY} at once: ${mib(e.maxRssMb)})`,
      `  tenant #1's peak RSS after ¼, ½, ¾ and all of its data: ${[...d.maxRssAtQuarters, d.maxRssMb].map((x) => x.toFixed(0)).join(", ")} MiB` +
        ` (growth after the first quarter: ${mib(d.maxRssMb - (d.maxRssAtQuarters[0] ?? d.maxRssMb))})`,
      `  (errors/statuses: d ${JSON.stringify(d.statuses)}, e ${JSON.stringify(e.statuses)}; s3rver CPU: the bench's own two endpoints, started on empty directories for this run)`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    if (keep) {
      const cfgFile = path.join(work, "child-config.json");
      writeFileSync(cfgFile, JSON.stringify(cfg));
      log(`kept: databases ${platformDb.name}, ${catalogDb.name}; objects under ${cfg.keyPrefix}; files in ${work}`);
      log(`run one phase again: BENCH_CHILD_CONFIG="$(cat ${cfgFile})" tsx bench/backup.bench.ts --phase large|small|large-fs|all|all-fs`);
      log(`remove it all:       BENCH_CHILD_CONFIG="$(cat ${cfgFile})" tsx bench/backup.bench.ts --clean`);
    } else {
      log("cleaning up (objects, databases, files)");
      const removed = await removeObjects(cfg).catch((err: unknown) => {
        log(`could not remove the objects under ${cfg.keyPrefix}: ${String(err)}`);
        return 0;
      });
      log(`  removed ${removed} objects`);
      await platformDb.drop();
      await catalogDb.drop();
      stopStack(s3Dir);
      rmSync(work, { recursive: true, force: true });
    }
  }
}

/** `--clean`: remove what a BENCH_KEEP run kept (its objects and both databases), given its child config. */
async function clean(): Promise<void> {
  const cfg = childConfig();
  log(`removed ${await removeObjects(cfg)} objects under ${cfg.keyPrefix}`);
  for (const url of [cfg.platformUrl, cfg.catalogUrl]) {
    const name = new URL(url).pathname.slice(1);
    await adminQuery(`drop database if exists "${name.replace(/"/g, '""')}" with (force)`);
    log(`dropped database ${name}`);
  }
  stopStack(cfg.s3Dir);
  rmSync(path.dirname(cfg.fsRoot), { recursive: true, force: true });
}

const phaseAt = process.argv.indexOf("--phase");
if (process.argv.includes("--clean")) {
  await clean();
} else if (phaseAt >= 0) {
  const result = await runPhase(process.argv[phaseAt + 1] as Phase);
  // Run by hand (profiling a phase): print the result instead.
  if (process.send) process.send(result, () => process.exit(0));
  else process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  await main();
}
