/**
 * The bounded export (./export-bounded) writes the script the single-snapshot export writes (the same
 * lines: only the manifest's time differs, and a keyed table's rows come in key order), on a platform that is not the sample: text and
 * composite primary keys holding every character COPY escapes, a table without a primary key, a
 * table owned through a foreign key. Pages of 2 rows, so every key is read back from COPY text.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { type FreshDatabase, freshDatabase, testPool } from "@hesaab/testkit";
import { type TenantExport, exportTenant, exportTenantBounded } from "../src/index";
import { lastRowFields, unescapeCopyField } from "../src/export-bounded";
import { backupId } from "./helpers";

let db: FreshDatabase;
let pool: pg.Pool;
const tenant = randomUUID();
const other = randomUUID();

// keys a naive keyset would break on: tab, newline, backslash, a backslash before a letter, non-ASCII, equal prefixes
const CODES = ["a", "a\tb", "a\nb", "a\\b", "a\\nb", "ü-ß", "b", "b ", "z\r", "\\"];

beforeAll(async () => {
  db = await freshDatabase("td_bounded");
  pool = testPool({ connectionString: db.url, max: 4 });
  await pool.query(`
    CREATE SCHEMA app;
    CREATE TABLE app.accounts (id uuid PRIMARY KEY, status text NOT NULL DEFAULT 'active');
    CREATE TABLE app.documents (tenant_id uuid NOT NULL REFERENCES app.accounts(id), code text, part int, body text,
      PRIMARY KEY (tenant_id, code, part));
    CREATE TABLE app.document_notes (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, code text NOT NULL, part int NOT NULL, note text,
      FOREIGN KEY (tenant_id, code, part) REFERENCES app.documents);
    CREATE TABLE app.audit (tenant_id uuid NOT NULL REFERENCES app.accounts(id), at timestamptz, what text);
  `);
  for (const t of [tenant, other]) {
    await pool.query("INSERT INTO app.accounts (id) VALUES ($1)", [t]);
    for (const [i, code] of CODES.entries())
      for (const part of [1, 2]) {
        await pool.query("INSERT INTO app.documents VALUES ($1, $2, $3, $4)", [t, code, part, `body ${i}\t${part}`]);
        await pool.query("INSERT INTO app.document_notes (tenant_id, code, part, note) VALUES ($1, $2, $3, 'n')", [t, code, part]);
      }
    for (let i = 0; i < 5; i++) await pool.query("INSERT INTO app.audit VALUES ($1, '2026-01-01'::timestamptz + $2 * interval '1 hour', 'x')", [t, i]);
  }
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

async function read(exp: TenantExport): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of exp.stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The script without its manifest line (the only line that carries the export's time and id). */
const body = (script: string) => script.replace(/^-- manifest: .*$/m, "");

describe("exportTenantBounded", () => {
  it("writes the single export's script, every table read in pages of its own transactions", async () => {
    const discover = { schemas: ["app"], rootTable: "app.accounts" };
    const single = await exportTenant({ pool, tenantId: tenant, backupId: backupId(), discover });
    const singleText = await read(single);
    const singleSummary = await single.done;
    const bounded = await exportTenantBounded({ pool, tenantId: tenant, backupId: backupId(), discover, pageRows: 2 });
    const boundedText = await read(bounded);
    const summary = await bounded.done;

    // the same lines; a keyed table's rows come in key order instead of the table's (the checksums ignore order)
    expect(body(boundedText).split("\n").sort()).toEqual(body(singleText).split("\n").sort());
    expect(boundedText.match(/^(COPY|\\\.).*$/gm)).toEqual(singleText.match(/^(COPY|\\\.).*$/gm));
    expect(summary.tables).toEqual(singleSummary.tables);
    expect(summary.consistency?.mode).toBe("bounded");
    const docs = summary.consistency!.tables["app.documents"]!;
    expect(docs).toMatchObject({ keyed: true, pages: CODES.length + 1 }); // 20 rows, 2 a page, then an empty one
    expect(summary.consistency!.tables["app.audit"]).toMatchObject({ keyed: false, pages: 1 });
    expect(singleSummary.consistency).toBeUndefined();
    expect(summary.rows).toBe(1 + 2 * CODES.length * 2 + 5); // the account, documents and their notes, audit rows
    expect(boundedText).not.toContain(other);
    const idle = await pool.query("select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'");
    expect(idle.rows[0].n).toBe(0);
  });

  it("refuses a missing tenant before streaming, and gives its connection back", async () => {
    await expect(
      exportTenantBounded({ pool, tenantId: randomUUID(), backupId: backupId(), discover: { schemas: ["app"], rootTable: "app.accounts" } }),
    ).rejects.toMatchObject({
      code: "tenant_not_found",
    });
    expect(pool.waitingCount).toBe(0);
  });
});

describe("COPY text fields", () => {
  it("splits the last row and undoes every escape", () => {
    const text = Buffer.from("x\ty\n1\ta\\tb\\nc\\\\d\\101\\x42\\N\n", "utf8");
    const fields = lastRowFields(text);
    expect(fields.map((f) => f.toString())).toEqual(["1", "a\\tb\\nc\\\\d\\101\\x42\\N"]);
    expect(unescapeCopyField(fields[1]!)).toBe("a\tb\nc\\dABN");
    expect(unescapeCopyField(Buffer.from("ü\\303\\274", "utf8"))).toBe("üü");
  });
});
