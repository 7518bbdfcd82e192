import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdir } from "node:fs/promises";
import pg from "pg";
import { eq } from "drizzle-orm";
import { restoreOperations, updateBackupRecord } from "@hesaab/db";
import { createPlatformSchema, tableChecksums } from "@hesaab/platform";
import { readAll } from "@hesaab/storage";
import { freshDatabase } from "@hesaab/testkit";
import { artifactRef, backupTenant, restoreTenants, rollbackRestore } from "../src";
import { harness, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await harness({ tenants: 6, seed: 11 });
});
afterAll(async () => {
  await h?.close();
});

const tenant = (rank: number) => h.platform.tenants[rank - 1]!;
const checksums = (tenantId: string) => tableChecksums({ pool: h.deps.platform, tenantId });
const q = (sql: string, params: unknown[] = []) => h.deps.platform.query(sql, params);

async function damage(tenantId: string) {
  await q("update public.customers set name = 'changed' where tenant_id = $1", [tenantId]);
  await q("update public.payments set amount = amount + 1 where tenant_id = $1", [tenantId]);
  await q("delete from public.invoice_line_taxes x using public.invoice_lines l where l.id = x.line_id and l.tenant_id = $1", [tenantId]);
  await q("delete from public.journal_lines where tenant_id = $1 and line_no > 1", [tenantId]);
}

describe("tenant restore", () => {
  it("puts back exactly the backup's rows, leaves other tenants alone, and can be rolled back", async () => {
    const t = tenant(1);
    const before = await checksums(t.id);
    const others = await Promise.all([tenant(2), tenant(4)].map((o) => checksums(o.id)));
    const { record } = await backupTenant(h.deps, { tenantId: t.id, purpose: "on_demand", requestedBy: "test" });
    await damage(t.id);
    const damaged = await checksums(t.id);
    expect(damaged).not.toEqual(before);

    const report = await restoreTenants(h.deps, { tenantIds: [t.id], provider: "b2", requestedBy: "admin" });
    expect(report.status).toBe("completed");
    expect(report.tenants[0]).toMatchObject({ ok: true, backupId: record.id, providerUsed: "b2" });
    expect(await checksums(t.id)).toEqual(before);
    expect(await Promise.all([tenant(2), tenant(4)].map((o) => checksums(o.id)))).toEqual(others);
    // The application can go on inserting: sequences were moved past the restored ids.
    await q("insert into public.customers (tenant_id, code, name) values ($1, 'after-restore', 'x')", [t.id]);
    await q("delete from public.customers where tenant_id = $1 and code = 'after-restore'", [t.id]);

    const [op] = await h.deps.catalog.db.select().from(restoreOperations).where(eq(restoreOperations.id, report.operationId));
    expect(op).toMatchObject({ status: "completed", progressPercentage: 100, rollbackAvailable: true, restoreType: "individual" });

    const rolled = await rollbackRestore(h.deps, { operationId: report.operationId, requestedBy: "admin" });
    expect(rolled.status).toBe("completed");
    expect(await checksums(t.id)).toEqual(damaged);
    await expect(rollbackRestore(h.deps, { operationId: report.operationId, requestedBy: "admin" })).rejects.toMatchObject({ code: "rollback_unavailable" });
  });

  it("restores from R2 when B2 is down, and records the fallback", async () => {
    const t = tenant(2);
    const before = await checksums(t.id);
    await backupTenant(h.deps, { tenantId: t.id, purpose: "on_demand", requestedBy: "test" });
    await damage(t.id);
    h.b2.faults!.down();
    try {
      const report = await restoreTenants(h.deps, { tenantIds: [t.id], provider: "b2", requestedBy: "admin" });
      expect(report.tenants[0]).toMatchObject({ ok: true, providerUsed: "r2", fallbackFrom: ["b2"] });
    } finally {
      h.b2.faults!.clear();
    }
    expect(await checksums(t.id)).toEqual(before);
  });

  it("refuses a tampered, a truncated or another tenant's artifact before any row changes", async () => {
    const t = tenant(4);
    const { record } = await backupTenant(h.deps, { tenantId: t.id, purpose: "on_demand", requestedBy: "test" });
    await damage(t.id);
    const damaged = await checksums(t.id);
    const ref = artifactRef(record);
    const original = await readAll(await h.b2.backend.get(ref.key));

    // tampered in both providers: the checksum (and the tag) catch it
    const tampered = Buffer.from(original);
    tampered[tampered.length - 40]! ^= 0x01;
    for (const b of h.deps.backends) await b.put(ref.key, tampered);
    let report = await restoreTenants(h.deps, { tenantIds: [t.id], provider: "b2", requestedBy: "admin" });
    expect(report.status).toBe("failed");
    expect(report.tenants[0]!.error!.code).toMatch(/storage_corrupt/);
    expect(await checksums(t.id)).toEqual(damaged);

    // tampered, with the catalog's checksum "agreeing": the authenticated decrypt refuses it
    const { createHash } = await import("node:crypto");
    await updateBackupRecord(h.deps.catalog.db, { id: record.id, set: { checksum: createHash("sha256").update(tampered).digest("hex") } });
    report = await restoreTenants(h.deps, { backupId: record.id, provider: "r2", requestedBy: "admin" });
    expect(report.tenants[0]!.error!.code).toMatch(/^artifact_/);
    expect(await checksums(t.id)).toEqual(damaged);

    // truncated
    const truncated = original.subarray(0, original.length - 100);
    for (const b of h.deps.backends) await b.put(ref.key, truncated);
    await updateBackupRecord(h.deps.catalog.db, {
      id: record.id,
      set: { checksum: createHash("sha256").update(truncated).digest("hex"), fileSize: truncated.length },
    });
    report = await restoreTenants(h.deps, { backupId: record.id, provider: "b2", requestedBy: "admin" });
    expect(report.tenants[0]!.error!.code).toMatch(/^artifact_/);
    expect(await checksums(t.id)).toEqual(damaged);

    // another tenant's artifact presented as this one's
    const other = tenant(6);
    const { record: otherRecord } = await backupTenant(h.deps, { tenantId: other.id, purpose: "on_demand", requestedBy: "test" });
    await updateBackupRecord(h.deps.catalog.db, {
      id: record.id,
      set: {
        ...Object.fromEntries(
          Object.entries(otherRecord).filter(([k]) => ["checksum", "fileSize", "keySidecar", "metadata", "b2Location", "r2Location", "providers"].includes(k)),
        ),
      },
    });
    report = await restoreTenants(h.deps, { backupId: record.id, provider: "b2", requestedBy: "admin" });
    expect(report.status).toBe("failed");
    expect(await checksums(t.id)).toEqual(damaged);
    // tenant A asking for tenant B's backup by id
    await expect(restoreTenants(h.deps, { tenantIds: [t.id], backupId: otherRecord.id, provider: "b2", requestedBy: "admin" })).rejects.toMatchObject({
      code: "restore_wrong_tenant",
    });
  });

  it("restores a tenant as a copy into another database without touching production", async () => {
    const t = tenant(6);
    const prod = await checksums(t.id);
    await backupTenant(h.deps, { tenantId: t.id, purpose: "on_demand", requestedBy: "test" });
    const copy = await freshDatabase("tbk_copy");
    try {
      await createPlatformSchema({ url: copy.url });
      const c = new pg.Client({ connectionString: copy.url });
      await c.connect();
      const { rows } = await q("select code, name, name_fa, symbol, minor_units from public.currencies");
      for (const r of rows) await c.query("insert into public.currencies values ($1,$2,$3,$4,$5)", [r.code, r.name, r.name_fa, r.symbol, r.minor_units]);
      await c.end();
      const report = await restoreTenants(h.deps, { tenantIds: [t.id], provider: "r2", targetDb: copy.url, requestedBy: "admin" });
      expect(report.status).toBe("completed");
      expect(report.rollbackAvailable).toBe(false);
      expect(await tableChecksums({ url: copy.url, tenantId: t.id })).toEqual(prod);
      expect(await checksums(t.id)).toEqual(prod);
    } finally {
      await copy.drop();
    }
  });

  it("a copy into a schema whose global tables are empty is refused up front naming them; with dependencies their rows are copied first", async () => {
    const [t, u] = [tenant(6), tenant(2)]; // active ones whose latest backup stays good (tenant 4's is tampered with above)
    for (const x of [t, u]) await backupTenant(h.deps, { tenantId: x.id, purpose: "on_demand", requestedBy: "test" });
    const copy = await freshDatabase("tbk_copy_deps");
    const target = new pg.Pool({ connectionString: copy.url, max: 1 });
    try {
      await createPlatformSchema({ url: copy.url }); // the schema, no rows: the case that failed on a foreign key to currencies
      const operations = async () => (await h.deps.catalog.db.select().from(restoreOperations)).length;
      const before = await operations();
      const platformCurrencies = Number((await q("select count(*) as n from public.currencies")).rows[0].n);
      await expect(restoreTenants(h.deps, { tenantIds: [t.id], provider: "b2", targetDb: copy.url, requestedBy: "admin" })).rejects.toMatchObject({
        code: "restore_target_missing_dependencies",
        message: expect.stringContaining(`public.currencies (0 of the platform's ${platformCurrencies} rows)`) as string,
        hint: expect.stringMatching(/--with-dependencies/) as string,
      });
      expect(await operations(), "refused before anything was recorded").toBe(before);
      expect((await target.query("select count(*) as n from public.tenants")).rows[0].n).toBe("0");

      const report = await restoreTenants(h.deps, { tenantIds: [t.id], provider: "b2", targetDb: copy.url, withDependencies: true, requestedBy: "admin" });
      expect(report.status, JSON.stringify(report.tenants)).toBe("completed");
      expect(report.dependencies).toEqual([{ table: "public.currencies", rows: platformCurrencies }]);
      const rows = (pool: pg.Pool) => pool.query("select * from public.currencies order by code").then((r) => r.rows);
      expect(await rows(target)).toEqual(await rows(h.deps.platform));
      expect(await tableChecksums({ url: copy.url, tenantId: t.id })).toEqual(await checksums(t.id));

      // a second tenant into the same copy: the rows are there already and are kept
      const second = await restoreTenants(h.deps, { tenantIds: [u.id], provider: "b2", targetDb: copy.url, withDependencies: true, requestedBy: "admin" });
      expect(second.status).toBe("completed");
      expect(second.dependencies).toEqual([{ table: "public.currencies", rows: 0 }]);
    } finally {
      await target.end();
      await copy.drop();
    }
  });

  it("a copy into a database without the global tables is refused naming them, with or without dependencies", async () => {
    const t = tenant(5);
    const copy = await freshDatabase("tbk_copy_bare");
    try {
      for (const withDependencies of [false, true]) {
        await expect(
          restoreTenants(h.deps, { tenantIds: [t.id], provider: "b2", targetDb: copy.url, withDependencies, requestedBy: "admin" }),
        ).rejects.toMatchObject({
          code: "restore_target_missing_tables",
          message: expect.stringMatching(/lacks the global tables public\.currencies that tenant rows reference/) as string,
          hint: expect.stringContaining("pg_dump --schema-only -t public.currencies") as string,
        });
      }
    } finally {
      await copy.drop();
    }
  });

  it("removes the restore's staging folder when it ends, completed or failed", async () => {
    const t = tenant(2);
    await backupTenant(h.deps, { tenantId: t.id, purpose: "on_demand", requestedBy: "test" });
    const staged = async () => (await readdir(h.deps.workDir)).filter((f) => f.startsWith("rst_"));
    const ok = await restoreTenants(h.deps, { tenantIds: [t.id], provider: "b2", requestedBy: "admin" });
    expect(ok.status).toBe("completed");
    expect(await staged()).toEqual([]);

    // both providers hand out damaged bytes: staged, refused, failed
    h.b2.faults!.corrupt("get");
    h.r2.faults!.corrupt("get");
    try {
      const failed = await restoreTenants(h.deps, { tenantIds: [t.id], provider: "b2", requestedBy: "admin" });
      expect(failed.status).toBe("failed");
    } finally {
      h.b2.faults!.clear();
      h.r2.faults!.clear();
    }
    expect(await staged()).toEqual([]);
  });

  it("restores all tenants, reporting an outcome per tenant", async () => {
    const all = await restoreTenants(h.deps, { all: true, provider: "b2", requestedBy: "admin", concurrency: 2 });
    expect(all.tenants.length).toBeGreaterThanOrEqual(3);
    const byTenant = Object.fromEntries(all.tenants.map((o) => [o.tenantId, o.ok]));
    expect(byTenant[tenant(1).id]).toBe(true);
    expect(byTenant[tenant(2).id]).toBe(true);
    expect(byTenant[tenant(4).id]).toBe(false); // its backup was tampered with above: reported, the others go on
    expect(all.status).toBe("partial");
  });
});
