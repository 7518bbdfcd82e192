import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getBackupRecord, migrate, openCatalog } from "@hesaab/db";
import { freshDatabase, uniquePrefix, type FreshDatabase } from "@hesaab/testkit";
import { backupPlatform, listDisasterBackups, restorePlatform } from "../src";
import { databaseExists, drKeyRing, fingerprint, provider, randomKey, samplePlatform, type SamplePlatform } from "./helpers";

// The disaster case: the catalog is gone with everything else. Only the buckets and the keys remain.
let source: SamplePlatform;
let catalogDb: FreshDatabase;
const root = uniquePrefix("dr-nocat");
const key = randomKey();

beforeAll(async () => {
  source = await samplePlatform("dr_nocat_src");
  catalogDb = await freshDatabase("dr_nocat_catalog");
  await migrate({ url: catalogDb.url });
});
afterAll(async () => {
  await source.db.drop();
  await catalogDb.drop();
});

describe("restore with no catalog", () => {
  it("backs up with a catalog in its own database, drops it, then lists and restores from the buckets and keys alone", async () => {
    const catalog = openCatalog({ url: catalogDb.url, max: 2 });
    let backupId: string;
    try {
      const backup = await backupPlatform({
        platformUrl: source.db.url,
        keyRing: drKeyRing({ 1: key }),
        backends: [provider("b2").backend, provider("r2").backend],
        catalog: catalog.db,
        root,
      });
      backupId = backup.backupId;
      expect((await getBackupRecord(catalog.db, backupId))?.status).toBe("completed");
    } finally {
      await catalog.close();
    }
    await catalogDb.drop();
    expect(await databaseExists(catalogDb.name)).toBe(false);

    // Fresh handles, as on a new machine: backends from credentials, keys from DR_MASTER_KEYS.
    const backends = [provider("b2").backend, provider("r2").backend];
    const keyRing = drKeyRing({ 1: key });
    const listing = await listDisasterBackups({ backends, root });
    expect(listing.backups.map((b) => b.backupId)).toEqual([backupId]);
    const target = await freshDatabase("dr_nocat_dst");
    try {
      const report = await restorePlatform({ backupId, backends, keyRing, targetUrl: target.url, root, jobs: 2 });
      expect(report).toMatchObject({ ok: true, providerUsed: "b2", fellBack: false, failures: [] });
      expect(await fingerprint(target.url)).toEqual(await fingerprint(source.db.url));
    } finally {
      await target.drop();
    }
  });
});
