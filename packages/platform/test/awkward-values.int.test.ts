// The awkward values every exporter/importer will be tested on must really be in the generated data,
// in every tenant, after a COPY round trip into PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { type FreshDatabase, freshDatabase } from "@hesaab/testkit";
import { AWKWARD_TAGS, AWKWARD_TEXTS, generatePlatform } from "../src/index";

describe("awkward values in generated data", () => {
  let db: FreshDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await freshDatabase("platform_test");
    await generatePlatform({ url: db.url, tenants: 4, scale: 0.05, seed: 21 });
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await db.drop();
  });

  const count = async (sql: string, params: unknown[] = []) => Number((await client.query(sql, params)).rows[0].n);

  it("stores every awkward text exactly, in every tenant (accounts.description, customers.notes)", async () => {
    const tenants = (await client.query("SELECT id FROM tenants")).rows.map((r) => r.id as string);
    expect(tenants).toHaveLength(4);
    for (const tenantId of tenants) {
      for (const sql of ["SELECT description AS v FROM accounts WHERE tenant_id = $1", "SELECT notes AS v FROM customers WHERE tenant_id = $1"]) {
        const values = (await client.query(sql, [tenantId])).rows.map((r) => r.v as string | null);
        for (const text of AWKWARD_TEXTS) expect(values).toContain(text);
      }
    }
  });

  it.each([
    ["a tab", "position(E'\\t' IN notes) > 0"],
    ["a newline", "position(E'\\n' IN notes) > 0"],
    ["a carriage return", "position(E'\\r' IN notes) > 0"],
    ["a backslash", "position(E'\\\\' IN notes) > 0"],
    ["the text \\N (not NULL)", "notes = E'\\\\N'"],
    ["a single quote", "position('''' IN notes) > 0"],
    ["a double quote", "position('\"' IN notes) > 0"],
    ["an empty string", "notes = ''"],
    ["NULL", "notes IS NULL"],
    ["Persian text", "notes ~ '[آ-ی]'"],
    ["a 4-byte character", "notes LIKE '%😀%'"],
  ])("customers.notes holds %s", async (_what, predicate) => {
    expect(await count(`SELECT count(*) AS n FROM customers WHERE ${predicate}`)).toBeGreaterThan(0);
  });

  it("has Persian names, bytea (empty too), arrays with quoted elements, 2-D int arrays, jsonb with escapes", async () => {
    expect(await count("SELECT count(*) AS n FROM tenants WHERE name = 'شرکت بازرگانی آرمان'")).toBe(1);
    expect(await count("SELECT count(*) AS n FROM invoices WHERE title = 'فاکتور فروش'")).toBeGreaterThan(0);
    expect(await count("SELECT count(*) AS n FROM attachments WHERE octet_length(content) > 200")).toBeGreaterThan(0);
    expect(await count("SELECT count(*) AS n FROM products WHERE image = ''::bytea")).toBeGreaterThan(0);
    expect(await count("SELECT count(*) AS n FROM users WHERE octet_length(password_hash) = 32")).toBeGreaterThan(0);
    const { rows } = await client.query("SELECT tags FROM customers WHERE tags @> ARRAY['a,b'] LIMIT 1");
    expect(rows[0].tags).toEqual(AWKWARD_TAGS);
    expect(await count("SELECT count(*) AS n FROM customers WHERE tags = '{}'")).toBeGreaterThan(0);
    expect(await count("SELECT count(*) AS n FROM products WHERE array_ndims(dimensions) = 2")).toBeGreaterThan(0);
    expect(await count("SELECT count(*) AS n FROM tenants WHERE settings->>'quote\"key' = E'back\\\\slash and\\nnewline'")).toBeGreaterThan(0);
    expect(await count("SELECT count(*) AS n FROM audit_events WHERE payload ? 'توضیح'")).toBeGreaterThan(0);
    expect(await count("SELECT count(*) AS n FROM audit_events WHERE family(ip) = 6")).toBeGreaterThan(0);
  });

  it("computes the generated column and keeps numerics exact", async () => {
    expect(await count("SELECT count(*) AS n FROM invoice_lines WHERE line_total IS DISTINCT FROM qty * unit_price")).toBe(0);
    expect(await count("SELECT count(*) AS n FROM invoice_lines WHERE qty <> trunc(qty)")).toBeGreaterThan(0);
    // invoice totals equal their lines (net of discount) plus taxes
    expect(
      await count(`SELECT count(*) AS n FROM invoices i
        WHERE i.subtotal <> (SELECT sum(round(l.qty * l.unit_price, 2) - l.discount) FROM invoice_lines l WHERE l.invoice_id = i.id)`),
    ).toBe(0);
    // every journal entry balances
    expect(await count("SELECT count(*) AS n FROM (SELECT entry_id FROM journal_lines GROUP BY tenant_id, entry_id HAVING sum(debit) <> sum(credit)) x")).toBe(
      0,
    );
  });

  it("uses the deferrable cycle, the self references and every partition", async () => {
    expect(await count("SELECT count(*) AS n FROM customers WHERE default_invoice_id IS NOT NULL")).toBeGreaterThan(0);
    expect(await count("SELECT count(*) AS n FROM customers WHERE referred_by IS NOT NULL")).toBeGreaterThan(0);
    expect(await count("SELECT count(*) AS n FROM accounts WHERE parent_id IS NOT NULL")).toBeGreaterThan(0);
    const audit = await client.query("SELECT tableoid::regclass::text AS part, count(*) FROM audit_events GROUP BY 1");
    expect(audit.rows.map((r) => r.part).sort()).toEqual(["audit_events_2023", "audit_events_2024", "audit_events_2025", "audit_events_default"]);
    expect(await count("SELECT count(*) AS n FROM invoice_line_taxes")).toBeGreaterThan(0);
    expect(await count("SELECT count(*) AS n FROM attachment_thumbnails")).toBeGreaterThan(0);
    expect(await count("SELECT count(*) AS n FROM payments WHERE invoice_id IS NULL")).toBeGreaterThan(0);
  });
});
