import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stageArtifact } from "@hesaab/artifacts";
import { getBackupRecord } from "@hesaab/db";
import { keysSidecarKey, META_METADATA, readAll, readMetaSidecar, readWithFailover } from "@hesaab/storage";
import { artifactRefFor, deepVerifySample, recordParts, replicateArtifact, verifyBackup } from "../src";
import { corruptObject, harness, objectSha, storeDisasterBackup, storeTenantBackup, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await harness("sops_repl");
});
afterAll(async () => {
  await h?.close();
});

/** Every object of a backup (artifacts and key sidecars) is present and byte-identical in both providers, with the same description. */
async function expectIdentical(id: string): Promise<void> {
  const record = (await getBackupRecord(h.catalog.db, id))!;
  for (const part of recordParts(record)) {
    for (const key of [part.key, keysSidecarKey(part.key)]) {
      const [a, b] = [await objectSha(h.b2.backend, key), await objectSha(h.r2.backend, key)];
      expect(a, key).not.toBeNull();
      expect(a, key).toBe(b);
    }
    expect(await objectSha(h.b2.backend, part.key)).toBe(part.sha256);
    const [a, b] = await Promise.all(h.backends.map((backend) => readMetaSidecar({ backend, artifactKey: part.key })));
    expect(a).toMatchObject({ backupId: id, part: part.part, size: part.size, sha256: part.sha256 });
    expect(b).toEqual(a);
  }
}

const deps = () => ({ catalog: h.catalog, backends: h.backends, publish: h.publish, keyRings: h.keyRings });
const eventsFor = (id: string, type: string) => h.events.filter((e) => e.type === type && e.data.backupId === id);

describe("replicateArtifact", () => {
  it("a provider down during the upload: degraded, pending while down, healed when it returns, then idempotent", async () => {
    h.r2.faults!.down();
    let record;
    try {
      record = await storeTenantBackup(h, { tenantId: "t-down" });
      expect(record.status).toBe("degraded");
      expect(record.r2Location).toBeNull();
      // Still down: nothing to do but wait.
      const waiting = await replicateArtifact({ ...deps(), record });
      expect(waiting).toMatchObject({ pending: true, status: "degraded", degraded: ["r2"], healed: [] });
    } finally {
      h.r2.faults!.up();
    }
    const healed = await replicateArtifact({ ...deps(), record: record.id });
    expect(healed).toMatchObject({ pending: false, lost: false, status: "completed", healed: ["r2"], degraded: [] });
    const after = (await getBackupRecord(h.catalog.db, record.id))!;
    expect(after).toMatchObject({ status: "completed", verificationStatus: "verified", r2Location: record.b2Location });
    expect(after.providers.r2).toMatchObject({ status: "stored", verification: "verified", sha256: record.checksum });
    expect(after.providers.r2!.error).toBeUndefined();
    await expectIdentical(record.id);
    expect(eventsFor(record.id, "storage.replica.healed.v1").map((e) => e.data)).toEqual([
      { backupId: record.id, provider: "r2", copiedFrom: "b2", size: record.fileSize },
    ]);
    // Known missing (the upload failed): healed without a "degraded" surprise or an alert.
    expect(eventsFor(record.id, "storage.replica.degraded.v1")).toEqual([]);

    // A redelivery: nothing written, no new healed event.
    const putsBefore = h.r2.faults!.count("put");
    const again = await replicateArtifact({ ...deps(), record: record.id });
    expect(again).toMatchObject({ status: "completed", healed: [] });
    expect(h.r2.faults!.count("put")).toBe(putsBefore);
    expect(eventsFor(record.id, "storage.replica.healed.v1")).toHaveLength(1);
  });

  it("a corrupted copy: verification finds it, reads fall back, healing replaces it", async () => {
    const record = await storeTenantBackup(h, { tenantId: "t-corrupt" });
    const [part] = recordParts(record);
    await corruptObject(h.b2.backend, part!.key);

    // A read falls back to R2 (B2 first in preference).
    const staged = await stageArtifact({ ref: artifactRefFor(record, part!), backends: h.backends, dir: `${process.env.TMPDIR ?? "/tmp"}/sops-${record.id}` });
    expect(staged.provider).toBe("r2");
    expect(staged.failures.map((f) => f.provider)).toContain("b2");
    await staged.remove();
    const read = await readWithFailover({ backends: h.backends, key: part!.key, expectedSha256: part!.sha256, expectedSize: part!.size, verifyFirst: true });
    expect(read.provider).toBe("r2");
    await readAll(read.stream);

    const result = await verifyBackup({ ...deps(), record: record.id });
    const b2 = result.keyless.providers.find((p) => p.provider === "b2")!;
    expect(b2).toMatchObject({ found: "corrupt", state: "healed", copiedFrom: "r2" });
    await expectIdentical(record.id);
    const { rows } = await h.catalog.pool.query(
      "select provider, ok, detail from backup.verifications where backup_id = $1 and depth = 'keyless' order by provider",
      [record.id],
    );
    expect(rows.map((r) => [r.provider, r.ok])).toEqual([
      ["b2", false],
      ["r2", true],
    ]);
    expect(rows[0].detail).toMatch(/checksum_mismatch/);
    expect(eventsFor(record.id, "storage.verification.result.v1").map((e) => [e.data.provider, e.data.ok])).toEqual([
      ["b2", false],
      ["r2", true],
    ]);
    expect(eventsFor(record.id, "storage.replica.degraded.v1").map((e) => e.data)).toMatchObject([{ provider: "b2", reason: "corrupt" }]);
    expect(eventsFor(record.id, "storage.replica.healed.v1").map((e) => e.data)).toMatchObject([{ provider: "b2", copiedFrom: "r2" }]);
    const alerts = await h.catalog.pool.query("select code, severity from backup.alerts where context->>'backupId' = $1", [record.id]);
    expect(alerts.rows).toEqual([{ code: "replica_healed", severity: "warning" }]);
    expect((await getBackupRecord(h.catalog.db, record.id))!.status).toBe("completed");
  });

  it("a missing or tampered sidecar is healed; a copy missing everywhere is reported lost", async () => {
    const record = await storeTenantBackup(h, { tenantId: "t-sidecar" });
    const [part] = recordParts(record);
    await h.r2.backend.delete(keysSidecarKey(part!.key));
    // b2's key sidecar keeps its bytes but carries a broken description
    const keys = await readAll(await h.b2.backend.get(keysSidecarKey(part!.key)));
    await h.b2.backend.put(keysSidecarKey(part!.key), keys, { metadata: { [META_METADATA]: Buffer.from("{}").toString("base64url") } });
    const result = await replicateArtifact({ ...deps(), record: record.id });
    expect(result.providers.map((p) => [p.provider, p.found, p.state])).toEqual([
      ["b2", "sidecar", "healed"],
      ["r2", "sidecar", "healed"],
    ]);
    await expectIdentical(record.id);

    const gone = await storeTenantBackup(h, { tenantId: "t-lost" });
    for (const b of h.backends) await b.delete(recordParts(gone)[0]!.key);
    const lost = await replicateArtifact({ ...deps(), record: gone.id });
    expect(lost).toMatchObject({ lost: true, status: "failed" });
    const alerts = await h.catalog.pool.query("select code from backup.alerts where context->>'backupId' = $1 order by code", [gone.id]);
    expect(alerts.rows.map((r) => r.code)).toContain("backup_lost");
  });

  it("a zstd backup whose descriptions are gone everywhere: the one rebuilt from the catalog says zstd", async () => {
    const record = await storeTenantBackup(h, { tenantId: "t-zstd-meta", zstdLevel: 3 });
    const [part] = recordParts(record);
    for (const b of h.backends) {
      const keys = await readAll(await b.get(keysSidecarKey(part!.key)));
      await b.put(keysSidecarKey(part!.key), keys, { metadata: { [META_METADATA]: Buffer.from("{}").toString("base64url") } });
    }
    await replicateArtifact({ ...deps(), record: record.id });
    for (const b of h.backends)
      expect(await readMetaSidecar({ backend: b, artifactKey: part!.key })).toMatchObject({
        contentEncoding: "zstd",
        manifest: { regeneratedFrom: "catalog" },
      });
  });

  it("a disaster backup: both artifacts and their sidecars are replicated", async () => {
    h.b2.faults!.failAlways("put");
    let record;
    try {
      record = await storeDisasterBackup(h);
    } finally {
      h.b2.faults!.clear();
    }
    expect(record.status).toBe("degraded");
    const result = await replicateArtifact({ ...deps(), record: record.id });
    expect(result).toMatchObject({ status: "completed", healed: ["b2"] });
    expect(recordParts(record)).toHaveLength(2);
    await expectIdentical(record.id);
  });
});

describe("deep verification", () => {
  it("decrypts each provider's copy; skips a type whose keys are not configured", async () => {
    const tenant = await storeTenantBackup(h, { tenantId: "t-deep" });
    const zstd = await storeTenantBackup(h, { tenantId: "t-deep-zstd", zstdLevel: 3 }); // decoded as its header says
    const disaster = await storeDisasterBackup(h);
    for (const record of [tenant, zstd, disaster]) {
      const result = await verifyBackup({ ...deps(), record: record.id, deep: true });
      expect(result.deep!.providers.map((p) => [p.provider, p.ok])).toEqual([
        ["b2", true],
        ["r2", true],
      ]);
      const after = (await getBackupRecord(h.catalog.db, record.id))!;
      expect(after.providers.b2!.deepVerifiedAt).toBeTruthy();
      expect(after.providers.r2!.deepVerifiedAt).toBeTruthy();
    }
    const skipped = await verifyBackup({ ...deps(), keyRings: { tenant: h.keyRings.tenant }, record: disaster.id, deep: true });
    expect(skipped.deep).toEqual({ skipped: expect.stringContaining("DR_MASTER_KEYS"), providers: [] });
    const { rows } = await h.catalog.pool.query("select count(*)::int as n from backup.verifications where backup_id = $1 and depth = 'deep' and ok", [
      tenant.id,
    ]);
    expect(rows[0].n).toBe(2);
  });

  it("a copy that hashes right but does not decrypt fails deep verification and raises an alert", async () => {
    const record = await storeTenantBackup(h, { tenantId: "t-deep-bad" });
    // The catalog's key sidecar of another backup: authenticated decryption must refuse.
    const other = await storeTenantBackup(h, { tenantId: "t-deep-bad" });
    await h.catalog.pool.query("update backup.backup_records set key_sidecar = $2 where id = $1", [record.id, JSON.stringify(other.keySidecar)]);
    const result = await verifyBackup({ ...deps(), record: record.id, deep: true, heal: false });
    expect(result.deep!.providers.every((p) => !p.ok)).toBe(true);
    expect(
      eventsFor(record.id, "storage.verification.result.v1")
        .filter((e) => e.data.depth === "deep")
        .map((e) => e.data.ok),
    ).toEqual([false, false]);
    const alerts = await h.catalog.pool.query("select code from backup.alerts where context->>'backupId' = $1", [record.id]);
    expect(alerts.rows.map((r) => r.code)).toContain("deep_verification_failed");
    expect((await getBackupRecord(h.catalog.db, record.id))!.verificationStatus).toBe("failed");
  });

  it("the deep sample takes a percentage, never-checked first, within a byte budget", async () => {
    const report = await deepVerifySample({ ...deps(), percent: 100, maxBytes: 1 });
    expect(report.selected).toBe(1); // the budget allows one (at least one per run)
    const none = await deepVerifySample({ ...deps(), percent: 0, maxBytes: 1e12 });
    expect(none.selected).toBe(0);
    const noKeys = await deepVerifySample({ ...deps(), keyRings: {}, percent: 100, maxBytes: 1e12 });
    expect(noKeys.candidates).toBe(0);
    expect(noKeys.skippedTypes.map((s) => s.type).sort()).toEqual(["disaster", "tenant"]);
  });
});
