import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stageArtifact, verifyStaged } from "@hesaab/artifacts";
import { isCryptoError, parseKeySidecar, type TenantKeyStore } from "@hesaab/crypto";
import { getBackupRecord } from "@hesaab/db";
import { keysSidecarKey, readAll } from "@hesaab/storage";
import { artifactRef, backupTenant, restoreTenants, rotateTenantKeys, shredTenant } from "../src";
import { harness, type Harness } from "./harness";

let h: Harness;
let store: TenantKeyStore;
beforeAll(async () => {
  h = await harness({ tenants: 3, seed: 5 });
  store = h.keys;
});
afterAll(async () => {
  await h?.close();
});

describe("tenant key rotation and shredding, end to end", () => {
  it("re-wraps every sidecar in the catalog and in both providers without touching artifact bytes; old versions retire", async () => {
    const t = h.platform.tenants[0]!.id;
    const { record } = await backupTenant(h.deps, { tenantId: t, purpose: "on_demand", requestedBy: "test" });
    const ref = artifactRef(record);
    const before = await readAll(await h.b2.backend.get(ref.key));
    expect(parseKeySidecar(record.keySidecar).slots[0]!.keyVersion).toBe(1);

    const report = await rotateTenantKeys({ ...h.deps, tenantKeys: store }, { tenantIds: [t], requestedBy: "test" });
    expect(report.tenants[0]).toMatchObject({ newKeyVersion: 2, rewrapped: 1, retired: [1], failures: [] });

    const after = (await getBackupRecord(h.deps.catalog.db, record.id))!;
    expect(parseKeySidecar(after.keySidecar).slots[0]!.keyVersion).toBe(2);
    for (const b of h.deps.backends) {
      expect(parseKeySidecar(JSON.parse((await readAll(await b.get(keysSidecarKey(ref.key)))).toString())).slots[0]!.keyVersion).toBe(2);
      expect((await readAll(await b.get(ref.key))).equals(before)).toBe(true);
    }
    // Version 1 is retired: only the re-wrapped sidecars open the backup, from the catalog and from a provider alone.
    const fromCatalog = await stageArtifact({ ref: artifactRef(after), backends: h.deps.backends, dir: h.deps.workDir });
    expect(await verifyStaged({ staged: fromCatalog, keyRing: h.deps.keyRing })).toBeGreaterThan(0);
    const fromBucket = await stageArtifact({ ref: { ...artifactRef(after), sidecar: undefined }, backends: [h.r2.backend], dir: `${h.deps.workDir}/r2` });
    expect(await verifyStaged({ staged: fromBucket, keyRing: h.deps.keyRing })).toBeGreaterThan(0);
    // A stale sidecar (version 1) no longer opens it.
    const stale = await stageArtifact({ ref: artifactRef(record), backends: h.deps.backends, dir: `${h.deps.workDir}/stale` });
    await expect(verifyStaged({ staged: stale, keyRing: h.deps.keyRing })).rejects.toSatisfy((e: unknown) => isCryptoError(e, "key_retired"));
    const restored = await restoreTenants(h.deps, { tenantIds: [t], provider: "b2", requestedBy: "test" });
    expect(restored.status).toBe("completed");
  });

  it("shredding a tenant makes every one of its backups unreadable", async () => {
    const t = h.platform.tenants[1]!.id;
    await backupTenant(h.deps, { tenantId: t, purpose: "on_demand", requestedBy: "test" });
    expect(await shredTenant({ ...h.deps, tenantKeys: store }, { tenantId: t, requestedBy: "test" })).toEqual({ versions: 1 });
    const report = await restoreTenants(h.deps, { tenantIds: [t], provider: "b2", requestedBy: "test" });
    expect(report.status).toBe("failed");
    expect(report.tenants[0]!.error!.code).toBe("key_shredded");
  });
});
