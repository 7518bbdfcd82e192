// Acceptance of the local spool on the real stack: both S3 endpoints (private s3rver processes)
// stopped → the backup ends `spooled`, nothing plaintext on disk; endpoints back → storage-svc (a
// real child process) uploads it, the record is completed, the spool empty; storage-svc killed
// (SIGKILL) after its upload and before its record update, then restarted → uploaded once.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, type Bus } from "@hesaab/bus";
import { masterKeySet } from "@hesaab/config";
import { KeyRing, TenantKeyStore } from "@hesaab/crypto";
import { getBackupRecord, migrate, openCatalog, type Catalog } from "@hesaab/db";
import { createPlatformSchema, generatePlatform, type GenerateResult } from "@hesaab/platform";
import { keysSidecarKey, openBackend, openSpool, readAll, type LocalSpool, type StorageBackend } from "@hesaab/storage";
import { backupTenant, type TenantBackupDeps } from "@hesaab/tenant-backup";
import { freshDatabase, privateS3Provider, testEnv, testPool, waitFor, type FreshDatabase, type S3Endpoint } from "@hesaab/testkit";

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const MASTER = `1:${randomBytes(32).toString("base64")}`;
const busPrefix = `P${randomBytes(3).toString("hex")}`;
let db: FreshDatabase;
let platform: GenerateResult;
let pool: ReturnType<typeof testPool>;
let catalog: Catalog;
let tenantKeys: TenantKeyStore;
let control: Bus;
let work: string;
let spool: LocalSpool;
let deps: TenantBackupDeps;
const endpoints: S3Endpoint[] = [];
const providerEnv: Record<string, string> = {};
const backends: StorageBackend[] = [];

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "ssvc-spool-"));
  db = await freshDatabase("spool");
  await createPlatformSchema({ url: db.url });
  platform = await generatePlatform({ url: db.url, tenants: 3, scale: 0.1, seed: 11 });
  await migrate({ url: db.url });
  pool = testPool({ connectionString: db.url, max: 4 });
  catalog = openCatalog({ url: db.url, max: 4 });
  tenantKeys = new TenantKeyStore({ pool: catalog.pool, masterKeys: masterKeySet.parse(MASTER) });
  for (const name of ["b2", "r2"] as const) {
    const p = await privateS3Provider(name, path.join(work, "s3", name));
    endpoints.push(p.endpoint);
    Object.assign(providerEnv, p.env);
    backends.push(openBackend({ backend: p.config, retry: { attempts: 2, baseDelayMs: 10 } }).backend);
  }
  spool = openSpool({ dir: path.join(work, "spool"), maxBytes: 256 * 1024 * 1024 });
  deps = {
    platform: pool,
    catalog,
    keyRing: new KeyRing({ tenantKeys }),
    backends,
    retentionDays: 30,
    gzipLevel: 6,
    workDir: path.join(work, "restores"),
    spool,
  };
  control = await connectBus({ url: testEnv().NATS_URL!, name: "test-control", prefix: busPrefix });
  await control.ensureStreams();
});
afterAll(async () => {
  for (const e of endpoints) await e.stop();
  await control?.deleteStreams().catch(() => {});
  await control?.close();
  await catalog?.close();
  await pool?.end();
  await db?.drop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** storage-svc as a real process (its sources through tsx), draining the spool often. */
function startStorageSvc(): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: appDir,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...testEnv(),
      ...providerEnv,
      PLATFORM_DATABASE_URL: db.url,
      BACKUP_DATABASE_URL: db.url,
      BACKUP_MASTER_KEYS: MASTER,
      HESAAB_BUS_PREFIX: busPrefix,
      HESAAB_DATA_DIR: path.join(work, "data"),
      HESAAB_SPOOL_DIR: spool.dir,
      STORAGE_SCHEDULES_ENABLED: "false",
      STORAGE_SPOOL_DRAIN_INTERVAL_MS: "200",
    },
  });
  child.stdout.resume();
  child.stderr.resume();
  return child;
}

async function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill(signal);
  await exited;
}

async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

/** The file a private s3rver keeps an object's bytes in: its inode and mtime change when the object is written again. */
async function objectFile(name: "b2" | "r2", key: string): Promise<{ ino: number; mtimeMs: number } | undefined> {
  const files = (await filesUnder(path.join(work, "s3", name))).filter((f) => f.includes(key) && !f.includes(".keys.json") && f.endsWith("._S3rver_object"));
  if (files.length !== 1) return undefined;
  const s = await stat(files[0]!);
  return { ino: s.ino, mtimeMs: s.mtimeMs };
}

describe("local spool, end to end", () => {
  it("both endpoints down → spooled (sealed only); back → storage-svc uploads it once, even killed and restarted between upload and record", async () => {
    const tenant = platform.tenants.find((t) => t.status === "active")!;
    const canary = `SPOOL-CANARY-${randomBytes(8).toString("hex")}`;
    await pool.query("update public.customers set name = $2 where id = (select min(id) from public.customers where tenant_id = $1)", [tenant.id, canary]);

    // [1] both endpoints stopped (their processes killed): the backup ends spooled
    for (const e of endpoints) await e.stop();
    const { record } = await backupTenant(deps, { tenantId: tenant.id, purpose: "on_demand", requestedBy: "test" });
    expect(record.status).toBe("spooled");
    const key = record.metadata.key as string;
    expect(await spool.entries()).toEqual([expect.objectContaining({ backupId: record.id, key, sha256: record.checksum })]);
    for (const file of await filesUnder(spool.dir)) expect((await readFile(file)).includes(canary), file).toBe(false);

    // [2] endpoints back; the record row held by this test, so storage-svc's drain uploads and then waits at its record update
    for (const e of endpoints) await e.start();
    const holder = await pool.connect();
    await holder.query("begin");
    await holder.query("select 1 from backup.backup_records where id = $1 for update", [record.id]);
    let svc = startStorageSvc();
    try {
      await waitFor(async () => (await Promise.all(backends.map((b) => b.head(keysSidecarKey(key))))).every((i) => i !== null), "both copies uploaded");
      await waitFor(async () => {
        const { rows } = await pool.query("select 1 from pg_stat_activity where datname = $1 and wait_event_type = 'Lock'", [db.name]);
        return rows.length > 0;
      }, "the drain waiting at its record update");
      const first = { b2: await objectFile("b2", key), r2: await objectFile("r2", key) };
      expect(first.b2 && first.r2).toBeTruthy();

      // [3] killed between upload and record update (its waiting statement dropped with it)
      await kill(svc, "SIGKILL");
      await pool.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and wait_event_type = 'Lock'", [db.name]);
      await holder.query("rollback");
      expect((await getBackupRecord(catalog.db, record.id))!.status).toBe("spooled");
      expect(await spool.entries()).toHaveLength(1);

      // [4] restarted: finds the spool, finds both copies already there, records, empties the spool
      svc = startStorageSvc();
      const done = await waitFor(async () => {
        const r = await getBackupRecord(catalog.db, record.id);
        return r?.status === "completed" && (await spool.entries()).length === 0 && r;
      }, "the record completed and the spool empty");
      expect(done).toMatchObject({ checksum: record.checksum, b2Location: key, r2Location: key, errorMessage: null });
      expect(await spool.backend.head(key)).toBeNull();
      expect(await spool.backend.head(keysSidecarKey(key))).toBeNull();
      // uploaded once: each provider's object is the very file the first run wrote
      expect({ b2: await objectFile("b2", key), r2: await objectFile("r2", key) }).toEqual(first);
      for (const b of backends) {
        const { createHash } = await import("node:crypto");
        expect(
          createHash("sha256")
            .update(await readAll(await b.get(key)))
            .digest("hex"),
        ).toBe(record.checksum);
      }
    } finally {
      await holder.query("rollback").catch(() => {});
      holder.release();
      await kill(svc, "SIGTERM");
    }
  });
});
