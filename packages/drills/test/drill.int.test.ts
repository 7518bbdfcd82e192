import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Secret, type MasterKeySet } from "@hesaab/config";
import { KeyRing, TenantKeyStore } from "@hesaab/crypto";
import { backupRecords, drillRecords, getBackupRecord, listAlerts, migrate, openCatalog, type Catalog } from "@hesaab/db";
import { backupPlatform } from "@hesaab/dr";
import { createPlatformSchema, generatePlatform, type GenerateResult } from "@hesaab/platform";
import { openBackend, type OpenedBackend } from "@hesaab/storage";
import { backupTenant, type TenantBackupDeps } from "@hesaab/tenant-backup";
import { adminQuery, freshDatabase, testPool, testProviderConfig, uniquePrefix, type FreshDatabase } from "@hesaab/testkit";
import { drillDisaster, drillReport, drillTenant, listDrillRecords, runNightlyDrills, type DrillDeps } from "../src";

const provider = (name: "b2" | "r2"): OpenedBackend =>
  openBackend({ backend: testProviderConfig(name), faults: true, retry: { attempts: 2, baseDelayMs: 10 } });

let db: FreshDatabase;
let platform: GenerateResult;
let catalog: Catalog;
let keys: TenantKeyStore;
let tb: TenantBackupDeps;
let deps: DrillDeps;
let workDir: string;
const drMasterKeys: MasterKeySet = new Map([[1, new Secret(randomBytes(32))]]);
const b2 = provider("b2");
const r2 = provider("r2");

async function scratchDatabases(): Promise<string[]> {
  const { rows } = (await adminQuery("select datname from pg_database where datname like 'hesaab_drill_%'")) as { rows: { datname: string }[] };
  return rows.map((r) => r.datname);
}

/**
 * No scratch database left behind since `before`. Other packages' tests drill at the same time: only
 * one that appeared and stays is a leak (theirs are dropped within seconds, ours before the drill returned).
 */
async function expectNoScratchLeft(before: string[]): Promise<void> {
  await vi.waitFor(async () => expect((await scratchDatabases()).filter((name) => !before.includes(name))).toEqual([]), { timeout: 30_000, interval: 500 });
}

beforeAll(async () => {
  db = await freshDatabase("drl");
  await createPlatformSchema({ url: db.url });
  platform = await generatePlatform({ url: db.url, tenants: 6, scale: 0.05, seed: 5 });
  expect(platform.tenants.filter((t) => t.status === "active").length).toBeGreaterThanOrEqual(4);
  await migrate({ url: db.url });
  catalog = openCatalog({ url: db.url });
  keys = TenantKeyStore.connect({ url: db.url, masterKeys: new Map([[1, new Secret(randomBytes(32))]]) });
  workDir = await mkdtemp(path.join(os.tmpdir(), "drl-"));
  tb = {
    platform: testPool({ connectionString: db.url, max: 6 }),
    catalog,
    keyRing: new KeyRing({ tenantKeys: keys }),
    backends: [b2.backend, r2.backend],
    retentionDays: 30,
    gzipLevel: 6,
    workDir,
  };
  deps = { tenantBackup: tb, platformUrl: db.url, drMasterKeys, drKeyRing: new KeyRing({ drMasterKeys }), version: "0.0.0-test", gitCommit: "abc1234" };
});

afterAll(async () => {
  await tb.platform.end();
  await keys.close();
  await catalog.close();
  await rm(workDir, { recursive: true, force: true });
  await db.drop();
});

const backup = async (tenantId: string) => (await backupTenant(tb, { tenantId, purpose: "on_demand", requestedBy: "test" })).record;
const tenant = (i: number) => platform.tenants.filter((t) => t.status === "active")[i]!.id;

describe("tenant restore drills", () => {
  it("drills a good backup through the normal restore path: every table matches, attested, scratch database dropped", async () => {
    const before = await scratchDatabases();
    const record = await backup(tenant(0));
    const result = await drillTenant(deps, { tenantId: tenant(0), provider: "r2" });
    expect(result).toMatchObject({ outcome: "match", backupId: record.id, tenantId: tenant(0), providerUsed: "r2", error: null });
    expect(Object.keys(result.tables).sort()).toEqual(Object.keys(record.metadata.tables as object).sort());
    for (const t of Object.values(result.tables)) expect(t).toMatchObject({ match: true, checksum: t.expectedChecksum });
    expect(Object.values(result.tables).some((t) => (t.rows ?? 0) > 0)).toBe(true);
    const [row] = await listDrillRecords(catalog.db, { keys: drMasterKeys, tenantId: tenant(0) });
    expect(row).toMatchObject({ id: result.drillId, outcome: "match", attestation: "valid", restoredByVersion: "0.0.0-test", restoredByCommit: "abc1234" });
    await expectNoScratchLeft(before);
  });

  it("fails and alerts when the stored object was replaced by another tenant's valid artifact", async () => {
    const victim = await backup(tenant(1));
    const other = await backup(tenant(2));
    for (const b of [b2.backend, r2.backend]) {
      const bytes = Buffer.concat(await (await b.get(other.b2Location!)).toArray());
      await b.put(victim.b2Location!, bytes);
    }
    const result = await drillTenant(deps, { backupId: victim.id });
    expect(result.outcome).toBe("failed");
    expect(result.error?.code).toBeTruthy();
    const alerts = await listAlerts(catalog.db);
    expect(alerts.find((a) => a.id === result.alertId)).toMatchObject({
      code: "restore_drill_failed",
      severity: "critical",
      context: { drillId: result.drillId },
    });
    const [row] = await listDrillRecords(catalog.db, { keys: drMasterKeys, tenantId: tenant(1) });
    expect(row).toMatchObject({ outcome: "failed", attestation: "valid" });
  });

  it("fails and alerts when the record's manifest (a table's checksum, or a count) was edited", async () => {
    const record = await backup(tenant(3));
    const checksums = { ...(record.metadata.checksums as Record<string, string>) };
    const table = Object.keys(checksums).find((t) => t.endsWith(".invoices"))!;
    checksums[table] = "0123456789abcdef";
    await catalog.db
      .update(backupRecords)
      .set({ metadata: { ...record.metadata, checksums } })
      .where(eq(backupRecords.id, record.id));
    const result = await drillTenant(deps, { backupId: record.id });
    expect(result.outcome).toBe("mismatch");
    expect(result.tables[table]).toMatchObject({ match: false, expectedChecksum: "0123456789abcdef" });
    expect((await listAlerts(catalog.db)).find((a) => a.id === result.alertId)).toMatchObject({ code: "restore_drill_failed", context: { tables: [table] } });

    const edited = (await getBackupRecord(catalog.db, record.id))!;
    const tables = { ...(edited.metadata.tables as Record<string, number>), [table]: 1_000_000 };
    await catalog.db
      .update(backupRecords)
      .set({ metadata: { ...edited.metadata, checksums: record.metadata.checksums, tables } })
      .where(eq(backupRecords.id, record.id));
    const counted = await drillTenant(deps, { backupId: record.id });
    expect(counted.outcome).toBe("mismatch");
    expect(counted.tables[table]).toMatchObject({ match: false, expectedRows: 1_000_000 });
  });

  it("reports an edited drill record as tampered", async () => {
    const [latest] = await listDrillRecords(catalog.db, { keys: drMasterKeys, tenantId: tenant(0) });
    await catalog.db
      .update(drillRecords)
      .set({ outcome: "match", durations: sql`${drillRecords.durations} || '{"totalMs": 1}'::jsonb` })
      .where(eq(drillRecords.id, latest!.id));
    const report = await drillReport({ db: catalog.db, keys: drMasterKeys, windowDays: 30, tenantId: tenant(0) });
    expect(report.drills.find((d) => d.id === latest!.id)?.attestation).toBe("tampered");
    expect(report.tampered).toBeGreaterThanOrEqual(1);
  });

  it("the nightly run drills the planner's sample, and the report shows coverage", async () => {
    // tenant 2's backup only lent its artifact to the swap above: never drilled, so the oldest undrilled
    const before = (await drillReport({ db: catalog.db, keys: drMasterKeys, windowDays: 30 })).coverage;
    expect(before).toMatchObject({ tenantsWithBackups: 4, drilledInWindow: 3, oldestUndrilled: { tenantId: tenant(2), lastDrilledAt: null } });
    const report = await runNightlyDrills(deps, { windowDays: 30, minSample: 4 });
    expect(report.planned).toContain(tenant(2));
    expect(report.planned).toHaveLength(4);
    const cov = (await drillReport({ db: catalog.db, keys: drMasterKeys, windowDays: 30 })).coverage;
    expect(cov).toMatchObject({ tenantsWithBackups: 4, drilledInWindow: 4, oldestUndrilled: null });
  });
});

describe("disaster-recovery drill", () => {
  it("restores the latest disaster backup into a scratch database and checks its row counts, attested", async () => {
    const root = uniquePrefix("drl");
    const made = await backupPlatform({ platformUrl: db.url, keyRing: deps.drKeyRing!, backends: tb.backends, catalog: catalog.db, root, requestedBy: "test" });
    const before = await scratchDatabases();
    const result = await drillDisaster(deps, { root });
    expect(result).toMatchObject({ kind: "disaster", outcome: "match", backupId: made.backupId, error: null });
    expect(Object.keys(result.tables).length).toBeGreaterThan(5);
    await expectNoScratchLeft(before);
    const [row] = await listDrillRecords(catalog.db, { keys: drMasterKeys, kind: "disaster" });
    expect(row).toMatchObject({ id: result.drillId, attestation: "valid" });
  });
});
