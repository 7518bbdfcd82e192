// Restore benchmark: one large tenant, its plaintext script replayed by psql and by loadTenantScript,
// side by side in one run (and the export, against psql's COPY … TO STDOUT of the same queries).
// Our steps run in child processes of their own, so each reports its own peak RSS. Row (d) is the whole
// restore of the encrypted artifact (checksum, authenticated decrypt to nowhere, then decrypt → gunzip → load).
//
//   pnpm bench:restore                 # ≈ 40 MB of COPY text (BENCH_MB=40): ~30,000 invoices, fine on 2 cores
//   BENCH_MB=300 pnpm bench:restore    # the large tenant
//   BENCH_ROUNDS=3 …                   # repeat the psql/ours restore pair, alternating; best of each shown
//   BENCH_VERIFY=0 …                   # skip comparing the loaded copy's checksums with the source's
//   BENCH_REPLACE=0 …                  # skip the replace-mode restore on the source
//   BENCH_FK_INDEXES=1 …               # add the indexes discovery reports missing before the replace
//                                      # (the sample schema lacks 10; without them, and without set-based
//                                      # checks, deletes are O(parents × children))
//   BENCH_ROW_BY_ROW=1 …               # also time the replace with PostgreSQL's row-by-row checks (slow)
//
// Row (c) is the replace restore with set-based integrity checks (issue 19): target < 2× row (a).
import { spawn } from "node:child_process";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { randomBytes } from "node:crypto";
import { openStaged, stageArtifact, storeArtifact, verifyStaged, type ArtifactRef } from "@hesaab/artifacts";
import { Secret } from "@hesaab/config";
import { newId } from "@hesaab/contracts";
import { KeyRing, TenantKeyStore } from "@hesaab/crypto";
import { migrate } from "@hesaab/db";
import { fsBackend } from "@hesaab/storage";
import { freshDatabase } from "@hesaab/testkit";
import { generatePlatform, tableChecksums } from "@hesaab/platform";
import { type ForeignKeyChecks, type LoadMode, discoverTenantPlan, exportTenant, loadTenantScript, selectSql } from "../src/index";
import { emptyCopy } from "../test/helpers";

const MB = 1e6;

interface ChildResult {
  seconds: number;
  /** CPU time of the process (user + system) during the step */
  cpuSeconds: number;
  maxRssMb: number;
  detail: Record<string, unknown>;
}

type ChildTask =
  | { kind: "export"; url: string; tenantId: string; file: string }
  | { kind: "load"; url: string; tenantId: string; file: string; mode: LoadMode; foreignKeyChecks?: ForeignKeyChecks }
  /** The whole restore of an artifact as a restore does it: stage (checksum), decrypt all to nowhere, then decrypt → gunzip → load. */
  | { kind: "artifact"; url: string; keysUrl: string; tenantId: string; root: string; ref: ArtifactRef; masterKey: string };

// ---------------------------------------------------------------- child side: one measured step
async function child(task: ChildTask): Promise<void> {
  const pool = new pg.Pool({ connectionString: task.url, max: 1 });
  try {
    let started = performance.now();
    let cpuAtStart = process.cpuUsage();
    let detail: Record<string, unknown>;
    if (task.kind === "export") {
      // discovery is timed apart: services cache the plan
      const client = await pool.connect();
      const plan = await discoverTenantPlan({ client });
      client.release();
      const discoverMs = performance.now() - started;
      started = performance.now();
      cpuAtStart = process.cpuUsage();
      const exp = await exportTenant({ pool, tenantId: task.tenantId, backupId: newId("bkp"), plan });
      await pipeline(exp.stream, createWriteStream(task.file, { highWaterMark: 1 << 20 }));
      const s = await exp.done;
      detail = { rows: s.rows, bytes: s.bytes, discoverMs };
    } else if (task.kind === "artifact") {
      const keys = TenantKeyStore.connect({ url: task.keysUrl, masterKeys: new Map([[1, new Secret(Buffer.from(task.masterKey, "base64"))]]) });
      try {
        const keyRing = new KeyRing({ tenantKeys: keys });
        const staged = await stageArtifact({ ref: task.ref, backends: [fsBackend({ name: "fs", root: task.root })], dir: join(task.root, "staging") });
        const verifiedBytes = await verifyStaged({ staged, keyRing });
        const verifyMs = performance.now() - started;
        const s = await loadTenantScript({ pool, tenantId: task.tenantId, script: await openStaged({ staged, keyRing }), mode: "into-empty" });
        await staged.remove();
        detail = { rows: s.rows, bytes: s.bytes, verifiedBytes, verifyMs };
      } finally {
        await keys.close();
      }
    } else {
      const s = await loadTenantScript({
        pool,
        tenantId: task.tenantId,
        script: createReadStream(task.file, { highWaterMark: 1 << 20 }),
        mode: task.mode,
        foreignKeyChecks: task.foreignKeyChecks,
      });
      detail = { rows: s.rows, deleted: s.deleted, bytes: s.bytes, foreignKeyChecks: s.foreignKeyChecks };
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuAtStart);
    const result: ChildResult = { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssMb: process.resourceUsage().maxRSS / 1024, detail };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await pool.end();
  }
}

// ---------------------------------------------------------------- parent side
function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

function exec(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.once("error", reject);
    p.once("exit", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${cmd} exited ${code}: ${stderr.slice(0, 2000)}`))));
  });
}

async function timed(cmd: string, args: string[]): Promise<number> {
  const started = performance.now();
  await exec(cmd, args);
  return (performance.now() - started) / 1000;
}

async function ours(task: ChildTask): Promise<ChildResult> {
  const out = await exec(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--child", JSON.stringify(task)]);
  return JSON.parse(out.trim().split("\n").at(-1)!) as ChildResult;
}

async function main(): Promise<void> {
  const targetMb = Number(process.env.BENCH_MB ?? 40);
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1));
  const verify = process.env.BENCH_VERIFY !== "0";
  const replace = process.env.BENCH_REPLACE !== "0";
  const fkIndexes = process.env.BENCH_FK_INDEXES === "1";
  const rowByRow = process.env.BENCH_ROW_BY_ROW === "1";

  const source = await freshDatabase("td_bench");
  const pool = new pg.Pool({ connectionString: source.url, max: 3 });
  const dir = await mkdtemp(join(tmpdir(), "tenant-restore-bench-"));
  const table: string[][] = [["step", "seconds", "MB/s", "ratio", "peak RSS MB", "client CPU s"]];
  try {
    log(`generating a platform with one tenant of ≈ ${targetMb} MB of COPY text …`);
    const gen = await generatePlatform({ pool, tenants: 10, scale: 0.2, largeScale: Math.max(0.25, targetMb / (1.55 * 0.2)), skipForeignKeyChecks: true });
    const tenant = gen.tenants[0]!;
    const tenantRows = Object.values(tenant.rows).reduce((a, b) => a + b, 0);
    log(`  tenant #1: ${(tenant.bytes / MB).toFixed(1)} MB of COPY text, ${tenantRows} rows`);
    const shape = Object.entries(tenant.rows)
      .filter(([, n]) => n >= 1000)
      .map(([t, n]) => `${t} ${n}`)
      .join(", ");

    const client = await pool.connect();
    const plan = await discoverTenantPlan({ client });
    client.release();

    // export: psql running the same COPY (SELECT …) TO STDOUT queries in one snapshot, output to /dev/null
    const literal = pg.escapeLiteral(tenant.id);
    const copies = [
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;",
      ...plan.tables.map((t) => `COPY (${selectSql({ plan, table: t, tenant: literal })}) TO STDOUT;`),
      "COMMIT;",
    ].join("\n");
    await writeFile(join(dir, "copies.sql"), copies);
    const scriptFile = join(dir, "tenant.sql");
    // export pairs, alternating: both to /dev/null; then ours to the file the restores replay
    const psqlExports: number[] = [];
    const ourExports: ChildResult[] = [];
    for (let r = 0; r < rounds; r++) {
      log(`round ${r + 1}/${rounds}: export, psql COPY TO STDOUT > /dev/null, then exportTenant > /dev/null …`);
      psqlExports.push(await timed("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", source.url, "-o", "/dev/null", "-f", join(dir, "copies.sql")]));
      ourExports.push(await ours({ kind: "export", url: source.url, tenantId: tenant.id, file: "/dev/null" }));
    }
    log("exportTenant > file …");
    const ourExport = await ours({ kind: "export", url: source.url, tenantId: tenant.id, file: scriptFile });
    const scriptBytes = (await stat(scriptFile)).size;
    const rate = (seconds: number) => (scriptBytes / MB / seconds).toFixed(0);

    // restore into empty copies, alternating psql and ours
    const psqlTimes: number[] = [];
    const ourTimes: ChildResult[] = [];
    let verified = "not checked";
    for (let r = 0; r < rounds; r++) {
      const a = await emptyCopy({ pool }, { prefix: "td_bench_psql", max: 2 });
      try {
        log(`round ${r + 1}/${rounds}: psql -f script.sql …`);
        psqlTimes.push(await timed("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", a.db.url, "-f", scriptFile]));
      } finally {
        await a.close();
      }
      const b = await emptyCopy({ pool }, { prefix: "td_bench_ours", max: 2 });
      try {
        log(`round ${r + 1}/${rounds}: loadTenantScript into-empty …`);
        ourTimes.push(await ours({ kind: "load", url: b.db.url, tenantId: tenant.id, file: scriptFile, mode: "into-empty" }));
        if (verify && r === 0) {
          log("  comparing the loaded copy's checksums with the source's …");
          const [x, y] = await Promise.all([tableChecksums({ pool, tenantId: tenant.id }), tableChecksums({ pool: b.pool, tenantId: tenant.id })]);
          verified = JSON.stringify(x) === JSON.stringify(y) ? "equal" : "DIFFERENT";
        }
      } finally {
        await b.close();
      }
    }

    // The same script as a stored artifact (gzip → BKP1, here in a local directory standing in for a
    // provider), restored the way `hesaab restore tenant --target-db` does it: stage, verify, load.
    log("encrypting the script into an artifact, then restoring it into an empty copy …");
    await migrate({ url: source.url });
    const masterKey = randomBytes(32).toString("base64");
    const keys = TenantKeyStore.connect({ url: source.url, masterKeys: new Map([[1, new Secret(Buffer.from(masterKey, "base64"))]]) });
    const backupId = newId("bkp");
    const root = join(dir, "provider");
    const identity = { kind: "tenant" as const, tenantId: tenant.id, backupId };
    const stored = await storeArtifact({
      plaintext: createReadStream(scriptFile, { highWaterMark: 1 << 20 }),
      identity,
      keyRing: new KeyRing({ tenantKeys: keys }),
      backends: [fsBackend({ name: "fs", root, create: true })],
      key: `tenants/${tenant.id}/${backupId}.sql.gz.bkp1`,
      gzipLevel: 6,
      meta: { type: "tenant", createdAt: new Date() },
    });
    await keys.close();
    const c = await emptyCopy({ pool }, { prefix: "td_bench_artifact", max: 2 });
    let fromArtifact: ChildResult;
    try {
      fromArtifact = await ours({
        kind: "artifact",
        url: c.db.url,
        keysUrl: source.url,
        tenantId: tenant.id,
        root,
        masterKey,
        ref: { key: stored.key, sha256: stored.sha256, size: stored.size, identity, sidecar: stored.sidecar },
      });
    } finally {
      await c.close();
    }

    let replaced: ChildResult | undefined;
    let replacedRowByRow: ChildResult | undefined;
    let replaceVerified = "not checked";
    if (replace) {
      if (fkIndexes && plan.unindexedForeignKeys.length > 0) {
        log(`adding the ${plan.unindexedForeignKeys.length} foreign-key indexes discovery reports missing …`);
        for (const f of plan.unindexedForeignKeys) {
          const t = plan.tables.find((x) => x.name === f.table)!;
          await pool.query(`CREATE INDEX ON ${t.sql} (${f.columns.map((c) => t.columns.find((x) => x.name === c)!.sql).join(", ")})`);
        }
        await pool.query("ANALYZE");
      }
      const everyone = async () => Promise.all(gen.tenants.map((t) => tableChecksums({ pool, tenantId: t.id })));
      const before = verify ? JSON.stringify(await everyone()) : "";
      log(`loadTenantScript replace on the source (unindexed keys: ${fkIndexes ? "indexed first" : plan.unindexedForeignKeys.length}) …`);
      replaced = await ours({ kind: "load", url: source.url, tenantId: tenant.id, file: scriptFile, mode: "replace" });
      // the source was the backup's state: the replace must give exactly it back, other tenants untouched
      if (verify) replaceVerified = JSON.stringify(await everyone()) === before ? "equal (every tenant)" : "DIFFERENT";
      if (rowByRow) {
        log("loadTenantScript replace with row-by-row checks (today's fallback) …");
        replacedRowByRow = await ours({
          kind: "load",
          url: source.url,
          tenantId: tenant.id,
          file: scriptFile,
          mode: "replace",
          foreignKeyChecks: "row-by-row",
        });
      }
    }

    const psqlBest = Math.min(...psqlTimes);
    const ourBest = ourTimes.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const psqlExport = Math.min(...psqlExports);
    const ourNull = ourExports.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    table.push(["export: psql COPY … TO STDOUT > /dev/null", psqlExport.toFixed(2), rate(psqlExport), "1.00", "-", "-"]);
    table.push([
      "export: exportTenant > /dev/null",
      ourNull.seconds.toFixed(2),
      rate(ourNull.seconds),
      (ourNull.seconds / psqlExport).toFixed(2),
      Math.max(...ourExports.map((e) => e.maxRssMb)).toFixed(0),
      ourNull.cpuSeconds.toFixed(2),
    ]);
    table.push([
      "export: exportTenant > file (disk)",
      ourExport.seconds.toFixed(2),
      rate(ourExport.seconds),
      (ourExport.seconds / psqlExport).toFixed(2),
      ourExport.maxRssMb.toFixed(0),
      ourExport.cpuSeconds.toFixed(2),
    ]);
    table.push(["(a) restore: psql -f script.sql, empty db", psqlBest.toFixed(2), rate(psqlBest), "1.00", "-", "-"]);
    table.push([
      "(b) restore: loadTenantScript into-empty",
      ourBest.seconds.toFixed(2),
      rate(ourBest.seconds),
      (ourBest.seconds / psqlBest).toFixed(2),
      Math.max(...ourTimes.map((t) => t.maxRssMb)).toFixed(0),
      ourBest.cpuSeconds.toFixed(2),
    ]);
    table.push([
      `(d) restore from the artifact (${(stored.size / MB).toFixed(0)} MB): stage + verify + load`,
      fromArtifact.seconds.toFixed(2),
      rate(fromArtifact.seconds),
      (fromArtifact.seconds / psqlBest).toFixed(2),
      fromArtifact.maxRssMb.toFixed(0),
      fromArtifact.cpuSeconds.toFixed(2),
    ]);
    const replaceRow = (label: string, r: ChildResult) =>
      table.push([label, r.seconds.toFixed(2), rate(r.seconds), (r.seconds / psqlBest).toFixed(2), r.maxRssMb.toFixed(0), r.cpuSeconds.toFixed(2)]);
    const indexes = fkIndexes ? "FK indexes added" : `${plan.unindexedForeignKeys.length} unindexed FKs`;
    if (replaced) replaceRow(`(c) restore: replace, ${String(replaced.detail.foreignKeyChecks)} checks (${indexes})`, replaced);
    if (replacedRowByRow) replaceRow(`(c') restore: replace, row-by-row checks (${indexes})`, replacedRowByRow);
    const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
    const lines = table.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
    process.stdout.write(
      [
        "",
        `tenant restore benchmark: ${(scriptBytes / MB).toFixed(1)} MB script, ${tenantRows} rows in ${plan.tables.length} tables, ${rounds} round(s) (best shown)`,
        "",
        lines[0]!,
        "-".repeat(lines[0]!.length),
        ...lines.slice(1),
        "",
        `restore ours/psql: load ${(ourBest.seconds / psqlBest).toFixed(2)}, whole restore from the artifact ${(fromArtifact.seconds / psqlBest).toFixed(2)} (target ≤ 1.00; of which verify ${(Number(fromArtifact.detail.verifyMs) / 1000).toFixed(2)} s); loaded copy vs source checksums: ${verified}`,
        `discovery (not in the export times): ${ourExports.map((e) => Number(e.detail.discoverMs).toFixed(0)).join(", ")} ms`,
        `every export round: psql ${psqlExports.map((t) => t.toFixed(2)).join(", ")} s; ours ${ourExports.map((t) => t.seconds.toFixed(2)).join(", ")} s`,
        `every restore round: psql ${psqlTimes.map((t) => t.toFixed(2)).join(", ")} s; ours ${ourTimes.map((t) => t.seconds.toFixed(2)).join(", ")} s`,
        `tenant shape: ${shape}`,
        replaced
          ? `replace: ${String(replaced.detail.deleted)} rows deleted, ${String(replaced.detail.rows)} loaded; replace/psql ${(replaced.seconds / psqlBest).toFixed(2)} (target < 2), peak RSS ${replaced.maxRssMb.toFixed(0)} MB; rows after vs the backup: ${replaceVerified}`
          : "",
        "",
      ].join("\n"),
    );
  } finally {
    await pool.end();
    await source.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

const at = process.argv.indexOf("--child");
if (at >= 0) await child(JSON.parse(process.argv[at + 1]!) as ChildTask);
else await main();
