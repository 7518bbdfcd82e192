import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { type FreshDatabase, freshDatabase, testPool } from "@hesaab/testkit";
import { isHesaabError } from "@hesaab/config";
import { createPlatformSchema, type GenerateResult, generatePlatform, tableChecksums, TENANT_TABLE_NAMES } from "../src/index";

const SHAPE = { tenants: 6, scale: 0.08 };

describe("generatePlatform", () => {
  const dbs: FreshDatabase[] = [];
  let first: GenerateResult;
  let firstUrl: string;

  beforeAll(async () => {
    dbs.push(await freshDatabase("platform_test"));
    firstUrl = dbs[0]!.url;
    first = await generatePlatform({ url: firstUrl, ...SHAPE, seed: 7 });
  });
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });

  it("gives the same checksums for the same seed in another fresh database, and different ones for another seed", async () => {
    const [same, other] = await Promise.all([freshDatabase("platform_test"), freshDatabase("platform_test")]);
    dbs.push(same, other);
    // a different concurrency and a pool instead of a url: the result must not depend on either
    const pool = testPool({ connectionString: same.url, max: 3 });
    try {
      const again = await generatePlatform({ pool, ...SHAPE, seed: 7, concurrency: 3 });
      expect(again.rows).toEqual(first.rows);
      expect(again.bytes).toBe(first.bytes);
    } finally {
      await pool.end();
    }
    await generatePlatform({ url: other.url, ...SHAPE, seed: 8 });

    const a = await tableChecksums({ url: firstUrl });
    const b = await tableChecksums({ url: same.url });
    const c = await tableChecksums({ url: other.url });
    expect(b).toEqual(a);
    expect(Object.keys(a)).toContain("invoice_line_taxes");
    expect(c.invoices!.md5).not.toBe(a.invoices!.md5);
    expect(c.tenants!.md5).not.toBe(a.tenants!.md5);
    expect(c.currencies).toEqual(a.currencies);

    const tenantId = first.tenants[1]!.id;
    expect(await tableChecksums({ url: same.url, tenantId })).toEqual(await tableChecksums({ url: firstUrl, tenantId }));
  });

  it("reports per-tenant row counts that match the database", async () => {
    const t = first.tenants[0]!;
    const sums = await tableChecksums({ url: firstUrl, tenantId: t.id });
    for (const table of TENANT_TABLE_NAMES) expect({ table, rows: sums[table]!.rows }).toEqual({ table, rows: t.rows[table] });
  });

  it("skews tenant sizes and marks a few tenants suspended or deleted", async () => {
    const client = new pg.Client({ connectionString: firstUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ slug: string; status: string; n: number }>(
        "SELECT t.slug, t.status::text, count(i.id)::int AS n FROM tenants t LEFT JOIN invoices i ON i.tenant_id = t.id GROUP BY t.id ORDER BY t.slug",
      );
      const sizes = rows.map((r) => r.n);
      expect(sizes[0]).toBe(Math.max(...sizes));
      expect(sizes[0]!).toBeGreaterThan(3 * Math.min(...sizes));
      expect(rows.filter((r) => r.status === "suspended").length).toBeGreaterThanOrEqual(1);
      expect(rows.filter((r) => r.status === "deleted").length).toBeGreaterThanOrEqual(1);
    } finally {
      await client.end();
    }
  });

  it("moves identity sequences past the generated ids", async () => {
    const client = new pg.Client({ connectionString: firstUrl });
    await client.connect();
    try {
      const tenantId = first.tenants[0]!.id;
      const { rows } = await client.query("INSERT INTO customers (tenant_id, code, name) VALUES ($1, 'NEW-1', 'مشتری جدید') RETURNING id", [tenantId]);
      const max = await client.query("SELECT max(id) AS m FROM customers WHERE code <> 'NEW-1'");
      expect(Number(rows[0].id)).toBeGreaterThan(Number(max.rows[0].m));
      await client.query("INSERT INTO journal_entries (tenant_id, entry_no, entry_date) VALUES ($1, 999999, '2024-01-01')", [tenantId]);
      await client.query("DELETE FROM journal_entries WHERE entry_no = 999999");
      await client.query("DELETE FROM customers WHERE code = 'NEW-1'");
    } finally {
      await client.end();
    }
  });

  it("refuses to generate into non-empty tables, and regenerates with reset", async () => {
    const err = await generatePlatform({ url: firstUrl, ...SHAPE, seed: 7 }).catch((e: unknown) => e);
    expect(isHesaabError(err, "platform_not_empty")).toBe(true);
    const before = await tableChecksums({ url: firstUrl });
    await generatePlatform({ url: firstUrl, ...SHAPE, seed: 7, reset: true });
    expect(await tableChecksums({ url: firstUrl })).toEqual(before);
  });

  it("rolls a failed group back entirely and leaves the pool usable", async () => {
    const db = await freshDatabase("platform_test");
    dbs.push(db);
    const pool = testPool({ connectionString: db.url, max: 2 });
    try {
      // a constraint the generated data breaks, on the tables the generator would create
      await createPlatformSchema({ pool });
      await pool.query("ALTER TABLE invoices ADD CONSTRAINT tiny_totals CHECK (total < 1)");
      const err = await generatePlatform({ pool, tenants: 3, scale: 0.02, seed: 1 }).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe("23514");
      const { rows } = await pool.query("SELECT (SELECT count(*) FROM tenants)::int AS t, (SELECT count(*) FROM customers)::int AS c");
      expect(rows[0]).toEqual({ t: 0, c: 0 });
    } finally {
      await pool.end();
    }
  });

  it("reports progress up to every tenant", async () => {
    const db = await freshDatabase("platform_test");
    dbs.push(db);
    const seen: number[] = [];
    await generatePlatform({ url: db.url, tenants: 3, scale: 0.02, seed: 1, onProgress: (p) => seen.push(p.tenantsDone), analyze: false });
    expect(seen.at(-1)).toBe(3);
  });
});
