import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Readable } from "node:stream";
import { loadTenantScript } from "../src/index";
import { type Platform, allChecksums, checksums, chunked, emptyCopy, exportToBuffer, platform } from "./helpers";

let p: Platform;
let backup: Buffer;
let backupIdOf: string;
let backupSums: Awaited<ReturnType<typeof checksums>>;

beforeAll(async () => {
  p = await platform("td_load");
  const exported = await exportToBuffer({ pool: p.pool, tenantId: p.tenant });
  backup = exported.script;
  backupIdOf = exported.summary.backupId;
  backupSums = await checksums({ pool: p.pool, tenantId: p.tenant });
});

afterAll(async () => {
  await p?.close();
});

/** Change the tenant's data in many ways (updates, deletes through FKs, inserts). `tenantId` is a generated uuid. */
async function vandalize(tenantId: string): Promise<void> {
  await p.pool.query(
    `UPDATE invoices SET title = 'changed', total = total + 1 WHERE tenant_id = '${tenantId}' AND id % 3 = 0;
     DELETE FROM attachment_thumbnails USING attachments a, invoices i WHERE a.id = attachment_thumbnails.attachment_id AND i.id = a.invoice_id AND i.tenant_id = '${tenantId}';
     DELETE FROM attachments USING invoices i WHERE i.id = attachments.invoice_id AND i.tenant_id = '${tenantId}';
     DELETE FROM journal_lines WHERE tenant_id = '${tenantId}' AND line_no = 2;
     UPDATE customers SET notes = 'overwritten', default_invoice_id = NULL WHERE tenant_id = '${tenantId}';
     INSERT INTO products (id, tenant_id, sku, name, unit_price) VALUES (gen_random_uuid(), '${tenantId}', 'NEW-AFTER-BACKUP', 'new', 3);`,
  );
}

function script(text: Buffer | string): Readable {
  return Readable.from([Buffer.isBuffer(text) ? text : Buffer.from(text, "utf8")], { objectMode: false });
}

describe("load, replace mode", () => {
  it("puts back exactly the backup's rows and touches no other tenant", async () => {
    const others = await allChecksums(p);
    delete others[p.tenant];
    await vandalize(p.tenant);
    expect(await checksums({ pool: p.pool, tenantId: p.tenant })).not.toEqual(backupSums);
    // the sequences fall behind (as after an import elsewhere): the load must move them forward
    await p.pool.query("SELECT setval(pg_get_serial_sequence('invoices', 'id'), 1); SELECT setval(pg_get_serial_sequence('journal_entries', 'id'), 1)");
    const progress: string[] = [];
    const summary = await loadTenantScript({
      pool: p.pool,
      tenantId: p.tenant,
      script: chunked(backup, 65_536),
      mode: "replace",
      expect: { tenantId: p.tenant, backupId: backupIdOf },
      onProgress: (e) => progress.push(e.phase),
    });
    expect(await checksums({ pool: p.pool, tenantId: p.tenant })).toEqual(backupSums);
    const after = await allChecksums(p);
    delete after[p.tenant];
    expect(after).toEqual(others);
    expect(summary.rows).toBe(Object.values(backupSums).reduce((n, c) => n + c.rows, 0));
    expect(summary.deleted).toBeGreaterThan(0);
    expect(summary.sequencesMoved).toEqual(expect.arrayContaining(["public.invoices_id_seq", "public.journal_entries_id_seq"]));
    expect(progress).toContain("delete");
    expect(progress.at(-1)).toBe("finish");
    // the sequences are at least at the tenant's largest ids again
    for (const [table, seq] of [
      ["invoices", "public.invoices_id_seq"],
      ["journal_entries", "public.journal_entries_id_seq"],
    ] as const) {
      const { rows } = await p.pool.query(`SELECT (SELECT last_value FROM ${seq}) >= (SELECT max(id) FROM ${table} WHERE tenant_id = $1) AS ok`, [p.tenant]);
      expect(rows[0].ok, seq).toBe(true);
    }
    // put them back where the generator left them (past every tenant's ids)
    await p.pool.query(
      "SELECT setval(pg_get_serial_sequence('invoices', 'id'), (SELECT max(id) FROM invoices)); SELECT setval(pg_get_serial_sequence('journal_entries', 'id'), (SELECT max(id) FROM journal_entries))",
    );
  });

  it("leaves another tenant's restore and this tenant's data alone when run twice (idempotent)", async () => {
    await loadTenantScript({ pool: p.pool, tenantId: p.tenant, script: script(backup), mode: "replace" });
    await loadTenantScript({ pool: p.pool, tenantId: p.tenant, script: script(backup), mode: "replace" });
    expect(await checksums({ pool: p.pool, tenantId: p.tenant })).toEqual(backupSums);
  });
});

describe("a failed load leaves the tenant exactly as it was", () => {
  let current: Awaited<ReturnType<typeof checksums>>;

  beforeAll(async () => {
    await vandalize(p.tenant);
    current = await checksums({ pool: p.pool, tenantId: p.tenant });
  });

  const refused = async (o: { script: Buffer | string; code: string; tenantId?: string; expect?: { backupId?: string }; message?: RegExp }) => {
    const err = await loadTenantScript({ pool: p.pool, tenantId: o.tenantId ?? p.tenant, script: script(o.script), mode: "replace", expect: o.expect }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: o.code });
    if (o.message) expect((err as Error).message).toMatch(o.message);
    expect(await checksums({ pool: p.pool, tenantId: p.tenant })).toEqual(current);
  };

  it("a script cut in the middle of a COPY block", async () => {
    const at = backup.indexOf("COPY public.invoice_lines");
    await refused({ script: backup.subarray(0, at + 5000), code: "restore_truncated" });
  });

  it("a script cut after COMMIT, before its row counts", async () => {
    const at = backup.lastIndexOf("COMMIT;\n");
    await refused({ script: backup.subarray(0, at + 8), code: "restore_truncated" });
  });

  it("a script whose row counts do not match", async () => {
    const text = backup.toString("utf8").replace(/"public\.invoices":(\d+)/, (_, n: string) => `"public.invoices":${Number(n) + 1}`);
    await refused({ script: text, code: "restore_count_mismatch", message: /public\.invoices/ });
  });

  it("a script with a row that does not fit its table", async () => {
    const text = backup.toString("utf8").replace(/(COPY public\.payments [^\n]*\n)/, "$1not\ta\tpayment\n");
    await refused({ script: text, code: "restore_failed" });
  });

  it("another tenant's script, or another backup than expected", async () => {
    const other = await checksums({ pool: p.pool, tenantId: p.other });
    await refused({ script: backup, tenantId: p.other, code: "restore_wrong_tenant" });
    expect(await checksums({ pool: p.pool, tenantId: p.other })).toEqual(other);
    await refused({ script: backup, expect: { backupId: "bkp_00000000000000000000000000" }, code: "restore_wrong_backup" });
  });

  it("something that is not a tenant script", async () => {
    await refused({ script: "DROP TABLE tenants;\n", code: "restore_bad_script" });
    const injected = backup.toString("utf8").replace("BEGIN;\n", "BEGIN;\nDROP TABLE currencies CASCADE;\n");
    await refused({ script: injected, code: "restore_bad_script" });
  });

  it("an abort in the middle of the load", async () => {
    const controller = new AbortController();
    const slow = Readable.from(
      (async function* () {
        const half = backup.indexOf("COPY public.invoice_lines") + 3000;
        yield backup.subarray(0, half);
        controller.abort();
        await new Promise((r) => setTimeout(r, 50));
        yield backup.subarray(half);
      })(),
      { objectMode: false },
    );
    const err = await loadTenantScript({ pool: p.pool, tenantId: p.tenant, script: slow, mode: "replace", signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "restore_aborted" });
    expect(await checksums({ pool: p.pool, tenantId: p.tenant })).toEqual(current);
    // the pool's connections are all usable afterwards
    const { rows } = await p.pool.query("SELECT 1 AS ok");
    expect(rows[0].ok).toBe(1);
  });
});

describe("schema drift since the backup (loaded into empty copies)", () => {
  const source = () => checksums({ pool: p.pool, tenantId: p.tenant });
  let other: Buffer;
  let otherSums: Awaited<ReturnType<typeof checksums>>;

  beforeAll(async () => {
    other = (await exportToBuffer({ pool: p.pool, tenantId: p.other })).script;
    otherSums = await checksums({ pool: p.pool, tenantId: p.other });
    void source;
  });

  it("a column added since the backup takes its default", async () => {
    const copy = await emptyCopy(p);
    try {
      await copy.pool.query("ALTER TABLE products ADD COLUMN barcode text NOT NULL DEFAULT 'none'");
      const summary = await loadTenantScript({ pool: copy.pool, tenantId: p.other, script: script(other), mode: "into-empty" });
      expect(summary.tables.find((t) => t.name === "public.products")).toMatchObject({ addedColumns: ["barcode"], fastPath: true });
      const { rows } = await copy.pool.query("SELECT DISTINCT barcode FROM products");
      expect(rows).toEqual([{ barcode: "none" }]);
      const sums = await checksums({ pool: copy.pool, tenantId: p.other });
      expect({ ...sums, products: undefined }).toEqual({ ...otherSums, products: undefined });
      expect(sums.products!.rows).toBe(otherSums.products!.rows);
      // sequences moved: the application's next inserts in the copy get fresh ids (GENERATED ALWAYS too)
      await copy.pool.query("INSERT INTO invoices (tenant_id, number, customer_id, currency) SELECT tenant_id, 'NEW', id, 'IRR' FROM customers LIMIT 1");
      await copy.pool.query("INSERT INTO journal_entries (tenant_id, entry_no, entry_date) VALUES ($1, 999999, '2026-01-01')", [p.other]);
      await copy.pool.query("INSERT INTO accounts (tenant_id, code, name, type) VALUES ($1, 'NEW-1', 'new', 'asset')", [p.other]);
    } finally {
      await copy.close();
    }
  });

  it("a column dropped since the backup is refused, naming it; allowed with allowDroppedColumns", async () => {
    const copy = await emptyCopy(p);
    try {
      await copy.pool.query("ALTER TABLE customers DROP COLUMN notes");
      const err = await loadTenantScript({ pool: copy.pool, tenantId: p.other, script: script(other), mode: "into-empty" }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "restore_dropped_column", context: { table: "public.customers", column: "notes" } });
      expect((err as Error).message).toMatch(/public\.customers\.notes/);
      expect((await copy.pool.query("SELECT count(*)::int AS n FROM tenants")).rows[0].n).toBe(0);

      const summary = await loadTenantScript({
        pool: copy.pool,
        tenantId: p.other,
        script: chunked(other, 333),
        mode: "into-empty",
        allowDroppedColumns: true,
      });
      expect(summary.tables.find((t) => t.name === "public.customers")).toMatchObject({ droppedColumns: ["notes"], fastPath: false });
      const sums = await checksums({ pool: copy.pool, tenantId: p.other });
      expect({ ...sums, customers: undefined }).toEqual({ ...otherSums, customers: undefined });
      // the other columns of customers are intact (addresses hold newlines, tabs, backslashes)
      const q =
        "SELECT md5(string_agg(concat_ws('|', id, code, name, address, tags::text, metadata::text, default_invoice_id), ',' ORDER BY id)) AS h FROM customers WHERE tenant_id = $1";
      expect((await copy.pool.query(q, [p.other])).rows[0].h).toBe((await p.pool.query(q, [p.other])).rows[0].h);
    } finally {
      await copy.close();
    }
  });

  it("a type that narrowed is refused; a widened one is accepted", async () => {
    const copy = await emptyCopy(p);
    try {
      await copy.pool.query("ALTER TABLE invoices ALTER COLUMN title TYPE varchar(5)");
      const err = await loadTenantScript({ pool: copy.pool, tenantId: p.other, script: script(other), mode: "into-empty" }).catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: "restore_type_changed",
        context: { table: "public.invoices", column: "title", from: "text", to: "character varying(5)" },
      });
      await copy.pool.query(
        "ALTER TABLE invoices ALTER COLUMN title TYPE text; ALTER TABLE invoice_line_taxes ALTER COLUMN rate TYPE numeric(7,3); ALTER TABLE journal_entries ALTER COLUMN entry_no TYPE bigint",
      );
      await loadTenantScript({ pool: copy.pool, tenantId: p.other, script: script(other), mode: "into-empty" });
      expect((await checksums({ pool: copy.pool, tenantId: p.other })).invoices).toEqual(otherSums.invoices);
    } finally {
      await copy.close();
    }
  });

  it("a table gone since the backup is refused", async () => {
    const copy = await emptyCopy(p);
    try {
      await copy.pool.query("DROP TABLE attachment_thumbnails");
      await expect(loadTenantScript({ pool: copy.pool, tenantId: p.other, script: script(other), mode: "into-empty" })).rejects.toMatchObject({
        code: "restore_table_missing",
        context: { table: "public.attachment_thumbnails" },
      });
    } finally {
      await copy.close();
    }
  });

  it("into-empty refuses a database that already has the tenant", async () => {
    await expect(loadTenantScript({ pool: p.pool, tenantId: p.other, script: script(other), mode: "into-empty" })).rejects.toMatchObject({
      code: "restore_target_not_empty",
    });
    expect(await checksums({ pool: p.pool, tenantId: p.other })).toEqual(otherSums);
  });
});
