import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeArtifact } from "@hesaab/artifacts";
import { newId } from "@hesaab/contracts";
import { getBackupRecord } from "@hesaab/db";
import { encodeMetaSidecar, keysSidecarKey, putKeysSidecar, readAll, readMetaSidecar, tenantBackupKey } from "@hesaab/storage";
import { reconcile, recordParts } from "../src";
import { harness, objectSha, storeTenantBackup, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await harness("sops_recon");
});
afterAll(async () => {
  await h?.close();
});

describe("reconcile", () => {
  it("a clean inventory: nothing to report", async () => {
    await storeTenantBackup(h, { tenantId: "t-clean" });
    const report = await reconcile({ catalog: h.catalog, backends: h.backends, publish: h.publish });
    expect(report).toMatchObject({ records: 1, missing: [], extra: [], corrupt: [], degraded: [], healed: [], unhealed: [], unreachable: [] });
    expect(report.listed.b2).toMatchObject({ artifacts: 1, objects: 2 }); // the artifact and its key sidecar
  });

  it("finds an extra and a missing object (and a corrupt one), heals what the catalog owns, deletes nothing", async () => {
    const missing = await storeTenantBackup(h, { tenantId: "t-missing" });
    const missingKey = recordParts(missing)[0]!.key;
    await h.r2.backend.delete(missingKey);

    const corrupt = await storeTenantBackup(h, { tenantId: "t-corrupt" });
    const corruptKey = recordParts(corrupt)[0]!.key;
    // The description in B2 claims another checksum.
    const keys = await readAll(await h.b2.backend.get(keysSidecarKey(corruptKey)));
    const wrong = encodeMetaSidecar({
      backupId: corrupt.id,
      type: "tenant",
      tenantId: "t-corrupt",
      createdAt: corrupt.createdAt,
      size: corrupt.fileSize,
      sha256: "0".repeat(64),
      contentEncoding: "gzip",
      manifest: {},
    });
    await putKeysSidecar({ backend: h.b2.backend, artifactKey: corruptKey, keys, meta: wrong });

    // An artifact (with sidecars) no record accounts for, in B2 only; a stray object; a deleted record's leftovers.
    const extraId = newId("bkp");
    const extraKey = tenantBackupKey({ tenantId: "t-extra", backupId: extraId, createdAt: new Date() });
    await storeArtifact({
      plaintext: Readable.from([Buffer.from("x".repeat(1000))]),
      identity: { kind: "tenant", tenantId: "t-extra", backupId: extraId },
      keyRing: h.keyRings.tenant,
      backends: [h.b2.backend],
      key: extraKey,
      gzipLevel: 6,
      meta: { type: "tenant", createdAt: new Date() },
    });
    await h.r2.backend.put("tenants/t-extra/notes.txt", Buffer.from("stray"));
    const deleted = await storeTenantBackup(h, { tenantId: "t-deleted" });
    await h.catalog.pool.query("update backup.backup_records set status = 'deleted' where id = $1", [deleted.id]);

    const report = await reconcile({ catalog: h.catalog, backends: h.backends, publish: h.publish });
    expect(report.missing).toEqual([expect.objectContaining({ provider: "r2", key: missingKey, backupId: missing.id })]);
    expect(report.corrupt).toEqual([expect.objectContaining({ provider: "b2", key: corruptKey, reason: "description's checksum differs from the catalog" })]);
    const extras = report.extra.map((e) => [e.provider, e.key, e.reason]).sort();
    expect(extras).toEqual(
      [
        ["b2", extraKey, "not in the catalog"],
        ["b2", keysSidecarKey(extraKey), "not in the catalog (sidecar)"],
        ["r2", "tenants/t-extra/notes.txt", "outside the layout"],
        ...["b2", "r2"].flatMap((p) => [
          [p, recordParts(deleted)[0]!.key, "the catalog says deleted"],
          [p, keysSidecarKey(recordParts(deleted)[0]!.key), "the catalog says deleted (sidecar)"],
        ]),
      ].sort(),
    );
    expect(report.healed.map((x) => x.backupId).sort()).toEqual([missing.id, corrupt.id].sort());
    expect(report.unhealed).toEqual([]);

    // Healed: both copies back and equal; the extras are still there.
    expect(await objectSha(h.r2.backend, missingKey)).toBe(missing.checksum);
    expect((await getBackupRecord(h.catalog.db, missing.id))!.status).toBe("completed");
    expect(await readMetaSidecar({ backend: h.b2.backend, artifactKey: corruptKey })).toEqual(
      await readMetaSidecar({ backend: h.r2.backend, artifactKey: corruptKey }),
    );
    expect((await readMetaSidecar({ backend: h.b2.backend, artifactKey: corruptKey }))!.sha256).toBe(corrupt.checksum);
    expect(await h.b2.backend.head(extraKey)).not.toBeNull();
    expect(await h.r2.backend.head("tenants/t-extra/notes.txt")).not.toBeNull();
    const alerts = await h.catalog.pool.query("select code, context from backup.alerts where code = 'storage_extra_objects'");
    expect(alerts.rows[0].context.count).toBe(report.extra.length);

    // Missing from the catalog's point of view is now fixed: a second sweep finds only the extras.
    const again = await reconcile({ catalog: h.catalog, backends: h.backends, heal: false });
    expect(again).toMatchObject({ missing: [], corrupt: [], degraded: [] });
    expect(again.extra).toHaveLength(report.extra.length);
  });

  it("a copy present but counted as failed by the catalog is verified and recorded", async () => {
    const record = await storeTenantBackup(h, { tenantId: "t-recorded" });
    await h.catalog.pool.query(
      `update backup.backup_records set status = 'degraded', r2_location = null, providers = jsonb_set(providers, '{r2,status}', '"failed"') where id = $1`,
      [record.id],
    );
    const report = await reconcile({ catalog: h.catalog, backends: h.backends });
    expect(report.degraded).toEqual([expect.objectContaining({ provider: "r2", backupId: record.id, reason: "present, but the catalog says failed" })]);
    expect(report.healed).toContainEqual({ backupId: record.id, providers: ["r2"] });
    expect(await getBackupRecord(h.catalog.db, record.id)).toMatchObject({ status: "completed", r2Location: recordParts(record)[0]!.key });
  });

  it("a provider that cannot be listed is reported, the other is still swept", async () => {
    const record = await storeTenantBackup(h, { tenantId: "t-unreach" });
    h.r2.faults!.failAlways("list");
    try {
      const report = await reconcile({ catalog: h.catalog, backends: h.backends, heal: false });
      expect(report.unreachable).toEqual([expect.objectContaining({ provider: "r2" })]);
      expect(report.listed.b2).toBeDefined();
      expect(report.missing.filter((m) => m.backupId === record.id)).toEqual([]);
    } finally {
      h.r2.faults!.clear();
    }
  });
});
