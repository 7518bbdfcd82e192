// `pnpm bench:dr`: our disaster backup and restore beside what an operator would do by hand, in one run.
//
//   backup:  `pg_dump -Fc | openssl enc -aes-256-ctr` to a file
//            vs backupPlatform: pg_dump -Fc (same snapshot as exact row counts) → BKP1 → both local S3
//            endpoints at once → size + SHA-256 read back from each
//   restore: `pg_restore -j2` of the same dump (a plain file on local disk)
//            vs restorePlatform: listing → download + SHA-256 → authenticated decrypt to a temp file →
//            pg_restore -j2 → row counts of every table checked against the manifest
//
// Targets: both ratios ≤ 1.1. Each of our phases runs in its own child process, so its peak RSS (the
// kernel's maxrss) is its own. The source database is generated with @hesaab/platform unless
// DR_BENCH_DATABASE_URL names one (it is only read). Machines here are shared and noisy: read the
// ratios, and run twice before believing a change.
//
//   DR_BENCH_DATABASE_URL  back up this database instead of generating one
//   DR_BENCH_SIZE_MB       COPY text to generate (default 300: a database of a few hundred MB)
//   DR_BENCH_QUICK=1       a quick small run (about 15 MB of COPY text)
//   DR_BENCH_ROUNDS        rounds per measurement, best kept (default 1; order alternates)
//   DR_BENCH_JOBS          pg_restore jobs on both sides (default 2)
//   DR_BENCH_BACKEND=fs    two local directories as providers instead of the s3rver endpoints
//   DR_BENCH_KEEP=1        keep the generated database
import { execFile, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Secret } from "@hesaab/config";
import { KeyRing } from "@hesaab/crypto";
import { generatePlatform } from "@hesaab/platform";
import { DISASTER_PREFIX, fsBackend, openBackend, withKeyPrefix, type StorageBackend } from "@hesaab/storage";
import { adminQuery, freshDatabase, testProviders, type FreshDatabase } from "@hesaab/testkit";
import { backupPlatform, restorePlatform } from "../src";

const JOBS = Number(process.env.DR_BENCH_JOBS ?? 2);
const TARGET = 1.1;

interface PhaseResult {
  seconds: number;
  maxRssMb: number;
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
    detail = { backupId: r.backupId, status: r.status, artifactBytes: r.data.size, tables: Object.keys(r.manifest.tables).length, ...r.phasesMs };
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
  const result: PhaseResult = { seconds: (performance.now() - started) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024, detail };
  process.send!(result, () => process.exit(0));
}

function runChild(phase: string, env: Record<string, string>): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const proc = fork(fileURLToPath(import.meta.url), [], {
      env: { ...process.env, ...env, BENCH_PHASE: phase },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let result: PhaseResult | undefined;
    proc.on("message", (m) => (result = m as PhaseResult));
    proc.on("error", reject);
    proc.on("exit", (code) => (code === 0 && result ? resolve(result) : reject(new Error(`${phase} child exited with ${code}`))));
  });
}

// ---- parent: the baselines and the report ------------------------------------------------------

function sh(script: string, env: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    execFile("bash", ["-c", `set -euo pipefail\n${script}`], { env: { ...process.env, ...env }, maxBuffer: 1 << 20 }, (err, _out, stderr) => {
      if (err) reject(new Error(`${script.split("\n")[0]} failed: ${stderr || err.message}`));
      else resolve((performance.now() - started) / 1000);
    });
  });
}

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

/** Dirty buffers written out before a timed phase, so no phase pays for the one before it. */
async function settle(): Promise<void> {
  await adminQuery("checkpoint");
  await sh("sync");
}

async function cleanBucket(root: string): Promise<void> {
  for (const b of backends()) {
    const rooted = withKeyPrefix(b, root);
    for await (const entry of rooted.list(DISASTER_PREFIX)) await rooted.delete(entry.key).catch(() => {});
  }
}

async function parent(): Promise<void> {
  const rounds = Math.max(1, Number(process.env.DR_BENCH_ROUNDS ?? 1));
  const src = await source();
  const work = await mkdtemp(path.join(os.tmpdir(), "dr-bench-"));
  const { rows } = await adminQuery("select pg_database_size($1) as s", [libpq(src.url).PGDATABASE]);
  const dbBytes = Number(rows[0].s);
  const key = randomBytes(32).toString("hex");
  process.env.BENCH_FS_DIR = path.join(work, "buckets");
  const childEnv = { BENCH_SOURCE_URL: src.url, BENCH_DR_KEY: key, BENCH_WORK_DIR: work, BENCH_FS_DIR: process.env.BENCH_FS_DIR };
  const roots: string[] = [];
  const best = { baseBackup: Infinity, ourBackup: Infinity, baseRestore: Infinity, ourRestore: Infinity };
  const rss = { backup: 0, restore: 0 };
  let dumpBytes = 0;
  let artifactBytes = 0;
  let lastRestore: Record<string, unknown> = {};
  let lastBackup: Record<string, unknown> = {};
  try {
    for (let round = 0; round < rounds; round++) {
      const root = `dr-bench-${Date.now().toString(36)}-${round}`;
      roots.push(root);
      const dumpFile = path.join(work, "baseline.dump");
      const encFile = path.join(work, "baseline.dump.enc");
      const baseBackup = async () => {
        await settle();
        return sh(`pg_dump -Fc --no-password | openssl enc -aes-256-ctr -pbkdf2 -pass env:BENCH_PASS -out "${encFile}"`, {
          ...libpq(src.url),
          BENCH_PASS: key,
        });
      };
      const ourBackup = async () => {
        await settle();
        return runChild("backup", { ...childEnv, BENCH_ROOT: root });
      };
      // Alternate who goes first, so neither always gets the warmer cache.
      let ours: PhaseResult;
      if (round % 2 === 0) {
        best.baseBackup = Math.min(best.baseBackup, await baseBackup());
        ours = await ourBackup();
      } else {
        ours = await ourBackup();
        best.baseBackup = Math.min(best.baseBackup, await baseBackup());
      }
      best.ourBackup = Math.min(best.ourBackup, ours.seconds);
      rss.backup = Math.max(rss.backup, ours.maxRssMb);
      artifactBytes = Number(ours.detail.artifactBytes);
      lastBackup = ours.detail;

      // The same dump, in the clear, for pg_restore (not timed).
      await sh(`openssl enc -d -aes-256-ctr -pbkdf2 -pass env:BENCH_PASS -in "${encFile}" -out "${dumpFile}"`, { BENCH_PASS: key });
      dumpBytes = (await stat(dumpFile)).size;
      // Each restore gets a fresh target dropped right after it, and a checkpoint before it, so
      // neither pays for the other's writeback or autovacuum.
      const baseRestore = async () => {
        await settle();
        const target = await freshDatabase("dr_bench_base");
        try {
          return await sh(`pg_restore -j ${JOBS} --no-owner --exit-on-error --no-password -d "$PGDATABASE" "${dumpFile}"`, libpq(target.url));
        } finally {
          await target.drop();
        }
      };
      const ourRestore = async () => {
        await settle();
        const target = await freshDatabase("dr_bench_ours");
        try {
          return await runChild("restore", { ...childEnv, BENCH_ROOT: root, BENCH_TARGET_URL: target.url });
        } finally {
          await target.drop();
        }
      };
      try {
        let r: PhaseResult;
        if (round % 2 === 0) {
          best.baseRestore = Math.min(best.baseRestore, await baseRestore());
          r = await ourRestore();
        } else {
          r = await ourRestore();
          best.baseRestore = Math.min(best.baseRestore, await baseRestore());
        }
        best.ourRestore = Math.min(best.ourRestore, r.seconds);
        rss.restore = Math.max(rss.restore, r.maxRssMb);
        lastRestore = r.detail;
      } finally {
        await rm(dumpFile, { force: true });
        await rm(encFile, { force: true });
      }
    }
  } finally {
    for (const root of roots) await cleanBucket(root).catch(() => {});
    await rm(work, { recursive: true, force: true });
    if (src.db && process.env.DR_BENCH_KEEP !== "1") await src.db.drop();
  }

  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const ratio = (a: number, b: number) => a / b;
  const line = ({ name, base, baseS, ourS }: { name: string; base: string; baseS: number; ourS: number }) => {
    const r = ratio(ourS, baseS);
    return `${name.padEnd(8)} ${base.padEnd(40)} ${baseS.toFixed(2).padStart(8)} s   ours ${ourS.toFixed(2).padStart(8)} s   ratio ${r.toFixed(3)}  ${r <= TARGET ? "ok" : `ABOVE ${TARGET}`}`;
  };
  const out = [
    `disaster recovery benchmark: database ${mb(dbBytes)}, dump ${mb(dumpBytes)}, artifact ${mb(artifactBytes)}, ${rounds} round(s), pg_restore -j${JOBS}, providers ${process.env.DR_BENCH_BACKEND === "fs" ? "two local directories" : "both local s3rver endpoints"}`,
    line({ name: "backup", base: "pg_dump -Fc | openssl enc -aes-256-ctr", baseS: best.baseBackup, ourS: best.ourBackup }),
    line({ name: "restore", base: `pg_restore -j${JOBS} (local dump file)`, baseS: best.baseRestore, ourS: best.ourRestore }),
    `our backup, last round: pg_dump + encrypt + upload ${(Number(lastBackup.dump) / 1000).toFixed(2)} s, config part + read-back of every copy ${(Number(lastBackup.configAndVerify) / 1000).toFixed(2)} s`,
    `our restore, last round: fetch + verify ${(Number(lastRestore.fetch) / 1000).toFixed(2)} s, pg_restore ${(Number(lastRestore.restore) / 1000).toFixed(2)} s, row-count check ${(Number(lastRestore.check) / 1000).toFixed(2)} s`,
    `peak RSS (our process): backup ${rss.backup.toFixed(0)} MB, restore ${rss.restore.toFixed(0)} MB (pg_dump / pg_restore processes not included)`,
  ];
  process.stdout.write(`${out.join("\n")}\n`);
  process.stdout.write(
    `${JSON.stringify({ backend: process.env.DR_BENCH_BACKEND ?? "s3", dbBytes, dumpBytes, artifactBytes, jobs: JOBS, rounds, seconds: best, ratios: { backup: ratio(best.ourBackup, best.baseBackup), restore: ratio(best.ourRestore, best.baseRestore) }, peakRssMb: rss })}\n`,
  );
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
