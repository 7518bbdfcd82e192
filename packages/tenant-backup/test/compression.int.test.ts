// BACKUP_COMPRESSION: zstd backups beside gzip ones. The artifact's header names its encoding, so a
// restore reads either whatever the setting is now; a zstd backup's plaintext loads with `zstd -d | psql`.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDecryptStream, encryptBuffer, readHeader, type ArtifactIdentity } from "@hesaab/crypto";
import { type BackupRecord, updateBackupRecord } from "@hesaab/db";
import { createPlatformSchema, tableChecksums } from "@hesaab/platform";
import { readAll } from "@hesaab/storage";
import { freshDatabase } from "@hesaab/testkit";
import { artifactRef, backupTenant, backupTenants, restoreTenants, type TenantBackupDeps } from "../src";
import { harness, type Harness } from "./harness";

let h: Harness;
let zstd: TenantBackupDeps;
beforeAll(async () => {
  h = await harness({ tenants: 8, seed: 23 });
  zstd = { ...h.deps, compression: "zstd" };
});
afterAll(async () => {
  await h?.close();
});

/** The rank-th tenant that can be backed up (the generator also makes suspended and deleted ones). */
const tenant = (rank: number) => h.platform.tenants.filter((t) => t.status === "active")[rank - 1]!;
const checksums = (tenantId: string) => tableChecksums({ pool: h.deps.platform, tenantId });
const damage = (tenantId: string) => h.deps.platform.query("update public.customers set name = 'changed' where tenant_id = $1", [tenantId]);

/** The artifact of a backup as B2 holds it, and what its header says. */
async function artifactOf(record: BackupRecord) {
  const ref = artifactRef(record);
  const bytes = await readAll(await h.b2.backend.get(ref.key));
  return { ref, bytes, header: await readHeader(bytes) };
}

/** The artifact's plaintext as `hesaab artifact decrypt` writes it: decrypted, still compressed. */
async function decrypted(record: BackupRecord): Promise<Buffer> {
  const { ref, bytes } = await artifactOf(record);
  const { dek, dekId } = await h.deps.keyRing.openArtifact({ sidecar: ref.sidecar!, expect: ref.identity });
  const decrypt = createDecryptStream({ dek, dekId, expect: ref.identity });
  decrypt.end(bytes);
  return readAll(decrypt);
}

describe("BACKUP_COMPRESSION", () => {
  it("zstd: the header and the catalog say zstd; it restores the same rows, and so does the gzip backup taken before, whatever the setting now", async () => {
    const t = tenant(1);
    const before = await checksums(t.id);
    const { record: gzipped } = await backupTenant(h.deps, { tenantId: t.id, purpose: "on_demand", requestedBy: "test" });
    const { record: zstded } = await backupTenant(zstd, { tenantId: t.id, purpose: "on_demand", requestedBy: "test" });
    expect((await artifactOf(gzipped)).header.contentEncoding).toBe("gzip");
    expect((await artifactOf(zstded)).header.contentEncoding).toBe("zstd");
    expect(zstded.metadata).toMatchObject({ contentEncoding: "zstd" });
    expect(gzipped.metadata).toMatchObject({ contentEncoding: "gzip" });

    for (const [deps, record] of [
      [h.deps, zstded], // the setting switched back to gzip: the zstd backup still restores
      [zstd, gzipped], // and the other way round
    ] as const) {
      await damage(t.id);
      expect(await checksums(t.id)).not.toEqual(before);
      const report = await restoreTenants(deps, { backupId: record.id, provider: "b2", requestedBy: "admin" });
      expect(report.status, JSON.stringify(report.tenants)).toBe("completed");
      expect(await checksums(t.id)).toEqual(before);
    }
  });

  it("zstd in a batch of small tenants (the in-memory path) restores exactly", async () => {
    const [a, b] = [tenant(2), tenant(3)];
    const before = await checksums(a.id);
    const outcomes = await backupTenants(zstd, { tenantIds: [a.id, b.id], purpose: "on_demand", requestedBy: "test", batchSize: 5 });
    const outcome = outcomes.find((o) => o.tenantId === a.id)!;
    if (!outcome.ok) throw outcome.error;
    const record = outcome.record;
    expect((await artifactOf(record)).header.contentEncoding).toBe("zstd");
    await damage(a.id);
    const report = await restoreTenants(h.deps, { backupId: record.id, provider: "r2", requestedBy: "admin" });
    expect(report.status, JSON.stringify(report.tenants)).toBe("completed");
    expect(await checksums(a.id)).toEqual(before);
  });

  it("a zstd backup's decrypted plaintext loads with `zstd -d | psql`, as docs/operations.md says", async () => {
    const t = tenant(4);
    const { record } = await backupTenant(zstd, { tenantId: t.id, purpose: "on_demand", requestedBy: "test" });
    const file = path.join(h.deps.workDir, `${record.id}.sql.zst`);
    await writeFile(file, await decrypted(record));
    const scratch = await freshDatabase("tbk_zstd_psql");
    try {
      await createPlatformSchema({ url: scratch.url });
      const target = new pg.Client({ connectionString: scratch.url });
      await target.connect();
      const { rows } = await h.deps.platform.query("select code, name, name_fa, symbol, minor_units from public.currencies");
      for (const r of rows) await target.query("insert into public.currencies values ($1,$2,$3,$4,$5)", [r.code, r.name, r.name_fa, r.symbol, r.minor_units]);
      await target.end();
      const r = spawnSync("sh", ["-c", 'zstd -d < "$1" | psql -X -q -v ON_ERROR_STOP=1 -d "$2"', "sh", file, scratch.url], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      expect(await tableChecksums({ url: scratch.url, tenantId: t.id })).toEqual(await checksums(t.id));
    } finally {
      await scratch.drop();
    }
  });

  it("a truncated or corrupt zstd plaintext inside an authentic artifact: a clear restore error, nothing changed", async () => {
    const t = tenant(5);
    const { record } = await backupTenant(zstd, { tenantId: t.id, purpose: "on_demand", requestedBy: "test" });
    await damage(t.id);
    const damaged = await checksums(t.id);
    const frames = await decrypted(record);
    const flipped = Buffer.from(frames);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x10;
    for (const body of [frames.subarray(0, frames.length - 50), flipped]) {
      // re-encrypted with the backup's own data key: authentic, so only the decompression can tell
      const { ref } = await artifactOf(record);
      const { dek, dekId } = await h.deps.keyRing.openArtifact({ sidecar: ref.sidecar!, expect: ref.identity });
      const identity: ArtifactIdentity = ref.identity;
      const artifact = encryptBuffer({ dek, dekId, ...identity, contentEncoding: "zstd" }, body);
      for (const backend of h.deps.backends) await backend.put(ref.key, artifact);
      await updateBackupRecord(h.deps.catalog.db, {
        id: record.id,
        set: { checksum: createHash("sha256").update(artifact).digest("hex"), fileSize: artifact.length },
      });
      const report = await restoreTenants(h.deps, { backupId: record.id, provider: "b2", requestedBy: "admin" });
      expect(report.status).toBe("failed");
      expect(report.tenants[0]!.error).toMatchObject({
        code: "artifact_content_corrupt",
        message: expect.stringContaining("the decrypted plaintext is not valid zstd") as string,
      });
      expect(await checksums(t.id)).toEqual(damaged);
    }
  });
});
