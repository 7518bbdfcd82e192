import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stageArtifact, openStaged } from "@hesaab/artifacts";
import { listBackupRecords } from "@hesaab/db";
import { readAll } from "@hesaab/storage";
import { activeTenants, artifactRef, backupTenant } from "../src";
import { harness, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h?.close();
});

const tenant = (rank: number) => h.platform.tenants[rank - 1]!;

describe("tenant backup", () => {
  it("stores a completed backup in both providers, holding only that tenant's rows", async () => {
    const t = tenant(1);
    const { record, skipped } = await backupTenant(h.deps, { tenantId: t.id, purpose: "on_demand", requestedBy: "test" });
    expect(skipped).toBe(false);
    expect(record.status).toBe("completed");
    expect(Object.keys(record.providers).sort()).toEqual(["b2", "r2"]);
    expect(record.b2Location).toBe(record.r2Location);
    expect(record.expiresAt!.getTime() - record.createdAt.getTime()).toBe(30 * 86_400_000);
    expect(record.metadata.rows).toBe(Object.values(t.rows).reduce((a, b) => a + b, 0));
    // a checksum per table, over the same tables as the row counts (what a restore drill compares with)
    const checksums = record.metadata.checksums as Record<string, string>;
    expect(Object.keys(checksums).sort()).toEqual(Object.keys(record.metadata.tables as object).sort());
    for (const c of Object.values(checksums)) expect(c).toMatch(/^[0-9a-f]{16}$/);

    const staged = await stageArtifact({ ref: artifactRef(record), backends: h.deps.backends, dir: h.deps.workDir });
    const sql = (await readAll(await openStaged({ staged, keyRing: h.deps.keyRing }))).toString("utf8");
    await staged.remove();
    expect(sql).toContain(t.id);
    for (const other of h.platform.tenants.filter((o) => o.id !== t.id)) expect(sql).not.toContain(other.id);
    expect(sql).toMatch(/COPY public\.invoice_line_taxes/); // owned only through a foreign key
    expect(h.events.map((e) => e.type)).toEqual(
      expect.arrayContaining(["backup.tenant.started.v1", "storage.artifact.stored.v1", "backup.tenant.completed.v1"]),
    );
  });

  it("completes as degraded when one provider fails, and fails (retryable) when both do", async () => {
    const t = tenant(2);
    h.r2.faults!.failAlways("put");
    try {
      const { record } = await backupTenant(h.deps, { tenantId: t.id, purpose: "on_demand", requestedBy: "test" });
      expect(record.status).toBe("degraded");
      expect(record.providers.r2!.status).toBe("failed");
      expect(record.r2Location).toBeNull();
      expect(h.events.some((e) => e.type === "storage.replica.degraded.v1")).toBe(true);
      h.b2.faults!.failAlways("put");
      await expect(backupTenant(h.deps, { tenantId: t.id, purpose: "on_demand", requestedBy: "test" })).rejects.toMatchObject({ retryable: true });
    } finally {
      h.b2.faults!.clear();
      h.r2.faults!.clear();
    }
    const records = await listBackupRecords(h.deps.catalog.db, { tenantId: t.id });
    expect(records.map((r) => r.status)).toEqual(["failed", "degraded"]);
  });

  it("refuses a tenant that does not exist or is suspended, without an artifact", async () => {
    await expect(backupTenant(h.deps, { tenantId: "00000000-0000-0000-0000-000000000000", purpose: "on_demand", requestedBy: "test" })).rejects.toMatchObject({
      code: "tenant_not_found",
    });
    const suspended = h.platform.tenants.find((t) => t.status === "suspended")!;
    await expect(backupTenant(h.deps, { tenantId: suspended.id, purpose: "on_demand", requestedBy: "test" })).rejects.toMatchObject({
      code: "tenant_not_active",
    });
    for (const id of ["00000000-0000-0000-0000-000000000000", suspended.id]) {
      const records = await listBackupRecords(h.deps.catalog.db, { tenantId: id });
      expect(records.every((r) => r.status === "failed")).toBe(true);
    }
    expect(await activeTenants(h.deps)).not.toContain(suspended.id);
  });

  it("makes one backup per tenant per period, however often it is asked", async () => {
    const t = tenant(4);
    const results = await Promise.allSettled(
      Array.from({ length: 3 }, () => backupTenant(h.deps, { tenantId: t.id, purpose: "scheduled", period: "2026-11-26", requestedBy: "schedule" })),
    );
    const again = await backupTenant(h.deps, { tenantId: t.id, purpose: "scheduled", period: "2026-11-26", requestedBy: "schedule" });
    expect(again.skipped).toBe(true);
    const good = (await listBackupRecords(h.deps.catalog.db, { tenantId: t.id })).filter((r) => r.status === "completed");
    expect(good).toHaveLength(1);
    expect(good[0]!.id).toBe(again.record.id);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "backup_in_progress", retryable: true });
  });
});
