// Where a small tenant's backup spends its time: the per-tenant cost that decides (e) of
// `pnpm bench:backup` when there are thousands of tenants. Runs one tenant at a time over the
// smallest N active tenants of a platform kept by `BENCH_KEEP=1 pnpm bench:backup`, and prints per
// tenant: wall time, this process's CPU (user + system, every thread), and the CPU the s3rver
// processes used meanwhile (they serve every user of the local stack: read it as an upper bound).
//
//   BENCH_CHILD_CONFIG="$(cat /tmp/backup-bench-…/child-config.json)" N=200 \
//     pnpm --filter @hesaab/tenant-backup exec tsx bench/per-tenant.ts
//
// `ONLY=<text>` runs the variants whose label contains it (e.g. `ONLY=discarded`, for a profile).
//
// The variants separate the parts: the whole backup to the local S3 endpoints, to two filesystem
// backends and to a backend that drops the bytes; the export alone; four small PUTs alone (what a
// backup writes: the artifact and its key sidecar, to two providers). A diagnosis tool, not a test.
import { mkdtempSync, rmSync } from "node:fs";
import { s3rverCpuSeconds } from "@hesaab/testkit/bench";
import os from "node:os";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { Secret } from "@hesaab/config";
import { newId } from "@hesaab/contracts";
import { KeyRing, TenantKeyStore } from "@hesaab/crypto";
import { openCatalog } from "@hesaab/db";
import { openBackend, type StorageBackend } from "@hesaab/storage";
import { discoverTenantPlan, exportTenant } from "@hesaab/tenant-data";
import { testProviderConfig } from "@hesaab/testkit";
import { activeTenants, backupTenant, backupTenants, TENANT_BACKUP_UPLOAD, type TenantBackupDeps } from "../src";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const cfg = JSON.parse(process.env.BENCH_CHILD_CONFIG ?? "null") as {
  platformUrl: string;
  catalogUrl: string;
  masterKeyHex: string;
  keyPrefix: string;
  s3Env: Record<string, string>;
  s3Dir: string;
  largeTenant: string;
} | null;
if (!cfg) throw new Error("set BENCH_CHILD_CONFIG to the child-config.json a `BENCH_KEEP=1 pnpm bench:backup` run printed");
Object.assign(process.env, cfg.s3Env); // that run's own S3 endpoints (testProviderConfig reads the environment)
const N = Number(process.env.N ?? 200);

/** A backend that reads every byte and keeps none (the cost of our pipeline without any storage). */
function discardingBackend(name: string): StorageBackend {
  return {
    name,
    async put(key, body) {
      let size = 0;
      if (Buffer.isBuffer(body)) size = body.length;
      else if (body instanceof Readable) {
        await pipeline(
          body,
          new Writable({
            write(chunk: Buffer, _enc, cb) {
              size += chunk.length;
              cb();
            },
          }),
        );
      } else throw new Error("discardingBackend takes buffers and streams");
      return { key, size };
    },
    head: async () => null,
    get: () => Promise.reject(new Error("discardingBackend keeps nothing")),
    list: () => {
      throw new Error("discardingBackend keeps nothing");
    },
    delete: async () => {},
  };
}

function s3Backends(): StorageBackend[] {
  return (["b2", "r2"] as const).map((name) => {
    return openBackend({
      backend: { ...testProviderConfig(name), ...TENANT_BACKUP_UPLOAD },
      keyPrefix: cfg!.keyPrefix,
    }).backend;
  });
}

const platform = new pg.Pool({ connectionString: cfg.platformUrl, max: 4 });
const catalog = openCatalog({ url: cfg.catalogUrl });
const keyRing = new KeyRing({
  tenantKeys: new TenantKeyStore({ pool: catalog.pool, masterKeys: new Map([[1, new Secret(Buffer.from(cfg.masterKeyHex, "hex"))]]) }),
});
const fsRoot = mkdtempSync(path.join(os.tmpdir(), "per-tenant-"));
const deps = (backends: StorageBackend[]): TenantBackupDeps => ({
  platform,
  catalog,
  keyRing,
  backends,
  retentionDays: 30,
  gzipLevel: 6,
  workDir: os.tmpdir(),
});
// N active tenants other than the large one (tenant #1 is among them wherever its id sorts)
const tenants = (await activeTenants({ platform })).filter((t) => t !== cfg.largeTenant).slice(-N);
const client = await platform.connect();
const plan = await discoverTenantPlan({ client });
client.release();

/** One tenant at a time: `fn` for each of `tenants`, after one untimed warm-up. */
async function measure(label: string, fn: (tenantId: string) => Promise<unknown>): Promise<void> {
  await timed(label, {
    warmUp: () => fn(tenants[0]!),
    run: async () => {
      for (const tenantId of tenants) await fn(tenantId);
    },
  });
}

/** Every one of `tenants` in one `backupTenants` call (batches of 50, one at a time), after one untimed warm-up run. */
async function measureBatches(label: string, d: TenantBackupDeps): Promise<void> {
  const run = async () => {
    const outcomes = await backupTenants(d, { tenantIds: tenants, purpose: "on_demand", requestedBy: "per-tenant", concurrency: 1 });
    for (const o of outcomes) if (!o.ok) throw o.error;
  };
  await timed(label, { warmUp: run, run });
}

/** `ONLY=<text>`: run only the variants whose label contains it (one variant under `node --cpu-prof`). */
const ONLY = process.env.ONLY;

async function timed(label: string, o: { warmUp: () => Promise<unknown>; run: () => Promise<void> }): Promise<void> {
  if (ONLY && !label.includes(ONLY)) return;
  await o.warmUp();
  const cpu = process.cpuUsage();
  const s3rver = s3rverCpuSeconds(cfg!.s3Dir) * 1000;
  const started = performance.now();
  await o.run();
  report(label, { wall: performance.now() - started, used: process.cpuUsage(cpu), s3rver: s3rverCpuSeconds(cfg!.s3Dir) * 1000 - s3rver });
}

function report(label: string, m: { wall: number; used: NodeJS.CpuUsage; s3rver: number }): void {
  const per = (us: number) => (us / 1000 / tenants.length).toFixed(2).padStart(6);
  process.stdout.write(
    `  ${label.padEnd(44)} ${(m.wall / tenants.length).toFixed(2).padStart(6)} ms   ours ${per(m.used.user + m.used.system)} ms (system ${per(m.used.system)})   s3rver ${(m.s3rver / tenants.length).toFixed(2).padStart(6)} ms\n`,
  );
}

try {
  process.stdout.write(
    `per tenant, one at a time, over the ${tenants.length} smallest active tenants (node ${process.version}, load ${os.loadavg()[0]!.toFixed(2)})\n`,
  );
  const onS3 = deps(s3Backends());
  // what (e) does with small tenants: batches of 50 (one snapshot, keys and records per batch)
  await measureBatches("batches of 50 → B2 + R2 (s3rver)", onS3);
  await measure("backup → B2 + R2 (s3rver)", (tenantId) => backupTenant(onS3, { tenantId, purpose: "on_demand", requestedBy: "per-tenant" }));
  const onFs = deps((["b2", "r2"] as const).map((name) => openBackend({ backend: { kind: "fs", name, root: path.join(fsRoot, name), create: true } }).backend));
  await measureBatches("batches of 50 → two fs backends", onFs);
  await measure("backup → two fs backends", (tenantId) => backupTenant(onFs, { tenantId, purpose: "on_demand", requestedBy: "per-tenant" }));
  const discarded = deps([discardingBackend("b2"), discardingBackend("r2")]);
  await measureBatches("batches of 50 → discarded (no storage)", discarded);
  await measure("backup → discarded (no storage)", (tenantId) => backupTenant(discarded, { tenantId, purpose: "on_demand", requestedBy: "per-tenant" }));
  await measure("export alone, drained", async (tenantId) => {
    const e = await exportTenant({ pool: platform, tenantId, backupId: newId("bkp"), plan });
    await pipeline(e.stream, new Writable({ write: (_c, _e, cb) => cb() }));
    await e.done;
  });
  const s3 = s3Backends();
  await measure("4 small PUTs alone (2 per provider)", async () => {
    const key = `per-tenant/${newId("bkp")}`;
    await Promise.all(
      s3.map(async (b) => {
        await b.put(key, Buffer.alloc(8000));
        await b.put(`${key}.keys.json`, Buffer.alloc(400), { metadata: { "hesaab-meta": "x".repeat(900) } });
      }),
    );
  });
} finally {
  await platform.end();
  await catalog.close();
  rmSync(fsRoot, { recursive: true, force: true });
}
