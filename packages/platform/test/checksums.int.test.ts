import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { type FreshDatabase, freshDatabase } from "@hesaab/testkit";
import { isHesaabError } from "@hesaab/config";
import { type GenerateResult, generatePlatform, PLATFORM_TABLE_NAMES, tableChecksums, TENANT_TABLE_NAMES } from "../src/index";

describe("tableChecksums", () => {
  let db: FreshDatabase;
  let client: pg.Client;
  let generated: GenerateResult;
  let tenantA: string;
  let tenantB: string;

  beforeAll(async () => {
    db = await freshDatabase("platform_test");
    generated = await generatePlatform({ url: db.url, tenants: 4, scale: 0.05, seed: 5 });
    tenantA = generated.tenants[0]!.id;
    tenantB = generated.tenants[1]!.id;
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await db.drop();
  });

  it("covers every table without a tenant, and every tenant table with one", async () => {
    expect(Object.keys(await tableChecksums({ client }))).toEqual([...PLATFORM_TABLE_NAMES]);
    const sums = await tableChecksums({ client, tenantId: tenantA });
    expect(Object.keys(sums)).toEqual([...TENANT_TABLE_NAMES]);
    expect(sums.tenants!.rows).toBe(1);
    for (const value of Object.values(sums)) expect(value.md5).toMatch(/^[0-9a-f]{32}$/);
  });

  it("adds up per tenant to the whole table, owned and partitioned tables included (partitions read once)", async () => {
    const whole = await tableChecksums({ client });
    const perTenant = await Promise.all(generated.tenants.map((t) => tableChecksums({ url: db.url, tenantId: t.id })));
    for (const table of TENANT_TABLE_NAMES) {
      const total = perTenant.reduce((sum, s) => sum + s[table]!.rows, 0);
      expect({ table, rows: total }).toEqual({ table, rows: whole[table]!.rows });
    }
    const { rows } = await client.query("SELECT count(*)::int AS n FROM ONLY journal_lines_p0");
    expect(whole.journal_lines!.rows).toBeGreaterThan(rows[0].n);
  });

  it("does not depend on physical row order", async () => {
    const before = await tableChecksums({ client, tenantId: tenantA });
    // rewrite a tenant's invoice lines in reverse order: same rows, new physical order
    await client.query("BEGIN");
    await client.query("CREATE TEMP TABLE saved_lines ON COMMIT DROP AS SELECT * FROM invoice_lines WHERE tenant_id = $1", [tenantA]);
    await client.query(
      "CREATE TEMP TABLE saved_taxes ON COMMIT DROP AS SELECT x.* FROM invoice_line_taxes x JOIN invoice_lines l ON l.id = x.line_id WHERE l.tenant_id = $1",
      [tenantA],
    );
    await client.query("DELETE FROM invoice_lines WHERE tenant_id = $1", [tenantA]); // cascades to the taxes
    await client.query(
      "INSERT INTO invoice_lines (id, tenant_id, invoice_id, line_no, product_id, description, qty, unit_price, discount) " +
        "SELECT id, tenant_id, invoice_id, line_no, product_id, description, qty, unit_price, discount FROM saved_lines ORDER BY id DESC",
    );
    await client.query("INSERT INTO invoice_line_taxes SELECT * FROM saved_taxes ORDER BY line_id DESC");
    await client.query("COMMIT");
    expect(await tableChecksums({ client, tenantId: tenantA })).toEqual(before);
  });

  it("changes when one value changes, and only for that tenant and table", async () => {
    const a = await tableChecksums({ url: db.url, tenantId: tenantA });
    const b = await tableChecksums({ url: db.url, tenantId: tenantB });
    await client.query("UPDATE invoice_line_taxes SET amount = amount + 0.01 WHERE line_id = (SELECT min(id) FROM invoice_lines WHERE tenant_id = $1)", [
      tenantA,
    ]);
    const a2 = await tableChecksums({ url: db.url, tenantId: tenantA });
    expect(a2.invoice_line_taxes!.md5).not.toBe(a.invoice_line_taxes!.md5);
    expect(a2.invoice_line_taxes!.rows).toBe(a.invoice_line_taxes!.rows);
    expect({ ...a2, invoice_line_taxes: undefined }).toEqual({ ...a, invoice_line_taxes: undefined });
    expect(await tableChecksums({ url: db.url, tenantId: tenantB })).toEqual(b);
    await client.query("UPDATE invoice_line_taxes SET amount = amount - 0.01 WHERE line_id = (SELECT min(id) FROM invoice_lines WHERE tenant_id = $1)", [
      tenantA,
    ]);
    expect(await tableChecksums({ url: db.url, tenantId: tenantA })).toEqual(a);
  });

  it("tells NULL from an empty string and from the text \\N", async () => {
    const sum = async () => (await tableChecksums({ client, tenantId: tenantA, tables: ["accounts"] })).accounts!.md5;
    const before = await sum();
    const { rows } = await client.query("SELECT id FROM accounts WHERE tenant_id = $1 AND description IS NULL LIMIT 1", [tenantA]);
    const id = rows[0].id;
    await client.query("UPDATE accounts SET description = '' WHERE id = $1", [id]);
    const empty = await sum();
    await client.query("UPDATE accounts SET description = E'\\\\N' WHERE id = $1", [id]);
    const backslashN = await sum();
    await client.query("UPDATE accounts SET description = NULL WHERE id = $1", [id]);
    expect(new Set([before, empty, backslashN]).size).toBe(3);
    expect(await sum()).toBe(before);
  });

  it("is the same whatever the session's time zone and bytea output, and restores the caller's settings", async () => {
    const before = await tableChecksums({ client, tenantId: tenantA });
    await client.query("SET TimeZone = 'Asia/Tehran'");
    await client.query("SET bytea_output = 'escape'");
    expect(await tableChecksums({ client, tenantId: tenantA })).toEqual(before);
    const { rows } = await client.query("SELECT current_setting('TimeZone') AS tz, current_setting('bytea_output') AS bo");
    expect(rows[0]).toEqual({ tz: "Asia/Tehran", bo: "escape" });
    await client.query("RESET TimeZone");
    await client.query("RESET bytea_output");
  });

  it("counts duplicate rows (a sum, not an xor)", async () => {
    await client.query("CREATE TABLE dup (tenant_id uuid, v text)");
    await client.query("INSERT INTO dup VALUES ($1, 'x'), ($1, 'x')", [tenantA]);
    const two = (await tableChecksums({ client, tenantId: tenantA, tables: ["dup"] })).dup!;
    await client.query("INSERT INTO dup VALUES ($1, 'x'), ($1, 'x')", [tenantA]);
    const four = (await tableChecksums({ client, tenantId: tenantA, tables: ["dup"] })).dup!;
    await client.query("DELETE FROM dup");
    const none = (await tableChecksums({ client, tenantId: tenantA, tables: ["dup"] })).dup!;
    expect(two.rows).toBe(2);
    expect(four.rows).toBe(4);
    expect(new Set([two.md5, four.md5, none.md5]).size).toBe(3);
    expect(none.rows).toBe(0);
  });

  it("checksums a global table whole when asked with a tenant, and refuses an unscoped table", async () => {
    const sums = await tableChecksums({ client, tenantId: tenantA, tables: ["currencies"] });
    expect(sums.currencies!.rows).toBe(generated.rows.currencies);
    await client.query("CREATE TABLE unscoped (v text)");
    const err = await tableChecksums({ client, tenantId: tenantA, tables: ["unscoped"] }).catch((e: unknown) => e);
    expect(isHesaabError(err, "platform_table_not_tenant_scoped")).toBe(true);
    expect((await tableChecksums({ client, tables: ["unscoped"] })).unscoped!.rows).toBe(0);
  });
});
