// `pnpm bench:dr`: our disaster backup and restore beside the scripts an operator would write, in one run.
//
//   backup anchors:  (A1) `pg_dump -Fc | openssl enc -aes-256-ctr > file` (no upload: shown for continuity)
//                    (A2) A1, then the file uploaded to both local S3 endpoints by a plain SDK script
//                         (bench/s3-anchor.mjs: @aws-sdk/lib-storage's `Upload`), two processes at once
//                         as `upload b2 & upload r2; wait` would run them
//   ours:            backupPlatform: pg_dump -Fc (same snapshot as exact row counts) → BKP1 → both
//                    endpoints at once → every copy proved (the provider's ETag, or read back)
//   restore anchors: (R1) `pg_restore -jN` of the plain dump on local disk (shown for continuity)
//                    (R2) the encrypted file downloaded from one endpoint by the SDK script, piped
//                         through `openssl enc -d` to a file, then `pg_restore -jN`
//   ours:            restorePlatform: listing → both parts downloaded at once, the data part + SHA-256
//                    + authenticated decrypt to a temp file in one pass → pg_restore -jN of definitions
//                    and data, then of post-data with the exact row counts beside it
//
// Targets: ours ÷ A2 ≤ 1.1 and ours ÷ R2 ≤ 1.1, each a median over BENCH_ROUNDS rounds (a ratio per
// round, order alternating). Every row has a peak RSS: the stock tools' largest process (GNU time),
// ours the kernel's maxrss of the child process that ran it (pg_dump / pg_restore not included). The
// source database is generated with @hesaab/platform unless DR_BENCH_DATABASE_URL names one (it is
// only read). Machines here are shared and noisy: read the ratios, and run twice before believing a change.
//
//   BENCH_ROUNDS           rounds (default 1); medians and min–max are reported
//   DR_BENCH_DATABASE_URL  back up this database instead of generating one
//   DR_BENCH_SIZE_MB       COPY text to generate (default 300: a database of a few hundred MB)
//   DR_BENCH_QUICK=1       a quick small run (about 15 MB of COPY text)
//   DR_BENCH_JOBS          pg_restore jobs on every side (default 2)
//   DR_BENCH_BACKEND=fs    two local directories as providers instead of the s3rver endpoints (the
//                          anchors then `cp` the file into both and read it from one)
//   DR_BENCH_KEEP=1        keep the generated database
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Secret } from "@hesaab/config";
import { KeyRing } from "@hesaab/crypto";
import { generatePlatform } from "@hesaab/platform";
import { fsBackend, openBackend, withKeyPrefix, type StorageBackend } from "@hesaab/storage";
import { adminQuery, freshDatabase, testEnv, testProviders, type FreshDatabase } from "@hesaab/testkit";
import { benchChild, benchResult, benchRounds, emitReport, mb, ownPeakRssMiB, timedTool, type BenchRow } from "@hesaab/testkit/bench";
import { backupPlatform, restorePlatform } from "../src";

const JOBS = Number(process.env.DR_BENCH_JOBS ?? 2);
const TARGET = 1.1;

interface PhaseResult {
  seconds: number;
  peakRssMiB: number;
  /** CPU seconds of our process (user + system): pg_dump / pg_restore are not in it. */
  cpuSeconds: number;
  detail: Record<string, unknown>;
}

/**
 * Both local s3rver endpoints (default), or, with DR_BENCH_BACKEND=fs, two directories: s3rver is a
 * Node process per endpoint that takes CPU from pg_dump on a small machine; the fs run shows what our
 * own pipeline costs.
 */
function backends(): StorageBackend[] {
  if (process.env.DR_BENCH_BACKEND === "fs") {
    return (["b2", "r2"] as const).map((name) => fsBackend({ name, root: path.join(process.env.BENCH_FS_DIR!, name), create: true }));
  }
  const p = testProviders();
  return (["b2", "r2"] as const).map(
    (name) =>
      openBackend({
        backend: {
          kind: "s3",
          name,
          endpoint: p[name].endpoint,
          bucket: p[name].bucket,
          region: p[name].region,
          forcePathStyle: true,
          credentials: { accessKeyId: new Secret(p[name].accessKeyId), secretAccessKey: new Secret(p[name].secretAccessKey) },
        },
      }).backend,
  );
}

const keyRing = () => new KeyRing({ drMasterKeys: new Map([[1, new Secret(Buffer.from(process.env.BENCH_DR_KEY!, "hex"))]]) });

// ---- child: one of our phases ------------------------------------------------------------------

async function child(phase: string): Promise<void> {
  const started = performance.now();
  let detail: Record<string, unknown>;
  if (phase === "backup") {
    const r = await backupPlatform({
      platformUrl: process.env.BENCH_SOURCE_URL!,
      keyRing: keyRing(),
      backends: backends(),
      root: process.env.BENCH_ROOT!,
      gitCommit: null,
    });
    detail = {
      status: r.status,
      artifactBytes: r.data.size,
      verifiedBy: r.providers.map((p) => `${p.provider} ${p.verifiedBy ?? p.problem}`).join(", "),
      ...r.phasesMs,
    };
  } else {
    const r = await restorePlatform({
      latest: true,
      backends: backends(),
      keyRing: keyRing(),
      targetUrl: process.env.BENCH_TARGET_URL!,
      jobs: JOBS,
      root: process.env.BENCH_ROOT!,
      workDir: process.env.BENCH_WORK_DIR!,
    });
    if (!r.ok) throw new Error(`restore finished with ${r.mismatches} table(s) differing from the manifest`);
    detail = { providerUsed: r.providerUsed, ...r.durationsMs };
  }
  const cpu = process.cpuUsage();
  const result: PhaseResult = { seconds: (performance.now() - started) / 1000, peakRssMiB: ownPeakRssMiB(), cpuSeconds: (cpu.user + cpu.system) / 1e6, detail };
  benchResult(result);
}

function runChild(phase: string, env: Record<string, string>): Promise<PhaseResult> {
  return benchChild<PhaseResult>(import.meta.url, [], { ...process.env, ...env, BENCH_PHASE: phase });
}

// ---- parent: the anchors and the report ---------------------------------------------------------

function libpq(url: string): Record<string, string> {
  const u = new URL(url);
  return {
    PGHOST: u.hostname,
    PGPORT: u.port || "5432",
    PGUSER: decodeURIComponent(u.username || "postgres"),
    PGDATABASE: decodeURIComponent(u.pathname.slice(1)),
  };
}

async function source(): Promise<{ url: string; db?: FreshDatabase }> {
  if (process.env.DR_BENCH_DATABASE_URL) return { url: process.env.DR_BENCH_DATABASE_URL };
  const quick = process.env.DR_BENCH_QUICK === "1";
  const sizeMb = quick ? 15 : Number(process.env.DR_BENCH_SIZE_MB ?? 300);
  const db = await freshDatabase("dr_bench_src");
  // ≈ 1.55 MB of COPY text per unit of largeScale (tenant #1), plus a tail of 200 ordinary tenants (≈ 6 MB).
  const largeScale = Math.max(1, Math.round((sizeMb - 6) / 1.55));
  process.stderr.write(`generating a platform of about ${sizeMb} MB of COPY text (200 tenants, largeScale ${largeScale})…\n`);
  const started = performance.now();
  const generated = await generatePlatform({ url: db.url, tenants: 200, scale: 1, largeScale, seed: 5, skipForeignKeyChecks: true, concurrency: 2 });
  process.stderr.write(
    `generated ${(generated.bytes / 1e6).toFixed(0)} MB, ${Object.values(generated.rows).reduce((a, n) => a + n, 0)} rows in ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
  );
  return { url: db.url, db };
}

function sh(script: string, env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("bash", ["-c", `set -euo pipefail\n${script}`], { env: { ...process.env, ...env }, maxBuffer: 1 << 20 }, (err, _out, stderr) => {
      if (err) reject(new Error(`${script.split("\n")[0]} failed: ${stderr || err.message}`));
      else resolve();
    });
  });
}

/** Dirty buffers written out before a timed phase, so no phase pays for the one before it. */
async function settle(): Promise<void> {
  await adminQuery("checkpoint");
  await sh("sync");
}

async function cleanBucket(root: string): Promise<void> {
  for (const b of backends()) {
    const rooted = withKeyPrefix(b, root);
    for await (const entry of rooted.list("")) await rooted.delete(entry.key).catch(() => {});
  }
}

const ANCHOR = path.join(path.dirname(fileURLToPath(import.meta.url)), "s3-anchor.mjs");

/** The anchors' upload (A2) and download (R2) steps: the SDK script against both endpoints, or `cp` with DR_BENCH_BACKEND=fs. */
function anchorTransfer(objectKey: string): { upload: (file: string) => string; download: string } {
  if (process.env.DR_BENCH_BACKEND === "fs") {
    const dir = (name: string) => path.join(process.env.BENCH_FS_DIR!, name, path.dirname(objectKey));
    const at = (name: string) => path.join(dir(name), path.basename(objectKey));
    return {
      upload: (file) => `mkdir -p "${dir("b2")}" "${dir("r2")}"; cp "${file}" "${at("b2")}" & b=$!; cp "${file}" "${at("r2")}" & r=$!; wait $b; wait $r`,
      download: `cat "${at("b2")}"`,
    };
  }
  return {
    upload: (file) =>
      `node "${ANCHOR}" upload b2 "${file}" "${objectKey}" & b=$!; node "${ANCHOR}" upload r2 "${file}" "${objectKey}" & r=$!; wait $b; wait $r`,
    download: `node "${ANCHOR}" download b2 "${objectKey}"`,
  };
}

interface Rows {
  a1: BenchRow;
  a2: BenchRow;
  ourBackup: BenchRow;
  r1: BenchRow;
  r2: BenchRow;
  ourRestore: BenchRow;
}

function push(row: BenchRow, seconds: number, peakRssMiB: number | undefined): void {
  row.seconds.push(seconds);
  if (peakRssMiB !== undefined) (row.peakRssMiB ??= []).push(peakRssMiB);
}

/** One round: both backup anchors and ours, then both restore anchors and ours; `flip` changes who goes first. */
async function round(o: { srcUrl: string; work: string; key: string; root: string; childEnv: Record<string, string>; rows: Rows; flip: boolean }) {
  const { srcUrl, work, key, root, childEnv, rows, flip } = o;
  const encFile = path.join(work, "anchor.dump.enc");
  const dumpFile = path.join(work, "anchor.dump");
  const transfer = anchorTransfer(`${root}anchor/backup.dump.enc`);
  const encrypt = `pg_dump -Fc --no-password | openssl enc -aes-256-ctr -pbkdf2 -pass env:BENCH_PASS -out "${encFile}"`;
  const decrypt = `openssl enc -d -aes-256-ctr -pbkdf2 -pass env:BENCH_PASS`;
  // the SDK anchor reads the endpoints from its environment: the local stack's, from .stack/env when the shell has not loaded it
  const providers = Object.fromEntries(Object.entries(testEnv()).filter(([k]) => /^(B2|R2)_/.test(k)));
  const env = { ...providers, ...libpq(srcUrl), BENCH_PASS: key };
  const timed = async (row: BenchRow, command: string, extraEnv: Record<string, string> = {}) => {
    await settle();
    const run = timedTool(command, { env: { ...env, ...extraEnv } });
    push(row, run.seconds, run.peakRssMiB);
  };
  const ours = async (row: BenchRow, phase: string, extraEnv: Record<string, string> = {}) => {
    await settle();
    const r = await runChild(phase, { ...childEnv, BENCH_ROOT: root, ...extraEnv });
    push(row, r.seconds, r.peakRssMiB);
    return r;
  };
  const inFreshTarget = async <T>(prefix: string, fn: (target: FreshDatabase) => Promise<T>): Promise<T> => {
    const target = await freshDatabase(prefix);
    try {
      return await fn(target);
    } finally {
      await target.drop();
    }
  };

  const backupSteps = [
    () => timed(rows.a1, encrypt),
    () => timed(rows.a2, `${encrypt}\n${transfer.upload(encFile)}`),
    async () => {
      const r = await ours(rows.ourBackup, "backup");
      rows.ourBackup.note = backupNote(r);
    },
  ];
  for (const step of flip ? backupSteps.reverse() : backupSteps) await step();

  // The plain dump for R1 (not timed).
  await sh(`${decrypt} -in "${encFile}" -out "${dumpFile}"`, { BENCH_PASS: key });
  const restore = `pg_restore -j ${JOBS} --no-owner --exit-on-error --no-password -d "$PGDATABASE"`;
  const restoreSteps = [
    () => inFreshTarget("dr_bench_r1", (t) => timed(rows.r1, `${restore} "${dumpFile}"`, libpq(t.url))),
    () =>
      inFreshTarget("dr_bench_r2", (t) =>
        timed(rows.r2, `${transfer.download} | ${decrypt} -out "${dumpFile}.r2"\n${restore} "${dumpFile}.r2"; rm -f "${dumpFile}.r2"`, libpq(t.url)),
      ),
    () =>
      inFreshTarget("dr_bench_ours", async (t) => {
        const r = await ours(rows.ourRestore, "restore", { BENCH_TARGET_URL: t.url });
        rows.ourRestore.note = restoreNote(r);
      }),
  ];
  for (const step of flip ? restoreSteps.reverse() : restoreSteps) await step();
  await rm(dumpFile, { force: true });
  await rm(encFile, { force: true });
}

const s = (ms: unknown) => `${(Number(ms) / 1000).toFixed(2)} s`;
const backupNote = (r: PhaseResult) =>
  `last: artifact ${mb(Number(r.detail.artifactBytes))}, dump+upload ${s(r.detail.dump)}, config+proof ${s(r.detail.configAndVerify)}, CPU ${r.cpuSeconds.toFixed(2)} s; ${String(r.detail.verifiedBy)}`;
const restoreNote = (r: PhaseResult) =>
  `last: fetch ${s(r.detail.fetch)}, pg_restore ${s(r.detail.restore)} (counts ${s(r.detail.check)} beside its post-data step), CPU ${r.cpuSeconds.toFixed(2)} s`;

async function parent(): Promise<void> {
  const rounds = benchRounds();
  const src = await source();
  const work = await mkdtemp(path.join(os.tmpdir(), "dr-bench-"));
  const { rows: sizeRows } = await adminQuery("select pg_database_size($1) as s", [libpq(src.url).PGDATABASE]);
  const key = randomBytes(32).toString("hex");
  process.env.BENCH_FS_DIR = path.join(work, "buckets");
  const childEnv = { BENCH_SOURCE_URL: src.url, BENCH_DR_KEY: key, BENCH_WORK_DIR: work, BENCH_FS_DIR: process.env.BENCH_FS_DIR };
  const fs = process.env.DR_BENCH_BACKEND === "fs";
  const upload = fs ? "cp to both directories" : "SDK Upload to both endpoints";
  const rows: Rows = {
    a1: { label: "A1 pg_dump -Fc | openssl enc > file", seconds: [] },
    a2: { label: `A2 A1, then ${upload}`, seconds: [] },
    ourBackup: { label: "ours: backupPlatform", seconds: [] },
    r1: { label: `R1 pg_restore -j${JOBS} (local plain dump)`, seconds: [] },
    r2: { label: `R2 ${fs ? "cat" : "SDK download"} | openssl enc -d > file; pg_restore -j${JOBS}`, seconds: [] },
    ourRestore: { label: "ours: restorePlatform", seconds: [] },
  };
  const roots: string[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const root = `dr-bench-${Date.now().toString(36)}-${i}/`;
      roots.push(root);
      await round({ srcUrl: src.url, work, key, root, childEnv, rows, flip: i % 2 === 1 });
    }
  } finally {
    for (const root of roots) await cleanBucket(root).catch(() => {});
    await rm(work, { recursive: true, force: true });
    if (src.db && process.env.DR_BENCH_KEEP !== "1") await src.db.drop();
  }
  const per = (ours: BenchRow, anchor: BenchRow) => ours.seconds.map((t, i) => t / anchor.seconds[i]!);
  emitReport({
    bench: "dr",
    title: "disaster recovery: ours beside the scripts an operator would write",
    setup: [
      `database ${mb(Number(sizeRows[0].s))}; providers ${fs ? "two local directories" : "both local s3rver endpoints (Node processes on the same cores)"}; pg_restore -j${JOBS}`,
      "A2: the two uploads run as two processes at once (`upload b2 & upload r2; wait`), after the dump",
    ],
    rows: Object.values(rows),
    ratios: [
      { name: "backup", what: "ours ÷ A2", values: per(rows.ourBackup, rows.a2), target: TARGET },
      { name: "restore", what: "ours ÷ R2", values: per(rows.ourRestore, rows.r2), target: TARGET },
      { name: "backup", what: "ours ÷ A1 (no upload)", values: per(rows.ourBackup, rows.a1) },
      { name: "restore", what: "ours ÷ R1 (local plain dump)", values: per(rows.ourRestore, rows.r1) },
    ],
    notes: ["peak RSS of ours: our process alone (pg_dump / pg_restore not included); of the anchors: their largest process"],
  });
}

if (process.env.BENCH_PHASE) {
  child(process.env.BENCH_PHASE).catch((err: unknown) => {
    process.stderr.write(`${process.env.BENCH_PHASE} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
} else {
  parent().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
