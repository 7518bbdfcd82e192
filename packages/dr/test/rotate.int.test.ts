import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getBackupRecord, openCatalog, type Catalog } from "@hesaab/db";
import { keysSidecarKey, readAll } from "@hesaab/storage";
import { freshDatabase, uniquePrefix } from "@hesaab/testkit";
import { backupPlatform, restorePlatform, rotateDisasterKeys, type DisasterBackupResult } from "../src";
import { drKeyRing, fingerprint, provider, randomKey, samplePlatform, tablesOf, type SamplePlatform } from "./helpers";

let source: SamplePlatform;
let catalog: Catalog;
let backup: DisasterBackupResult;
const root = uniquePrefix("dr-rotate");
const v1 = randomKey();
const v2 = randomKey();
const backends = [provider("b2").backend, provider("r2").backend];

const slotVersions = async (key: string) =>
  Promise.all(
    backends.map(async (b) =>
      JSON.parse((await readAll(await b.get(`${root}${keysSidecarKey(key)}`))).toString()).slots.map((s: { keyVersion: number }) => s.keyVersion),
    ),
  );

beforeAll(async () => {
  source = await samplePlatform("dr_rot_src");
  catalog = openCatalog({ url: source.db.url, max: 2 });
  backup = await backupPlatform({ platformUrl: source.db.url, keyRing: drKeyRing({ 1: v1 }), backends, catalog: catalog.db, root });
});
afterAll(async () => {
  await catalog.close();
  await source.db.drop();
});

describe("platform key rotation", () => {
  it("re-wraps every sidecar (providers and catalog) under the new version; the backup restores without the old key", async () => {
    const both = drKeyRing({ 1: v1, 2: v2 });
    const dry = await rotateDisasterKeys({ backends, keyRing: both, catalog: catalog.db, root, dryRun: true });
    expect(dry).toMatchObject({ ok: true, dryRun: true });
    expect(dry.providers.map((p) => [p.sidecars, p.rewrapped])).toEqual([
      [2, 2],
      [2, 2],
    ]);
    expect(await slotVersions(backup.data.key)).toEqual([[1], [1]]); // nothing written

    const run = await rotateDisasterKeys({ backends, keyRing: both, catalog: catalog.db, root });
    expect(run.ok).toBe(true);
    expect(run.providers.flatMap((p) => p.outcomes.map((o) => [o.from, o.to]))).toEqual(Array(4).fill([1, 2]));
    expect(run.catalog).toMatchObject({ records: 1, rewrapped: 1, failed: 0 });
    expect(await slotVersions(backup.data.key)).toEqual([[2], [2]]);
    expect(await slotVersions(backup.config.key)).toEqual([[2], [2]]);
    const record = (await getBackupRecord(catalog.db, backup.backupId))!;
    expect((record.keySidecar as { slots: { keyVersion: number }[] }).slots[0]!.keyVersion).toBe(2);
    expect((record.metadata as { config: { keySidecar: { slots: { keyVersion: number }[] } } }).config.keySidecar.slots[0]!.keyVersion).toBe(2);

    // A second run has nothing left to do.
    const again = await rotateDisasterKeys({ backends, keyRing: both, catalog: catalog.db, root });
    expect(again.providers.map((p) => [p.rewrapped, p.current])).toEqual([
      [0, 2],
      [0, 2],
    ]);

    // Version 1 removed from the key set: the restore works with version 2 alone.
    const target = await freshDatabase("dr_rot_dst");
    try {
      const report = await restorePlatform({ latest: true, backends, keyRing: drKeyRing({ 2: v2 }), targetUrl: target.url, root });
      expect(report.ok).toBe(true);
      expect((await fingerprint(target.url)).tables).toEqual((await fingerprint(source.db.url)).tables);
    } finally {
      await target.drop();
    }
    // And version 1 alone no longer opens it.
    const other = await freshDatabase("dr_rot_old");
    try {
      await expect(restorePlatform({ latest: true, backends, keyRing: drKeyRing({ 1: v1 }), targetUrl: other.url, root })).rejects.toMatchObject({
        code: "dr_backup_unusable",
        message: expect.stringContaining("key_version_unknown"),
      });
      expect(await tablesOf(other.url)).toEqual([]);
    } finally {
      await other.drop();
    }
  });

  it("reports a sidecar it cannot re-wrap (its key version is not configured) and leaves it alone", async () => {
    const report = await rotateDisasterKeys({ backends, keyRing: drKeyRing({ 3: randomKey() }), root });
    expect(report.ok).toBe(false);
    expect(report.providers.every((p) => p.failed === 2 && p.outcomes.every((o) => o.error?.code === "key_version_unknown"))).toBe(true);
    expect(await slotVersions(backup.data.key)).toEqual([[2], [2]]);
  });
});
