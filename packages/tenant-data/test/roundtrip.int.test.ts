import { writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AWKWARD_TEXTS } from "@hesaab/platform";
import { exportTenant, loadTenantScript, parseManifest } from "../src/index";
import { type Platform, backupId, checksums, chunked, emptyCopy, exportToBuffer, platform, psqlFile, tempDir } from "./helpers";

let p: Platform;
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  p = await platform("td_roundtrip");
  dir = await tempDir();
});

afterAll(async () => {
  await p?.close();
  await dir?.remove();
});

describe("export → psql → the same rows", () => {
  it("psql alone loads the script into an empty copy of the schema, every value intact", async () => {
    const { script, summary } = await exportToBuffer({ pool: p.pool, tenantId: p.tenant });
    const file = dir.file("tenant.sql");
    await writeFile(file, script);
    const copy = await emptyCopy(p);
    try {
      await psqlFile({ url: copy.db.url, file });
      const source = await checksums({ pool: p.pool, tenantId: p.tenant });
      expect(await checksums({ pool: copy.pool, tenantId: p.tenant })).toEqual(source);
      // every table has rows (so the comparison is not vacuous), and the summary counted them
      for (const [table, c] of Object.entries(source)) expect(c.rows, table).toBeGreaterThan(0);
      for (const t of summary.tables) expect(t.rows).toBe(source[t.name.replace("public.", "")]!.rows);
      // the awkward texts are all there, byte for byte
      const { rows } = await copy.pool.query<{ notes: string | null }>("SELECT DISTINCT notes FROM customers WHERE tenant_id = $1", [p.tenant]);
      const notes = new Set(rows.map((r) => r.notes));
      for (const text of AWKWARD_TEXTS) expect(notes.has(text), JSON.stringify(text)).toBe(true);
    } finally {
      await copy.close();
    }
  });

  it("loadTenantScript into-empty gives the same rows, whatever the chunk boundaries", async () => {
    const { script } = await exportToBuffer({ pool: p.pool, tenantId: p.other });
    const source = await checksums({ pool: p.pool, tenantId: p.other });
    for (const size of [5, 4096]) {
      const copy = await emptyCopy(p);
      try {
        const summary = await loadTenantScript({ pool: copy.pool, tenantId: p.other, script: chunked(script, size), mode: "into-empty" });
        expect(summary.rows).toBe(Object.values(source).reduce((n, c) => n + c.rows, 0));
        expect(summary.tables.every((t) => t.fastPath)).toBe(true);
        expect(await checksums({ pool: copy.pool, tenantId: p.other })).toEqual(source);
      } finally {
        await copy.close();
      }
    }
  });

  it("has the documented layout: header, manifest, preamble, COPY blocks, COMMIT, row counts", async () => {
    const { script, summary } = await exportToBuffer({ pool: p.pool, tenantId: p.tenant });
    const lines = script.toString("utf8").split("\n");
    expect(lines[0]).toBe("-- HesaabPlus tenant backup (hesaab-tenant-sql v1). Load with: psql -v ON_ERROR_STOP=1 -f <file>");
    const manifest = parseManifest(lines[1]!.slice("-- manifest: ".length));
    expect(manifest).toMatchObject({ format: "hesaab-tenant-sql", version: 1, tenantId: p.tenant, backupId: summary.backupId, tenantColumn: "tenant_id" });
    expect(manifest.dependencies).toEqual(["public.currencies"]);
    expect(lines.slice(2, 6)).toEqual(["SET client_encoding = 'UTF8';", "SET standard_conforming_strings = on;", "BEGIN;", "SET CONSTRAINTS ALL DEFERRED;"]);
    expect(lines[6]).toMatch(/^COPY public\.tenants \(id, name, slug, status, base_currency, settings, created_at\) FROM stdin;$/);
    expect(lines.find((l) => l.startsWith("COPY public.products"))).toMatch(/"group"/);
    expect(lines.find((l) => l.startsWith("COPY public.invoice_lines"))).not.toMatch(/line_total/);
    expect(lines.at(-3)).toBe("COMMIT;");
    const rows = JSON.parse(lines.at(-2)!.slice("-- rows: ".length)) as Record<string, number>;
    expect(rows).toEqual(Object.fromEntries(summary.tables.map((t) => [t.name, t.rows])));
    expect(lines.at(-1)).toBe("");
    expect(summary.bytes).toBe(script.length);
  });
});

describe("isolation", () => {
  it("holds no row of another tenant, and the owned tables are in it", async () => {
    const { script } = await exportToBuffer({ pool: p.pool, tenantId: p.tenant });
    const text = script.toString("utf8");
    for (const t of p.generated.tenants) {
      if (t.id !== p.tenant) expect(text.includes(t.id), `tenant ${t.id} appears in the script`).toBe(false);
    }
    // owned tables have no tenant_id: check their rows' parents belong to the tenant
    const { rows } = await p.pool.query<{ id: string }>("SELECT a.id::text FROM attachments a JOIN invoices i ON i.id = a.invoice_id WHERE i.tenant_id <> $1", [
      p.tenant,
    ]);
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(text.includes(r.id)).toBe(false);
    for (const owned of ["public.invoice_line_taxes", "public.attachments", "public.attachment_thumbnails"]) {
      expect(text).toContain(`COPY ${owned} (`);
    }
    const copy = await emptyCopy(p);
    try {
      await writeFile(dir.file("isolation.sql"), script);
      await psqlFile({ url: copy.db.url, file: dir.file("isolation.sql") });
      const { rows: tenants } = await copy.pool.query<{ id: string }>("SELECT id::text FROM tenants");
      expect(tenants.map((t) => t.id)).toEqual([p.tenant]);
      const { rows: thumbs } = await copy.pool.query<{ n: string }>("SELECT count(*) AS n FROM attachment_thumbnails");
      const source = await checksums({ pool: p.pool, tenantId: p.tenant });
      expect(Number(thumbs[0]!.n)).toBe(source.attachment_thumbnails!.rows);
    } finally {
      await copy.close();
    }
  });
});

describe("consistency", () => {
  it("reads every table from one snapshot: a commit during the export is entirely absent", async () => {
    const before = await checksums({ pool: p.pool, tenantId: p.tenant });
    const exp = await exportTenant({ pool: p.pool, tenantId: p.tenant, backupId: backupId(), highWaterMark: 1024 });
    const reader = exp.stream[Symbol.asyncIterator]();
    const chunks: Buffer[] = [];
    // read until the first table's block is complete; the stream then waits (backpressure)
    while (!Buffer.concat(chunks).toString("utf8").includes("\n\\.\nCOPY public.accounts")) {
      const { value, done } = await reader.next();
      if (done) throw new Error("the export ended early");
      chunks.push(value as Buffer);
    }
    // meanwhile another connection commits rows into two tables the export has not read yet
    const writer = await p.pool.connect();
    try {
      await writer.query("BEGIN");
      await writer.query(
        "INSERT INTO products (id, tenant_id, sku, name, unit_price) VALUES (gen_random_uuid(), $1, 'SKU-DURING-EXPORT', 'written during the export', 1)",
        [p.tenant],
      );
      await writer.query(
        "INSERT INTO users (id, tenant_id, email, full_name, role) VALUES (gen_random_uuid(), $1, 'during@export.example', 'during export', 'viewer')",
        [p.tenant],
      );
      await writer.query("COMMIT");
    } finally {
      writer.release();
    }
    for (;;) {
      const { value, done } = await reader.next();
      if (done) break;
      chunks.push(value as Buffer);
    }
    const summary = await exp.done;
    const text = Buffer.concat(chunks).toString("utf8");
    expect(text).not.toContain("SKU-DURING-EXPORT");
    expect(text).not.toContain("during@export.example");
    for (const t of summary.tables) expect(t.rows, t.name).toBe(before[t.name.replace("public.", "")]!.rows);
    await p.pool.query("DELETE FROM products WHERE sku = 'SKU-DURING-EXPORT'; DELETE FROM users WHERE email = 'during@export.example'");
  });
});
