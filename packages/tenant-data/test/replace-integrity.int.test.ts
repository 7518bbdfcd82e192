// Replace restores with the foreign-key triggers off: integrity checked set-based before the deletes
// and after the load, and the row-by-row fallback for a role that may not turn them off.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminQuery, testPool } from "@hesaab/testkit";
import { isHesaabError } from "@hesaab/config";
import { loadTenantScript } from "../src/index";
import { type Platform, checksums, exportToBuffer, platform } from "./helpers";

let p: Platform;

beforeAll(async () => {
  p = await platform("td_integrity");
});

afterAll(async () => {
  await p?.close();
});

async function refusal(run: Promise<unknown>): Promise<{ code: string; message: string; context: Record<string, unknown> }> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isHesaabError(err)) throw new Error(`expected a refusal, got ${String(err)}`);
  return { code: err.code, message: err.message, context: err.context ?? {} };
}

describe("set-based integrity", () => {
  it("puts back exactly the backup's rows without PostgreSQL's row-by-row checks", async () => {
    const { script } = await exportToBuffer({ pool: p.pool, tenantId: p.tenant });
    const before = await checksums({ pool: p.pool, tenantId: p.tenant });
    const other = await checksums({ pool: p.pool, tenantId: p.other });
    await p.pool.query("UPDATE invoices SET title = 'changed' WHERE tenant_id = $1", [p.tenant]);
    const summary = await loadTenantScript({ pool: p.pool, tenantId: p.tenant, script: [script], mode: "replace" });
    expect(summary.foreignKeyChecks).toBe("set-based");
    expect(summary.warnings).toEqual([]);
    expect(await checksums({ pool: p.pool, tenantId: p.tenant })).toEqual(before);
    expect(await checksums({ pool: p.pool, tenantId: p.other })).toEqual(other);
  });

  it("refuses when another tenant's row references a row being replaced, naming the constraint, and changes nothing", async () => {
    // a tenant table of the platform's shape whose foreign key does not carry the tenant: rows may cross tenants
    await p.pool.query(
      `CREATE TABLE invoice_mentions (id serial PRIMARY KEY, tenant_id uuid NOT NULL REFERENCES tenants (id),
         invoice_id bigint NOT NULL CONSTRAINT invoice_mentions_invoice_fk REFERENCES invoices (id))`,
    );
    try {
      const { script } = await exportToBuffer({ pool: p.pool, tenantId: p.tenant });
      const { rows } = await p.pool.query<{ id: string }>("SELECT id FROM invoices WHERE tenant_id = $1 ORDER BY id LIMIT 1", [p.tenant]);
      await p.pool.query("INSERT INTO invoice_mentions (tenant_id, invoice_id) VALUES ($1, $2)", [p.other, rows[0]!.id]);
      await p.pool.query("UPDATE invoices SET title = 'after the backup' WHERE tenant_id = $1", [p.tenant]);
      const before = await checksums({ pool: p.pool, tenantId: p.tenant });

      const err = await refusal(loadTenantScript({ pool: p.pool, tenantId: p.tenant, script: [script], mode: "replace" }));
      expect(err.code).toBe("restore_referenced_elsewhere");
      expect(err.message).toContain("invoice_mentions_invoice_fk");
      expect(err.message).toContain(`(${rows[0]!.id})`);
      expect(err.context.table).toBe("public.invoice_mentions");
      expect(await checksums({ pool: p.pool, tenantId: p.tenant })).toEqual(before);
    } finally {
      await p.pool.query("DROP TABLE invoice_mentions");
    }
  });

  it("rolls everything back when a loaded row's foreign key finds no parent", async () => {
    // the backup references a currency the platform has since removed
    await p.pool.query("INSERT INTO currencies (code, name, name_fa, symbol, minor_units) VALUES ('XTS', 'test', 'test', 'T', 2)");
    const { rows } = await p.pool.query<{ id: string; currency: string }>("SELECT id, currency FROM invoices WHERE tenant_id = $1 ORDER BY id LIMIT 1", [
      p.tenant,
    ]);
    const invoice = rows[0]!;
    await p.pool.query("UPDATE invoices SET currency = 'XTS' WHERE id = $1", [invoice.id]);
    const { script } = await exportToBuffer({ pool: p.pool, tenantId: p.tenant });
    await p.pool.query("UPDATE invoices SET currency = $2, title = 'after the backup' WHERE id = $1", [invoice.id, invoice.currency]);
    await p.pool.query("DELETE FROM currencies WHERE code = 'XTS'");
    const before = await checksums({ pool: p.pool, tenantId: p.tenant });

    const err = await refusal(loadTenantScript({ pool: p.pool, tenantId: p.tenant, script: [script], mode: "replace" }));
    expect(err.code).toBe("restore_integrity_violated");
    expect(err.message).toMatch(/invoices_currency_fkey/);
    expect(err.message).toContain("XTS");
    expect(await checksums({ pool: p.pool, tenantId: p.tenant })).toEqual(before);
  });

  it("rolls back when a loaded row owned through a foreign key lost its parent", async () => {
    const { script } = await exportToBuffer({ pool: p.pool, tenantId: p.tenant });
    const before = await checksums({ pool: p.pool, tenantId: p.tenant });
    // the script's attachment_thumbnails keep their rows while their attachments are cut out of it
    const text = script.toString("utf8");
    const start = text.indexOf("COPY public.attachments ");
    const end = text.indexOf("\\.\n", start);
    const lines = text.slice(start, end).split("\n");
    expect(lines.length).toBeGreaterThan(2);
    const kept = [lines[0], ...lines.slice(2)].join("\n");
    const damaged = (text.slice(0, start) + kept + text.slice(end)).replace(
      /("public\.attachments":\s*)(\d+)/,
      (_m, a: string, n: string) => `${a}${Number(n) - 1}`,
    );
    const err = await refusal(loadTenantScript({ pool: p.pool, tenantId: p.tenant, script: [damaged], mode: "replace" }));
    expect(err.code).toBe("restore_integrity_violated");
    expect(err.message).toContain("public.attachment_thumbnails");
    expect(await checksums({ pool: p.pool, tenantId: p.tenant })).toEqual(before);
  });
});

describe("a role that may not set session_replication_role", () => {
  const role = `td_norepl_${randomBytes(4).toString("hex")}`;
  let url: string;

  beforeAll(async () => {
    await adminQuery(`CREATE ROLE ${role} LOGIN`);
    await p.pool.query(
      `GRANT USAGE ON SCHEMA public TO ${role}; GRANT ALL ON ALL TABLES IN SCHEMA public TO ${role}; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ${role}`,
    );
    const u = new URL(p.db.url);
    u.username = role;
    url = u.toString();
  });

  afterAll(async () => {
    await p.pool.query(`DROP OWNED BY ${role}`);
    await adminQuery(`REVOKE SET ON PARAMETER session_replication_role FROM ${role}`);
    await adminQuery(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  });

  it("falls back to row-by-row checks with a warning naming the unindexed keys, then runs set-based once granted", async () => {
    const { script } = await exportToBuffer({ pool: p.pool, tenantId: p.tenant });
    const before = await checksums({ pool: p.pool, tenantId: p.tenant });
    const pool = testPool({ connectionString: url, max: 1 });
    try {
      const warned: string[] = [];
      const summary = await loadTenantScript({ pool, tenantId: p.tenant, script: [script], mode: "replace", onWarning: (w) => warned.push(w) });
      expect(summary.foreignKeyChecks).toBe("row-by-row");
      expect(warned).toEqual(summary.warnings);
      expect(summary.warnings[0]).toContain("GRANT SET ON PARAMETER session_replication_role");
      // the sample schema has unindexed keys: each is named, with the tenant's rows behind it
      expect(summary.warnings[0]).toMatch(
        /public\.invoices \(tenant_id, customer_id\) for invoices_tenant_id_customer_id_fkey → public\.customers: ~\d+ × \d+/,
      );
      expect(await checksums({ pool: p.pool, tenantId: p.tenant })).toEqual(before);

      await adminQuery(`GRANT SET ON PARAMETER session_replication_role TO ${role}`);
      const granted = await loadTenantScript({ pool, tenantId: p.tenant, script: [script], mode: "replace" });
      expect(granted.foreignKeyChecks).toBe("set-based");
      expect(await checksums({ pool: p.pool, tenantId: p.tenant })).toEqual(before);
    } finally {
      await pool.end();
    }
  });
});
