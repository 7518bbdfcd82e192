// Batch export: many tenants from one snapshot and one COPY per table, each getting the script a
// single export would give it (checked by loading every script with psql and by comparing the
// scripts with their rows sorted).
import { writeFile } from "node:fs/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { discoverTenantPlan, exportTenantBatch, parseManifest, type TenantPlan } from "../src/index";
import { freshDatabase, testPool } from "@hesaab/testkit";
import { type Platform, backupId, checksums, emptyCopy, exportToBuffer, platform, psqlFile, tempDir } from "./helpers";

let p: Platform;
let plan: TenantPlan;
let dir: Awaited<ReturnType<typeof tempDir>>;
let active: string[];

beforeAll(async () => {
  p = await platform("td_batch", { tenants: 8 });
  const client = await p.pool.connect();
  plan = await discoverTenantPlan({ client });
  client.release();
  active = p.generated.tenants.filter((t) => t.status === "active").map((t) => t.id);
  dir = await tempDir();
});

afterAll(async () => {
  await p?.close();
  await dir?.remove();
});

/** The script without what differs between two exports of the same rows: the manifest's ids and time, the row order within a table. */
function normalized(script: Buffer): string {
  const lines = script.toString("utf8").split("\n");
  const out: string[] = [];
  let rows: string[] | undefined;
  for (const line of lines) {
    if (line.startsWith("-- manifest: ")) {
      const { backupId: _b, createdAt: _c, ...rest } = parseManifest(line.slice("-- manifest: ".length));
      out.push(JSON.stringify(rest));
    } else if (rows && line === "\\.") {
      out.push(...rows.sort(), line);
      rows = undefined;
    } else if (rows) rows.push(line);
    else {
      out.push(line);
      if (line.startsWith("COPY ")) rows = [];
    }
  }
  return out.join("\n");
}

describe("exportTenantBatch", () => {
  it("gives every tenant the script a single export gives it; refuses missing, inactive and malformed ids alone", async () => {
    const asked = [...active, p.suspended, "00000000-0000-4000-8000-000000000000", "not-a-uuid", p.deleted].map((tenantId) => ({
      tenantId,
      backupId: backupId(),
    }));
    const results = await exportTenantBatch({ pool: p.pool, plan, tenants: asked });
    expect(results.map((r) => r.tenantId)).toEqual(asked.map((a) => a.tenantId));
    expect(results.slice(active.length).map((r) => (r.ok ? "ok" : r.error.code))).toEqual([
      "tenant_not_active",
      "tenant_not_found",
      "tenant_not_found",
      "tenant_not_active",
    ]);

    const copy = await emptyCopy(p);
    try {
      for (const [i, r] of results.slice(0, active.length).entries()) {
        if (!r.ok) throw r.error;
        expect(r.backupId).toBe(asked[i]!.backupId);
        expect(parseManifest(r.script.toString("utf8").split("\n")[1]!.slice("-- manifest: ".length))).toMatchObject({
          tenantId: r.tenantId,
          backupId: r.backupId,
        });
        const single = await exportToBuffer({ pool: p.pool, tenantId: r.tenantId });
        expect(normalized(r.script)).toBe(normalized(single.script));
        expect(r.summary.tables).toEqual(single.summary.tables);
        expect(r.summary).toMatchObject({ rows: single.summary.rows, bytes: r.script.length });
        // psql loads each script alone; all of them into one database: no row belongs to two scripts
        const file = dir.file(`${r.tenantId}.sql`);
        await writeFile(file, r.script);
        await psqlFile({ url: copy.db.url, file });
      }
      for (const tenantId of active) expect(await checksums({ pool: copy.pool, tenantId })).toEqual(await checksums({ pool: p.pool, tenantId }));
    } finally {
      await copy.close();
    }
  });

  it("finds a uuid asked in upper case; the same tenant asked twice is refused the second time", async () => {
    const id = active[1]!;
    const results = await exportTenantBatch({ pool: p.pool, plan, tenants: [id.toUpperCase(), id].map((tenantId) => ({ tenantId, backupId: backupId() })) });
    expect(results[0]).toMatchObject({ ok: true, summary: { rows: (await exportToBuffer({ pool: p.pool, tenantId: id })).summary.rows } });
    expect(results[1]).toMatchObject({ ok: false, error: { code: "tenant_duplicate" } });
  });

  it("reads a tenant column whose type differs from the root key's (text against uuid)", async () => {
    await p.pool.query("CREATE TABLE public.notes_text (id serial PRIMARY KEY, tenant_id text NOT NULL, body text)");
    try {
      await p.pool.query("INSERT INTO public.notes_text (tenant_id, body) VALUES ($1, 'note of one'), ($2, 'note of another')", [active[0], active[1]]);
      const client = await p.pool.connect();
      const withText = await discoverTenantPlan({ client }).finally(() => client.release());
      expect(withText.tables.map((t) => t.name)).toContain("public.notes_text");
      const results = await exportTenantBatch({
        pool: p.pool,
        plan: withText,
        tenants: active.slice(0, 2).map((tenantId) => ({ tenantId, backupId: backupId() })),
      });
      const [a, b] = results.map((r) => {
        if (!r.ok) throw r.error;
        return r.script.toString("utf8");
      });
      expect(a).toContain("note of one");
      expect(a).not.toContain("note of another");
      expect(b).toContain("note of another");
    } finally {
      await p.pool.query("DROP TABLE public.notes_text");
    }
  });

  it("a key type that bends values (varchar(n) cuts them) never hands one tenant's rows to another id", async () => {
    const db = await freshDatabase("td_batch_varchar");
    const pool = testPool({ connectionString: db.url, max: 2 });
    try {
      await pool.query(`CREATE TABLE tenants (id varchar(8) PRIMARY KEY, status text NOT NULL DEFAULT 'active');
        CREATE TABLE items (id serial PRIMARY KEY, tenant_id varchar(8) NOT NULL REFERENCES tenants (id), v text);
        INSERT INTO tenants (id) VALUES ('abcdefgh');
        INSERT INTO items (tenant_id, v) VALUES ('abcdefgh', 'secret of abcdefgh');`);
      const client = await pool.connect();
      const small = await discoverTenantPlan({ client }).finally(() => client.release());
      const [other, owner] = await exportTenantBatch({
        pool,
        plan: small,
        tenants: ["abcdefghX", "abcdefgh"].map((tenantId) => ({ tenantId, backupId: backupId() })),
      });
      expect(other).toMatchObject({ ok: false, error: { code: "tenant_not_found" } });
      if (!owner?.ok) throw new Error("the owner's export failed");
      expect(owner.script.toString("utf8")).toContain("secret of abcdefgh");
    } finally {
      await pool.end();
      await db.drop();
    }
  });

  it("takes a tenant over the size limit out of the batch; the others complete", async () => {
    const sizes = await Promise.all(active.map(async (tenantId) => ({ tenantId, bytes: (await exportToBuffer({ pool: p.pool, tenantId })).summary.bytes })));
    sizes.sort((a, b) => b.bytes - a.bytes);
    const [largest, second] = sizes;
    expect(largest!.bytes).toBeGreaterThan(second!.bytes); // the generator is skewed
    const results = await exportTenantBatch({
      pool: p.pool,
      plan,
      tenants: active.map((tenantId) => ({ tenantId, backupId: backupId() })),
      maxTenantBytes: second!.bytes,
    });
    for (const r of results) {
      if (r.tenantId === largest!.tenantId) expect(r).toMatchObject({ ok: false, error: { code: "export_tenant_too_large" } });
      else expect(r.ok, r.tenantId).toBe(true);
    }
  });

  it("a lost connection fails the whole batch, retryable, and the pool still works", async () => {
    const holder = new pg.Client({ connectionString: p.db.url });
    await holder.connect();
    try {
      // hold the batch at its LOCK TABLE, then kill its connection: deterministic, no race
      await holder.query("BEGIN; LOCK TABLE invoices IN ACCESS EXCLUSIVE MODE");
      const batch = exportTenantBatch({ pool: p.pool, plan, tenants: active.map((tenantId) => ({ tenantId, backupId: backupId() })) });
      batch.catch(() => {});
      let pid: number | undefined;
      while (pid === undefined) {
        const { rows } = await holder.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        );
        pid = rows[0]?.pid;
        if (pid === undefined) await new Promise((r) => setTimeout(r, 10));
      }
      await holder.query("SELECT pg_terminate_backend($1)", [pid]);
      await expect(batch).rejects.toMatchObject({ code: "export_failed", retryable: true });
      await holder.query("ROLLBACK");
    } finally {
      await holder.end();
    }
    expect((await exportTenantBatch({ pool: p.pool, plan, tenants: [{ tenantId: active[0]!, backupId: backupId() }] }))[0]!.ok).toBe(true);
  });

  it("an aborted signal stops the batch with export_aborted", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(exportTenantBatch({ pool: p.pool, plan, tenants: [{ tenantId: active[0]!, backupId: backupId() }], signal: ac.signal })).rejects.toMatchObject(
      { code: "export_aborted" },
    );
  });
});
