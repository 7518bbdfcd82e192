import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStaged, stageArtifact } from "@hesaab/artifacts";
import { listAlerts, listBackupRecords } from "@hesaab/db";
import { openSpool, readAll, type LocalSpool } from "@hesaab/storage";
import { artifactRef, backupTenant, backupTenants, type TenantBackupDeps } from "../src";
import { harness, type Harness } from "./harness";

let h: Harness;
let dir: string;
beforeAll(async () => {
  h = await harness({ tenants: 9 });
  dir = await mkdtemp(path.join(os.tmpdir(), "tbk-spool-"));
});
afterAll(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const active = (rank: number) => h.platform.tenants.filter((t) => t.status === "active")[rank]!;

/** A value only this test wrote into one of the tenant's rows: found in a plaintext, never in a sealed artifact. */
async function canary(tenantId: string): Promise<string> {
  const value = `SPOOL-CANARY-${randomBytes(8).toString("hex")}`;
  await h.deps.platform.query("update public.customers set name = $2 where id = (select min(id) from public.customers where tenant_id = $1)", [
    tenantId,
    value,
  ]);
  return value;
}

async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

function bothDown<T>(fn: () => Promise<T>): Promise<T> {
  h.b2.faults!.failAlways("put");
  h.r2.faults!.failAlways("put");
  return fn().finally(() => {
    h.b2.faults!.clear();
    h.r2.faults!.clear();
  });
}

const withSpool = (spool: LocalSpool): TenantBackupDeps => ({ ...h.deps, spool });

describe("local spool (both providers refuse)", () => {
  it("a streamed backup ends spooled: sealed bytes only in the spool, an entry naming it, the record and event say so", async () => {
    const spool = openSpool({ dir: path.join(dir, "a"), maxBytes: 64 * 1024 * 1024 });
    const t = active(0);
    const value = await canary(t.id);
    const { record } = await bothDown(() => backupTenant(withSpool(spool), { tenantId: t.id, purpose: "on_demand", requestedBy: "test" }));
    expect(record.status).toBe("spooled");
    expect(record.providers.b2).toMatchObject({ status: "failed" });
    expect(record.providers.r2).toMatchObject({ status: "failed" });
    expect(record.b2Location).toBeNull();
    expect(record.checksum).toMatch(/^[0-9a-f]{64}$/);

    const [entry, ...more] = await spool.entries();
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ backupId: record.id, key: record.metadata.key, sha256: record.checksum, size: record.fileSize, tenantId: t.id });
    // nothing plaintext on disk: no file of the spool holds the row value
    for (const file of await filesUnder(spool.dir)) expect((await readFile(file)).includes(value), file).toBe(false);
    // …yet the spooled artifact is that backup: it decrypts (with the recorded key sidecar) to a script holding it
    const staged = await stageArtifact({ ref: artifactRef(record), backends: [spool.backend], dir: h.deps.workDir });
    const sql = (await readAll(await openStaged({ staged, keyRing: h.deps.keyRing }))).toString("utf8");
    await staged.remove();
    expect(sql).toContain(value);
    expect(h.events).toContainEqual({
      type: "backup.tenant.spooled.v1",
      data: expect.objectContaining({ backupId: record.id, tenantId: t.id, sha256: record.checksum }),
    });
  });

  it("a batch of small tenants spools each tenant no provider took", async () => {
    const spool = openSpool({ dir: path.join(dir, "b"), maxBytes: 64 * 1024 * 1024 });
    const ids = [active(1).id, active(2).id];
    const outcomes = await bothDown(() =>
      backupTenants(withSpool(spool), { tenantIds: ids, purpose: "scheduled", period: "spool-b", requestedBy: "test", smallTenantBytes: 64 * 1024 * 1024 }),
    );
    expect(outcomes.map((o) => o.ok && o.record.status)).toEqual(["spooled", "spooled"]);
    expect((await spool.entries()).map((e) => e.tenantId).sort()).toEqual([...ids].sort());
  });

  it("without a spool, both refusing still fails the backup (retryable)", async () => {
    await expect(bothDown(() => backupTenant(h.deps, { tenantId: active(3).id, purpose: "on_demand", requestedBy: "test" }))).rejects.toMatchObject({
      code: "storage_all_providers_failed",
      retryable: true,
    });
  });

  it("a full spool fails the backup clearly, keeps nothing of it and raises a spool_full alert", async () => {
    const spool = openSpool({ dir: path.join(dir, "c"), maxBytes: 4 * 1024 });
    const t = active(4);
    const err = await bothDown(() => backupTenant(withSpool(spool), { tenantId: t.id, purpose: "on_demand", requestedBy: "test" })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "storage_spool_full", retryable: true, hint: expect.stringMatching(/HESAAB_SPOOL_MAX_BYTES/) });
    expect(await spool.entries()).toEqual([]);
    expect((await filesUnder(spool.dir)).filter((f) => !f.includes(`${path.sep}meta${path.sep}`))).toEqual([]);
    const [record] = await listBackupRecords(h.deps.catalog.db, { tenantId: t.id });
    expect(record).toMatchObject({ status: "failed", errorMessage: expect.stringMatching(/spool/) });
    const alerts = await listAlerts(h.deps.catalog.db);
    expect(alerts).toContainEqual(expect.objectContaining({ code: "spool_full", severity: "critical", context: expect.objectContaining({ tenantId: t.id }) }));
    expect(h.events.some((e) => e.type === "alert.raised.v1")).toBe(true);
  });
});
