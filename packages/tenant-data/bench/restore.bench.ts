// Restore benchmark: one large tenant, its plaintext script replayed by psql and by loadTenantScript,
// side by side in one run (and the export, against psql's COPY … TO STDOUT of the same queries).
// Our steps run in child processes of their own, so each reports its own peak RSS. Row (d) is the whole
// restore of the encrypted artifact (checksum, authenticated decrypt to nowhere, then decrypt → gunzip → load).
//
//   pnpm bench:restore                 # ≈ 40 MB of COPY text (BENCH_MB=40): ~30,000 invoices, fine on 2 cores
//   BENCH_MB=300 pnpm bench:restore    # the large tenant
//   BENCH_ROUNDS=3 …                   # every step 3 times, alternating; medians and min–max in one table
//   BENCH_VERIFY=0 …                   # skip comparing the loaded copy's checksums with the source's
//   BENCH_REPLACE=0 …                  # skip the replace-mode restore on the source
//   BENCH_FK_INDEXES=1 …               # add the indexes discovery reports missing before the replace
//                                      # (the sample schema lacks 10; without them, and without set-based
//                                      # checks, deletes are O(parents × children))
//   BENCH_ROW_BY_ROW=1 …               # also time the replace with PostgreSQL's row-by-row checks (slow)
//
// Row (c) is the replace restore with set-based integrity checks (issue 19): target < 2× row (a).
// Ratios are taken per round and summarised (median, min–max); `pnpm bench` collects them.
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { randomBytes } from "node:crypto";
import { openStaged, stageArtifact, storeArtifact, verifyStaged, type ArtifactRef } from "@hesaab/artifacts";
import { Secret } from "@hesaab/config";
import { newId } from "@hesaab/contracts";
import { KeyRing, TenantKeyStore } from "@hesaab/crypto";
import { migrate } from "@hesaab/db";
import { fsBackend } from "@hesaab/storage";
import { freshDatabase } from "@hesaab/testkit";
import { benchChild, benchResult, benchRounds, emitReport, medianRun, ownPeakRssMiB, timedTool, type ToolRun } from "@hesaab/testkit/bench";
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
async function child(task: ChildTask): Promise<ChildResult> {
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
    const result: ChildResult = { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssMb: ownPeakRssMiB(), detail };
    return result;
  } finally {
    await pool.end();
  }
}

// ---------------------------------------------------------------- parent side
function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

function ours(task: ChildTask): Promise<ChildResult> {
  return benchChild<ChildResult>(import.meta.url, ["--child", JSON.stringify(task)], process.env);
}

async function main(): Promise<void> {
  const targetMb = Number(process.env.BENCH_MB ?? 40);
  const rounds = benchRounds();
  const verify = process.env.BENCH_VERIFY !== "0";
  const replace = process.env.BENCH_REPLACE !== "0";
  const fkIndexes = process.env.BENCH_FK_INDEXES === "1";
  const rowByRow = process.env.BENCH_ROW_BY_ROW === "1";

  const source = await freshDatabase("td_bench");
  const pool = new pg.Pool({ connectionString: source.url, max: 3 });
  const dir = await mkdtemp(join(tmpdir(), "tenant-restore-bench-"));
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
    log("exportTenant > file (the script every restore below replays) …");
    const ourExport = await ours({ kind: "export", url: source.url, tenantId: tenant.id, file: scriptFile });
    const scriptBytes = (await stat(scriptFile)).size;
    const rate = (r: { seconds: number }) => `${(scriptBytes / MB / r.seconds).toFixed(0)} MB/s`;

    // The same script as a stored artifact (gzip → BKP1, here in a local directory standing in for a
    // provider), restored the way `hesaab restore tenant --target-db` does it: stage, verify, load.
    log("encrypting the script into an artifact …");
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
    const ref: ArtifactRef = { key: stored.key, sha256: stored.sha256, size: stored.size, identity, sidecar: stored.sidecar };

    if (replace && fkIndexes && plan.unindexedForeignKeys.length > 0) {
      log(`adding the ${plan.unindexedForeignKeys.length} foreign-key indexes discovery reports missing …`);
      for (const f of plan.unindexedForeignKeys) {
        const t = plan.tables.find((x) => x.name === f.table)!;
        await pool.query(`CREATE INDEX ON ${t.sql} (${f.columns.map((c) => t.columns.find((x) => x.name === c)!.sql).join(", ")})`);
      }
      await pool.query("ANALYZE");
    }
    const everyone = async () => JSON.stringify(await Promise.all(gen.tenants.map((t) => tableChecksums({ pool, tenantId: t.id }))));
    const before = replace && verify ? await everyone() : "";

    /** Our step into a fresh empty copy of the platform's schema (dropped after). */
    const intoEmpty = async (prefix: string, task: (url: string) => ChildTask, check?: (copy: pg.Pool) => Promise<void>): Promise<ChildResult> => {
      const copy = await emptyCopy({ pool }, { prefix, max: 2 });
      try {
        const r = await ours(task(copy.db.url));
        await check?.(copy.pool);
        return r;
      } finally {
        await copy.close();
      }
    };
    const runs = {
      psqlExport: [] as ToolRun[],
      ourExport: [] as ChildResult[],
      a: [] as ToolRun[],
      b: [] as ChildResult[],
      d: [] as ChildResult[],
      c: [] as ChildResult[],
      cRowByRow: [] as ChildResult[],
    };
    let verified = "not checked";
    let replaceVerified = "not checked";
    const psql = `psql -X -q -v ON_ERROR_STOP=1`;
    for (let r = 1; r <= rounds; r++) {
      const of = `round ${r}/${rounds}`;
      log(`${of}: export, psql COPY TO STDOUT > /dev/null, then exportTenant > /dev/null …`);
      runs.psqlExport.push(timedTool(`${psql} -d '${source.url}' -o /dev/null -f '${join(dir, "copies.sql")}'`));
      runs.ourExport.push(await ours({ kind: "export", url: source.url, tenantId: tenant.id, file: "/dev/null" }));
      log(`${of}: (a) psql -f script.sql into an empty copy …`);
      const a = await emptyCopy({ pool }, { prefix: "td_bench_psql", max: 2 });
      try {
        runs.a.push(timedTool(`${psql} -d '${a.db.url}' -f '${scriptFile}'`));
      } finally {
        await a.close();
      }
      log(`${of}: (b) loadTenantScript into-empty …`);
      runs.b.push(
        await intoEmpty(
          "td_bench_ours",
          (url) => ({ kind: "load", url, tenantId: tenant.id, file: scriptFile, mode: "into-empty" }),
          verify && r === 1
            ? async (copy) => {
                log("  comparing the loaded copy's checksums with the source's …");
                const [x, y] = await Promise.all([tableChecksums({ pool, tenantId: tenant.id }), tableChecksums({ pool: copy, tenantId: tenant.id })]);
                verified = JSON.stringify(x) === JSON.stringify(y) ? "equal" : "DIFFERENT";
              }
            : undefined,
        ),
      );
      log(`${of}: (d) restore from the artifact: stage + verify + load …`);
      runs.d.push(await intoEmpty("td_bench_artifact", (url) => ({ kind: "artifact", url, keysUrl: source.url, tenantId: tenant.id, root, masterKey, ref })));
      if (replace) {
        // the source is the backup's state: each replace must give exactly it back, other tenants untouched
        log(`${of}: (c) loadTenantScript replace on the source (unindexed keys: ${fkIndexes ? "indexed first" : plan.unindexedForeignKeys.length}) …`);
        runs.c.push(await ours({ kind: "load", url: source.url, tenantId: tenant.id, file: scriptFile, mode: "replace" }));
        if (verify && r === 1) replaceVerified = (await everyone()) === before ? "equal (every tenant)" : "DIFFERENT";
        if (rowByRow) {
          log(`${of}: (c') loadTenantScript replace with row-by-row checks …`);
          runs.cRowByRow.push(
            await ours({ kind: "load", url: source.url, tenantId: tenant.id, file: scriptFile, mode: "replace", foreignKeyChecks: "row-by-row" }),
          );
        }
      }
    }

    const ourRow = (label: string, xs: ChildResult[]) => ({
      label,
      seconds: xs.map((x) => x.seconds),
      peakRssMiB: xs.map((x) => x.maxRssMb),
      note: `${rate(medianRun(xs))}, client CPU ${medianRun(xs).cpuSeconds.toFixed(2)} s`,
    });
    const toolRow = (label: string, xs: ToolRun[]) => ({
      label,
      seconds: xs.map((x) => x.seconds),
      peakRssMiB: xs.flatMap((x) => (x.peakRssMiB === undefined ? [] : [x.peakRssMiB])),
      note: rate(medianRun(xs)),
    });
    const per = (xs: { seconds: number }[], ys: { seconds: number }[]) => xs.map((x, i) => x.seconds / ys[i]!.seconds);
    const indexes = fkIndexes ? "FK indexes added" : `${plan.unindexedForeignKeys.length} unindexed FKs`;
    const checks = String(runs.c[0]?.detail.foreignKeyChecks ?? "");
    emitReport({
      bench: "restore",
      title: "Tenant restore (pnpm bench:restore)",
      setup: [
        `tenant #1: ${(scriptBytes / MB).toFixed(1)} MB script, ${tenantRows} rows in ${plan.tables.length} tables; artifact ${(stored.size / MB).toFixed(1)} MB`,
        `tenant shape: ${shape}`,
      ],
      rows: [
        toolRow("export: psql COPY … TO STDOUT > /dev/null", runs.psqlExport),
        ourRow("export: exportTenant > /dev/null", runs.ourExport),
        { ...ourRow("export: exportTenant > file (disk, once)", [ourExport]) },
        toolRow("(a) restore: psql -f script.sql, empty db", runs.a),
        ourRow("(b) restore: loadTenantScript into-empty", runs.b),
        ourRow("(d) restore from the artifact: stage + verify + load", runs.d),
        ...(replace ? [ourRow(`(c) restore: replace, ${checks} checks (${indexes})`, runs.c)] : []),
        ...(runs.cRowByRow.length > 0 ? [ourRow(`(c') restore: replace, row-by-row checks (${indexes})`, runs.cRowByRow)] : []),
      ],
      ratios: [
        { name: "export", what: "exportTenant ÷ psql COPY", values: per(runs.ourExport, runs.psqlExport) },
        { name: "b/a", what: "our load ÷ psql -f", values: per(runs.b, runs.a), target: 1 },
        { name: "d/a", what: "whole restore from the artifact ÷ psql -f", values: per(runs.d, runs.a), target: 1 },
        ...(replace ? [{ name: "c/a", what: "replace restore ÷ psql -f", values: per(runs.c, runs.a), target: 2 }] : []),
      ],
      notes: [
        `loaded copy vs source checksums: ${verified}; after the replace, every tenant vs before: ${replaceVerified}`,
        `(d)'s verification: ${runs.d.map((x) => (Number(x.detail.verifyMs) / 1000).toFixed(2)).join(", ")} s; discovery (not in the export times): ${runs.ourExport.map((e) => Number(e.detail.discoverMs).toFixed(0)).join(", ")} ms`,
        ...(replace ? [`replace: ${String(runs.c[0]!.detail.deleted)} rows deleted, ${String(runs.c[0]!.detail.rows)} loaded per round`] : []),
      ],
    });
  } finally {
    await pool.end();
    await source.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

const at = process.argv.indexOf("--child");
if (at >= 0) benchResult(await child(JSON.parse(process.argv[at + 1]!) as ChildTask));
else await main();
