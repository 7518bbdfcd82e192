// Backups from a hot standby (PLATFORM_READ_DATABASE_URL), against a real streaming replica this
// test starts: the export reads the standby and records its replay lag, the restore writes the
// primary and round-trips exactly, and a read that replay cancels (40001) is taken again.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { and, eq } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Secret } from "@hesaab/config";
import { KeyRing, TenantKeyStore } from "@hesaab/crypto";
import { backupRecords, migrate, openCatalog } from "@hesaab/db";
import { createPlatformSchema, generatePlatform, tableChecksums, type GenerateResult } from "@hesaab/platform";
import { type TenantBackupDeps, backupTenant, buildCustomerExport, requestCustomerExport, restoreTenants } from "../src";
import { localProvider } from "./harness";
import { type ReplicaPair, startReplicaPair } from "./replica";

let pair: ReplicaPair;
let deps: TenantBackupDeps;
let platform: GenerateResult;
let close: () => Promise<void>;
const b2 = localProvider("b2");
const r2 = localProvider("r2");

beforeAll(async () => {
  pair = await startReplicaPair();
  await createPlatformSchema({ url: pair.primaryUrl });
  // the first tenant large enough that its export is still reading when the upload is held back
  platform = await generatePlatform({ url: pair.primaryUrl, tenants: 3, scale: 0.05, largeScale: 100 });
  await migrate({ url: pair.primaryUrl });
  const catalog = openCatalog({ url: pair.primaryUrl });
  const keys = TenantKeyStore.connect({ url: pair.primaryUrl, masterKeys: new Map([[1, new Secret(randomBytes(32))]]) });
  const primary = new pg.Pool({ connectionString: pair.primaryUrl, max: 4 });
  const standby = new pg.Pool({ connectionString: pair.standbyUrl, max: 4, application_name: "hesaab-backup-read" });
  const workDir = await mkdtemp(path.join(os.tmpdir(), "tbk-standby-"));
  deps = {
    platform: primary,
    platformRead: standby,
    catalog,
    keyRing: new KeyRing({ tenantKeys: keys }),
    backends: [b2.backend, r2.backend],
    retentionDays: 30,
    gzipLevel: 1,
    workDir,
  };
  close = async () => {
    await primary.end();
    await standby.end();
    await keys.close();
    await catalog.close();
    await rm(workDir, { recursive: true, force: true });
  };
  await pair.caughtUp();
}, 180_000);

afterAll(async () => {
  await close?.();
  await pair?.stop();
});

const checksums = (tenantId: string) => tableChecksums({ url: pair.primaryUrl, tenantId });

it("a backup read from the standby records its replay lag and round-trips exactly through a restore on the primary", { timeout: 120_000 }, async () => {
  const tenantId = platform.tenants.find((t) => t.status === "active")!.id;
  const before = await checksums(tenantId);
  const { record } = await backupTenant(deps, { tenantId, purpose: "on_demand", requestedBy: "test" });
  expect(record.status).toBe("completed");
  expect(record.metadata).toMatchObject({ readFrom: "standby" });
  expect(typeof record.metadata.replayLagSeconds).toBe("number");
  expect(record.metadata.replayLagSeconds as number).toBeGreaterThanOrEqual(0);

  await deps.platform.query("UPDATE invoices SET title = 'after the backup' WHERE tenant_id = $1", [tenantId]);
  expect(await checksums(tenantId)).not.toEqual(before);
  const report = await restoreTenants(deps, { backupId: record.id, provider: "b2", requestedBy: "test" });
  expect(report.status, JSON.stringify(report.tenants)).toBe("completed");
  expect(await checksums(tenantId)).toEqual(before);
  // the rollback point holds the rows the restore replaced: read from the primary
  const [rollback] = await deps.catalog.db.select().from(backupRecords).where(eq(backupRecords.id, report.tenants[0]!.rollbackBackupId!));
  expect(rollback!.metadata).toMatchObject({ readFrom: "primary", replayLagSeconds: null });
});

it("a backup whose standby read is cancelled by replay (40001) is taken again", { timeout: 120_000 }, async () => {
  const tenantId = platform.tenants.find((t) => t.status === "active")!.id;
  await pair.configureStandby({ max_standby_streaming_delay: "0" });
  // the uploads wait once, so the export stays in the middle of its COPY on the standby
  b2.faults!.stall("put", { times: 1, ms: 10_000 });
  r2.faults!.stall("put", { times: 1, ms: 10_000 });
  const running = backupTenant(deps, { tenantId, purpose: "on_demand", requestedBy: "test" });
  const probe = new pg.Client({ connectionString: pair.standbyUrl });
  await probe.connect();
  try {
    for (;;) {
      const { rows } = await probe.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'hesaab-backup-read' AND query LIKE 'COPY%'");
      if (rows.length > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await probe.end();
  }
  // an exclusive lock on the primary is replayed on the standby: it cancels the reader at once
  await deps.platform.query("BEGIN; LOCK TABLE invoices IN ACCESS EXCLUSIVE MODE; COMMIT");
  const { record } = await running;
  b2.faults!.clear();
  r2.faults!.clear();
  expect(record.status).toBe("completed");
  expect(record.metadata).toMatchObject({ readFrom: "standby" });
  // taken again in the bounded mode (bounded.ts): short reads are what replay tolerates
  expect(record.metadata).toMatchObject({ mode: "bounded", boundedReason: "failure:standby_recovery_conflict" });
  const failed = await deps.catalog.db
    .select()
    .from(backupRecords)
    .where(and(eq(backupRecords.tenantId, tenantId), eq(backupRecords.status, "failed")));
  expect(failed.map((f) => f.errorMessage).join("\n")).toMatch(/conflict with recovery/);
});

it("a customer export reads only the standby, its CSV files and script in one snapshot imported there", { timeout: 120_000 }, async () => {
  const tenantId = platform.tenants.filter((t) => t.status === "active")[1]!.id;
  // the primary is out of reach: an ended pool throws on any use
  const ended = new pg.Pool({ connectionString: pair.primaryUrl });
  await ended.end();
  const exportDeps = { ...deps, platform: ended, exportDir: path.join(deps.workDir, "exports") };
  const { export: requested } = await requestCustomerExport(exportDeps, { tenantId, requestedBy: "user:1" });
  const ready = await buildCustomerExport(exportDeps, { exportId: requested.id });
  expect(ready.status).toBe("ready");
  expect(ready.fileSize).toBeGreaterThan(0);
});
