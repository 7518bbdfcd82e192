import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listBackupRecords, migrate, openCatalog, type BackupRecord, type Catalog } from "@hesaab/db";
import { freshDatabase, type FreshDatabase } from "@hesaab/testkit";
import { rebuildCatalog, recordKey } from "../src";
import { harness, storeDisasterBackup, storeTenantBackup, type Harness } from "./harness";

let h: Harness;
let empty: FreshDatabase;
let rebuilt: Catalog;
beforeAll(async () => {
  h = await harness("sops_rebuild");
  empty = await freshDatabase("sops_rebuilt");
  await migrate({ url: empty.url });
  rebuilt = openCatalog({ url: empty.url, max: 2 });
});
afterAll(async () => {
  await rebuilt?.close();
  await empty?.drop();
  await h?.close();
});

const retention = { tenantDays: 30, disasterDays: 90 };

/** What a rebuild must reproduce of a record. */
function essence(r: BackupRecord) {
  return {
    id: r.id,
    tenantId: r.tenantId,
    type: r.backupType,
    size: r.fileSize,
    checksum: r.checksum,
    key: recordKey(r),
    createdAt: r.createdAt.toISOString(),
    expiresAt: r.expiresAt?.toISOString(),
    keySidecar: r.keySidecar,
    encryptionKeyId: r.encryptionKeyId,
    config: r.backupType === "disaster" ? r.metadata.config : undefined,
    status: r.status,
    b2Location: r.b2Location,
    r2Location: r.r2Location,
    // disaster sidecars carry no purpose (a rebuilt disaster record is on_demand)
    ...(r.backupType === "tenant" ? { purpose: r.purpose, period: r.period } : {}),
  };
}

describe("rebuildCatalog", () => {
  it("the catalog rebuilt from a bucket equals the original", async () => {
    const originals: BackupRecord[] = [];
    originals.push(await storeTenantBackup(h, { tenantId: "t1", createdAt: new Date("2026-11-20T02:00:00Z") }));
    originals.push(await storeTenantBackup(h, { tenantId: "t1", createdAt: new Date("2026-11-21T02:00:00Z") }));
    originals.push(await storeTenantBackup(h, { tenantId: "t2", createdAt: new Date("2026-11-21T02:00:05Z") }));
    h.r2.faults!.down();
    try {
      originals.push(await storeTenantBackup(h, { tenantId: "t2", createdAt: new Date("2026-11-22T02:00:00Z") })); // degraded: only in B2
    } finally {
      h.r2.faults!.up();
    }
    originals.push(await storeDisasterBackup(h, { createdAt: new Date("2026-11-21T03:00:00Z") }));
    expect(originals.map((r) => r.status)).toEqual(["completed", "completed", "completed", "degraded", "completed"]);

    const dry = await rebuildCatalog({ catalog: rebuilt, backends: h.backends, from: "b2", retention, dryRun: true });
    expect(dry.records).toHaveLength(5);
    expect(await listBackupRecords(rebuilt.db)).toEqual([]);

    const report = await rebuildCatalog({ catalog: rebuilt, backends: h.backends, from: "b2", retention, actor: "test" });
    expect(report).toMatchObject({ inserted: 5, existing: [], problems: [], strays: 0, others: [{ provider: "r2", listed: true, onlyThere: 0 }] });
    const got = await listBackupRecords(rebuilt.db, { limit: 100 });
    const byId = new Map(got.map((r) => [r.id, r]));
    for (const original of originals) {
      const copy = byId.get(original.id);
      expect(copy, original.id).toBeDefined();
      expect(essence(copy!)).toEqual(essence(original));
      expect(copy!.providers.b2).toMatchObject({ status: "stored", sha256: original.checksum });
      expect(copy!.providers.r2!.status).toBe(original.status === "degraded" ? "missing" : "stored");
    }

    // Again: every id exists already, nothing changes.
    const again = await rebuildCatalog({ catalog: rebuilt, backends: h.backends, from: "b2", retention });
    expect(again.inserted).toBe(0);
    expect(again.existing.sort()).toEqual(originals.map((r) => r.id).sort());
  });

  it("from the other bucket; a provider that is not configured is a clear error", async () => {
    const fromR2 = await rebuildCatalog({ catalog: rebuilt, backends: h.backends, from: "r2", retention, dryRun: true });
    expect(fromR2.records).toHaveLength(4); // the degraded one is only in B2
    expect(fromR2.others).toEqual([{ provider: "b2", listed: true, onlyThere: 1 }]);
    await expect(rebuildCatalog({ catalog: rebuilt, backends: [h.b2.backend], from: "r2", retention })).rejects.toMatchObject({
      code: "storage_ops_no_provider",
    });
  });
});
