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
// backup's and not the generator's; the stock tools' peak RSS is read by GNU time. (a) runs once
// untimed first (warm cache), then every measurement BENCH_ROUNDS times, alternating; each ratio is
// computed per round and reported as its median and min–max (@hesaab/testkit/bench).
// Machines here are shared and noisy: read the ratios, run twice before believing a change, and
// never turn these numbers into test assertions.
//
// Environment: BENCH_TENANTS (2000), BENCH_LARGE_SCALE (190 ≈ 300 MB of COPY text for tenant #1),
// BENCH_SCALE (1, the tail), BENCH_CONCURRENCY (2), BENCH_QUICK=1 (200 tenants, large scale 19:
// ≈ 30 MB), BENCH_ROUNDS (1), BENCH_SKIP_FS=1 (no fs-backend runs), BENCH_KEEP=1 (keep the
// databases and objects).
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { Secret } from "@hesaab/config";
import { KeyRing, TenantKeyStore } from "@hesaab/crypto";
import { migrate, openCatalog } from "@hesaab/db";
import { createPlatformSchema, generatePlatform } from "@hesaab/platform";
import { openBackend, type StorageBackend } from "@hesaab/storage";
import { discoverTenantPlan, selectSql } from "@hesaab/tenant-data";
import { adminQuery, ensureStack, freshDatabase, readStackEnv, stopStack, testProviderConfig } from "@hesaab/testkit";
import {
  benchChild,
  benchResult,
  benchRounds,
  emitReport,
  mb,
  medianRun,
  ownPeakRssMiB,
  postgresCpuSeconds,
  s3rverCpuSeconds,
  timedTool,
  type BenchRow,
  type ToolRun,
} from "@hesaab/testkit/bench";
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
const ROUNDS = benchRounds();
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

/**
 * What a child backs up, where, and with which codec: `<unit>[-fs][:<codec>]`, e.g. `large`,
 * `all-fs`, `large:gzip`. `-fs`: two filesystem backends instead of the s3rver endpoints. Without
 * a codec, the deps' default (gzip 6).
 */
type Phase = string;

interface PhaseSpec {
  unit: "large" | "small" | "all";
  backend: "s3" | "fs";
  codec: string | undefined;
}

function parsePhase(phase: Phase): PhaseSpec {
  const m = /^(large|small|all)(-fs)?(?::([a-z0-9]+))?$/.exec(phase);
  if (!m) throw new Error(`unknown phase ${phase}: use <large|small|all>[-fs][:<codec>], e.g. large, all-fs, large:gzip`);
  return { unit: m[1] as PhaseSpec["unit"], backend: m[2] ? "fs" : "s3", codec: m[3] };
}

/** The deps a codec sets (a new codec is one more case here). */
function codecDeps(codec: string | undefined): Pick<TenantBackupDeps, "gzipLevel" | "compression" | "zstdLevel"> {
  if (codec === undefined || codec === "gzip") return { gzipLevel: 6 };
  if (codec === "zstd") return { gzipLevel: 6, compression: "zstd", zstdLevel: 3 };
  throw new Error(`codec ${codec} is not wired into the backup bench: add it to codecDeps()`);
}

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
  /** CPU seconds the PostgreSQL server used meanwhile (our export's backends, and the catalog's). */
  postgresCpuSeconds: number;
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
function openDeps(cfg: ChildConfig, spec: PhaseSpec): TenantBackupDeps & { close(): Promise<void> } {
  const platform = new pg.Pool({ connectionString: cfg.platformUrl, max: CONCURRENCY + 2, application_name: "hesaab-backup" });
  platform.on("error", () => {});
  const catalog = openCatalog({ url: cfg.catalogUrl });
  const tenantKeys = new TenantKeyStore({ pool: catalog.pool, masterKeys: new Map([[1, new Secret(Buffer.from(cfg.masterKeyHex, "hex"))]]) });
  return {
    platform,
    catalog,
    keyRing: new KeyRing({ tenantKeys }),
    backends: openProviders(cfg, spec.backend),
    retentionDays: 30,
    ...codecDeps(spec.codec),
    workDir: os.tmpdir(),
    async close() {
      await platform.end();
      await catalog.close();
    },
  };
}

async function runPhase(phase: Phase): Promise<PhaseResult> {
  const cfg = childConfig();
  const spec = parsePhase(phase);
  const deps = openDeps(cfg, spec);
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
    postgresCpuSeconds: 0,
  };
  const onProgress = (p: { bytes: number }): void => {
    const quarter = result.maxRssAtQuarters.length + 1;
    if (quarter <= 3 && p.bytes >= (cfg.largeBytes * quarter) / 4) result.maxRssAtQuarters.push(ownPeakRssMiB());
  };
  const count = (record: BackupRecord): void => {
    result.tenants++;
    result.artifactBytes += record.fileSize ?? 0;
    result.plaintextBytes += Number((record.metadata as { plaintextBytes?: number }).plaintextBytes ?? 0);
    result.statuses[record.status] = (result.statuses[record.status] ?? 0) + 1;
  };
  const one = async (tenantId: string): Promise<void> => {
    const { record } = await backupTenant(deps, { tenantId, purpose: "on_demand", requestedBy: "bench", ...(spec.unit === "large" ? { onProgress } : {}) });
    count(record);
  };
  const cpu = process.cpuUsage();
  const s3rverCpu = s3rverCpuSeconds(cfg.s3Dir);
  const postgresCpu = postgresCpuSeconds();
  const started = performance.now();
  if (spec.unit === "all") {
    // what `hesaab backup tenant --all` and the nightly run do: small tenants in batches, large ones alone
    const outcomes = await backupTenants(deps, { tenantIds: await activeTenants(deps), purpose: "on_demand", requestedBy: "bench", concurrency: CONCURRENCY });
    for (const o of outcomes) {
      if (!o.ok) throw o.error;
      count(o.record);
    }
  } else {
    await one(spec.unit === "small" ? cfg.smallTenant : cfg.largeTenant);
  }
  result.seconds = (performance.now() - started) / 1000;
  result.s3rverCpuSeconds = s3rverCpuSeconds(cfg.s3Dir) - s3rverCpu;
  result.postgresCpuSeconds = postgresCpuSeconds() - postgresCpu;
  const used = process.cpuUsage(cpu);
  result.cpuSeconds = (used.user + used.system) / 1e6;
  result.maxRssMb = ownPeakRssMiB();
  await deps.close();
  return result;
}

function inChild(phase: Phase, cfg: ChildConfig): Promise<PhaseResult> {
  return benchChild<PhaseResult>(import.meta.url, ["--phase", phase], { ...process.env, BENCH_CHILD_CONFIG: JSON.stringify(cfg) });
}

// ---------------------------------------------------------------------------------------------
// Parent side: the platform, the stock tools, the table.

/** A stock tool's run with what the PostgreSQL server used meanwhile (the backend that served it). */
type ServedRun = ToolRun & { postgresCpuSeconds: number };

function servedTool(command: string, opts: Parameters<typeof timedTool>[1]): ServedRun {
  const before = postgresCpuSeconds();
  const run = timedTool(command, opts);
  return { ...run, postgresCpuSeconds: postgresCpuSeconds() - before };
}

const CORES = os.availableParallelism();

/**
 * (e)'s floor on this machine, round by round, as a ratio to (c): the time the CPU of the others
 * alone fills on every core (s3rver and PostgreSQL during (e)) plus tenant #1's own CPU (in (d)),
 * as if the small tenants cost us nothing. A target under this floor cannot be reached by our
 * code on these cores, whatever it does.
 */
function floorPerRound(e: PhaseResult[], d: PhaseResult[], c: ServedRun[]): number[] {
  return e.map((r, i) => (r.s3rverCpuSeconds + r.postgresCpuSeconds + d[i]!.cpuSeconds) / CORES / c[i]!.seconds);
}

/** Where the cores went in the median rounds of (c) and (e): the CPU account behind e/c. */
function cpuAccount(c: ServedRun[], e: PhaseResult[]): string {
  const mc = medianRun(c);
  const me = medianRun(e);
  const s = (x: number | undefined): string => (x === undefined ? "–" : `${x.toFixed(1)} s`);
  return (
    `CPU account, median rounds, ${CORES} cores: (c) pg_dump ${s(mc.cpuSeconds)} + PostgreSQL ${s(mc.postgresCpuSeconds)} in ${s(mc.seconds)}; ` +
    `(e) ours ${s(me.cpuSeconds)} + s3rver ${s(me.s3rverCpuSeconds)} + PostgreSQL ${s(me.postgresCpuSeconds)} in ${s(me.seconds)}`
  );
}

/** Ours ÷ the anchor, round by round. */
function perRound(ours: { seconds: number }[], anchor: { seconds: number }[]): number[] {
  return ours.map((r, i) => r.seconds / anchor[i]!.seconds);
}

const mib = (x: number): string => `${x.toFixed(0)} MiB`;
const throughput = (bytes: number, seconds: number): string => `${(bytes / 1e6 / seconds).toFixed(1)} MB/s`;
const maxOf = <T>(runs: T[], f: (r: T) => number): number => Math.max(...runs.map(f));

/** A stock tool's row: its times, its peak RSS (GNU time), throughput over `bytesIn` and output size of the median run. */
function toolRow(label: string, runs: ToolRun[], bytesIn?: number): BenchRow {
  const m = medianRun(runs);
  return {
    label,
    seconds: runs.map((r) => r.seconds),
    peakRssMiB: runs.flatMap((r) => (r.peakRssMiB === undefined ? [] : [r.peakRssMiB])),
    note: [bytesIn ? throughput(bytesIn, m.seconds) : "", m.bytes ? mb(m.bytes) : ""].filter(Boolean).join(", "),
  };
}

/** One of our phases: its times, its peak RSS, and the median run's throughput, output, CPU (ours, s3rver's, PostgreSQL's) and RSS once loaded. */
function phaseRow(label: string, runs: PhaseResult[], bytesIn?: number): BenchRow {
  const m = medianRun(runs);
  const out = m.artifactBytes < 1e6 ? `${(m.artifactBytes / 1e3).toFixed(0)} kB ×2` : `${mb(m.artifactBytes)} ×2`;
  return {
    label,
    seconds: runs.map((r) => r.seconds),
    peakRssMiB: runs.map((r) => r.maxRssMb),
    note: [
      bytesIn ? throughput(bytesIn, m.seconds) : "",
      m.tenants > 1 ? `${m.tenants} tenants` : "",
      out,
      `our CPU ${m.cpuSeconds.toFixed(1)} s`,
      parsePhase(m.phase).backend === "s3" ? `s3rver ${m.s3rverCpuSeconds.toFixed(1)} s` : "",
      `PostgreSQL ${m.postgresCpuSeconds.toFixed(1)} s`,
      `loaded ${mib(m.startRssMb)}`,
    ]
      .filter(Boolean)
      .join(", "),
  };
}

/** Peak RSS after each quarter of tenant #1's data, and how much it grew after the first. */
function quarters(r: PhaseResult): string {
  const all = [...r.maxRssAtQuarters, r.maxRssMb];
  return `${all.map((x) => x.toFixed(0)).join(", ")} MiB (growth after the first quarter: ${mib(r.maxRssMb - all[0]!)})`;
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

async function main(): Promise<void> {
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
    timedTool(`${psql} -f ${q(toNull)}`);
    const skipFs = process.env.BENCH_SKIP_FS === "1";
    const runs = {
      a: [] as ToolRun[],
      b: [] as ToolRun[],
      bZstd: [] as ToolRun[],
      c: [] as ServedRun[],
      d: [] as PhaseResult[],
      dFs: [] as PhaseResult[],
      s: [] as PhaseResult[],
      e: [] as PhaseResult[],
      eFs: [] as PhaseResult[],
      dZstd: [] as PhaseResult[],
      eZstd: [] as PhaseResult[],
    };
    const onFs = async (phase: Phase): Promise<PhaseResult> => {
      mkdirSync(cfg.fsRoot, { recursive: true });
      try {
        return await inChild(phase, cfg);
      } finally {
        rmSync(cfg.fsRoot, { recursive: true, force: true });
      }
    };
    for (let round = 1; round <= ROUNDS; round++) {
      const of = ROUNDS > 1 ? ` (round ${round} of ${ROUNDS})` : "";
      log(`(a) psql \\copy to /dev/null${of}`);
      runs.a.push(timedTool(`${psql} -f ${q(toNull)}`));
      log(`(b) psql \\copy | gzip -6 | openssl enc -aes-256-ctr -pbkdf2 > file${of}`);
      runs.b.push(
        timedTool(`${psql} -f ${q(toStdout)} | gzip -6 | openssl enc -aes-256-ctr -pbkdf2 -pass pass:${OPENSSL_PASS} -out ${q(encFile)}`, { output: encFile }),
      );
      rmSync(encFile, { force: true });
      log(`(b') psql \\copy | zstd -3 | openssl enc -aes-256-ctr -pbkdf2 > file${of}`);
      runs.bZstd.push(
        timedTool(`${psql} -f ${q(toStdout)} | zstd -3 -q | openssl enc -aes-256-ctr -pbkdf2 -pass pass:${OPENSSL_PASS} -out ${q(encFile)}`, {
          output: encFile,
        }),
      );
      rmSync(encFile, { force: true });
      log(`(c) pg_dump -Fc of the whole database${of}`);
      runs.c.push(servedTool(`pg_dump -Fc -d ${q(platformDb.url)} -f ${q(dumpFile)}`, { output: dumpFile }));
      rmSync(dumpFile, { force: true });
      log(`(d) our backup of tenant #1 to both local S3 endpoints${of}`);
      runs.d.push(await inChild("large", cfg));
      log(`    the smallest active tenant (peak RSS beside the large one's)${of}`);
      runs.s.push(await inChild("small", cfg));
      log(`(e) our backup of every active tenant, ${CONCURRENCY} at once${of}`);
      runs.e.push(await inChild("all", cfg));
      log(`    tenant #1 and every active tenant again, BACKUP_COMPRESSION=zstd (level 3)${of}`);
      runs.dZstd.push(await inChild("large:zstd", cfg));
      runs.eZstd.push(await inChild("all:zstd", cfg));
      if (!skipFs) {
        log(`    tenant #1 and every active tenant again, to two fs backends${of}`);
        runs.dFs.push(await onFs("large-fs"));
        runs.eFs.push(await onFs("all-fs"));
      }
    }

    emitReport({
      bench: "backup",
      title: "Tenant backup benchmark",
      setup: [
        `platform: ${TENANTS} tenants (${active.length} active), scale ${SCALE}, tenant #1 × ${LARGE_SCALE}: ${mb(generated.bytes)} of COPY text, database ${mb(databaseBytes)} on disk`,
        `tenant #1: ${mb(large.bytes)} of COPY text in ${selects.length} tables; smallest active tenant ${(small.bytes / 1e3).toFixed(0)} kB; (e) ${CONCURRENCY} units at once`,
        `s3rver: the bench's own two endpoints, started on empty directories for this run`,
      ],
      rows: [
        toolRow("(a) psql \\copy → /dev/null", runs.a, large.bytes),
        toolRow("(b) psql \\copy | gzip -6 | openssl enc → file", runs.b, large.bytes),
        toolRow("(b') psql \\copy | zstd -3 | openssl enc → file", runs.bZstd, large.bytes),
        toolRow("(c) pg_dump -Fc, whole database → file", runs.c),
        phaseRow("(d) ours: tenant #1 → B2 + R2 (s3rver)", runs.d, large.bytes),
        ...(skipFs ? [] : [phaseRow("    ours: tenant #1 → two fs backends", runs.dFs, large.bytes)]),
        phaseRow("    ours: smallest tenant → B2 + R2", runs.s),
        phaseRow("(e) ours: every active tenant → B2 + R2", runs.e),
        ...(skipFs ? [] : [phaseRow("    ours: every active tenant → two fs backends", runs.eFs)]),
        phaseRow("(d) with zstd 3: tenant #1 → B2 + R2", runs.dZstd, large.bytes),
        phaseRow("(e) with zstd 3: every active tenant → B2 + R2", runs.eZstd),
      ],
      ratios: [
        { name: "d/a", what: "ours, tenant #1 ÷ psql \\copy", values: perRound(runs.d, runs.a) },
        { name: "d/b", what: "ours, tenant #1 ÷ psql | gzip | openssl", values: perRound(runs.d, runs.b), target: 1.0 },
        { name: "e/c", what: "ours, every tenant ÷ pg_dump -Fc", values: perRound(runs.e, runs.c), target: 1.5 },
        {
          name: "e/c floor",
          what: "e/c were the small tenants free: the others' CPU in (e) and tenant #1's own, ÷ cores",
          values: floorPerRound(runs.e, runs.d, runs.c),
        },
        { name: "d/a zstd", what: "ours with zstd 3, tenant #1 ÷ psql \\copy", values: perRound(runs.dZstd, runs.a) },
        { name: "d/b' zstd", what: "the same ÷ psql | zstd -3 | openssl", values: perRound(runs.dZstd, runs.bZstd), target: 1.0 },
        { name: "e/c zstd", what: "ours with zstd 3, every tenant ÷ pg_dump -Fc", values: perRound(runs.eZstd, runs.c) },
        ...(skipFs
          ? []
          : [
              { name: "d/b to fs", what: "the same, two fs backends", values: perRound(runs.dFs, runs.b) },
              { name: "e/c to fs", what: "the same, two fs backends", values: perRound(runs.eFs, runs.c) },
            ]),
      ],
      notes: [
        "per row: the median run's throughput over tenant #1's COPY text, output, our CPU, s3rver's CPU, PostgreSQL's CPU, RSS once loaded",
        cpuAccount(runs.c, runs.e),
        `peak RSS of one backup (target < 256 MiB): tenant #1 ${mib(maxOf(runs.d, (r) => r.maxRssMb))}, smallest tenant ${mib(maxOf(runs.s, (r) => r.maxRssMb))}`,
        `tenant #1's peak RSS after ¼, ½, ¾ and all of its data (median run): ${quarters(medianRun(runs.d))}`,
        `outcomes: d ${JSON.stringify(medianRun(runs.d).statuses)}, e ${JSON.stringify(medianRun(runs.e).statuses)}`,
      ],
    });
  } finally {
    if (keep) {
      const cfgFile = path.join(work, "child-config.json");
      writeFileSync(cfgFile, JSON.stringify(cfg));
      log(`kept: databases ${platformDb.name}, ${catalogDb.name}; objects under ${cfg.keyPrefix}; files in ${work}`);
      log(`run one phase again: BENCH_CHILD_CONFIG="$(cat ${cfgFile})" tsx bench/backup.bench.ts --phase <large|small|all>[-fs][:<codec>]`);
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
  benchResult(await runPhase(process.argv[phaseAt + 1] as Phase)); // run by hand (profiling a phase): printed
} else {
  await main();
}
