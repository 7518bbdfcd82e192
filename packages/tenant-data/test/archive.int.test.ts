import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { from as copyFrom } from "pg-copy-streams";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AWKWARD_TEXTS } from "@hesaab/platform";
import { newId } from "@hesaab/contracts";
import { csvFileName, discoverTenantPlan, writeTenantArchive, type TenantPlan } from "../src/index";
import { type Platform, busyConnections, checksums, emptyCopy, platform, psqlFile, tempDir } from "./helpers";
import { testPool } from "@hesaab/testkit";

const run = promisify(execFile);
let p: Platform;
let plan: TenantPlan;
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  p = await platform("td_archive");
  const client = await p.pool.connect();
  plan = await discoverTenantPlan({ client });
  client.release();
  dir = await tempDir();
});

afterAll(async () => {
  await p?.close();
  await dir?.remove();
});

async function archive(tenantId: string, output = createWriteStream(dir.file(`${tenantId}.zip`))) {
  return writeTenantArchive({ pool: p.pool, plan, tenantId, exportId: newId("exp"), output });
}

/** One file of a ZIP, read by the `unzip` command (an independent reader of the format). */
async function unzipFile(zip: string, name: string): Promise<Buffer> {
  const { stdout } = await run("unzip", ["-p", zip, name], { encoding: "buffer", maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

const busyBackends = () => busyConnections(p.pool);

describe("writeTenantArchive: the customer self-backup's ZIP", () => {
  it("two connections per archive: archives at once on a pool sized 2 per archive all finish", async () => {
    const pool = testPool({ connectionString: p.db.url, max: 4 });
    try {
      const sinks = () => new Writable({ write: (_c, _e, cb) => cb() });
      const results = await Promise.all([p.tenant, p.other].map((tenantId) => writeTenantArchive({ pool, plan, tenantId, exportId: newId("exp"), output: sinks() })));
      expect(results.map((r) => r.tenantId)).toEqual([p.tenant, p.other]);
    } finally {
      await pool.end();
    }
  });

  it("holds a README, the SQL script and one CSV per table that load back into exactly the tenant's rows", async () => {
    const summary = await archive(p.tenant);
    const zip = dir.file(`${p.tenant}.zip`);
    const { stdout: listing } = await run("unzip", ["-Z1", zip]);
    const names = listing.trim().split("\n");
    expect(names).toEqual([`${summary.folder}/backup.sql`, ...plan.tables.map((t) => `${summary.folder}/tables/${csvFileName(t)}`), `${summary.folder}/README.txt`]);

    // README: what is inside and the counts
    const readme = (await unzipFile(zip, `${summary.folder}/README.txt`)).toString("utf8");
    expect(readme).toContain(p.tenant);
    for (const t of summary.tables) expect(readme).toMatch(new RegExp(`${t.file.replace(/\./g, "\\.")}\\s+${t.rows}\\r\\n`));

    // CSVs: a BOM, the header line, and (loaded with COPY … CSV HEADER into an empty copy) the exact rows
    const fromCsv = await emptyCopy(p, { prefix: "td_archive_csv" });
    const fromSql = await emptyCopy(p, { prefix: "td_archive_sql" });
    try {
      const client = await fromCsv.pool.connect();
      try {
        await client.query("BEGIN; SET CONSTRAINTS ALL DEFERRED");
        for (const table of plan.tables) {
          const csv = await unzipFile(zip, `${summary.folder}/tables/${csvFileName(table)}`);
          expect([...csv.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
          expect(csv.subarray(3).toString("utf8").split("\n")[0]).toBe(table.columns.map((c) => c.name).join(","));
          const copy = client.query(copyFrom(`COPY ${table.sql} (${table.columns.map((c) => `"${c.name}"`).join(", ")}) FROM STDIN WITH (FORMAT csv, HEADER true)`));
          await pipeline(async function* () {
            yield csv.subarray(3);
          }, copy);
        }
        await client.query("COMMIT");
      } finally {
        client.release();
      }
      const source = await checksums({ pool: p.pool, tenantId: p.tenant });
      expect(await checksums({ pool: fromCsv.pool, tenantId: p.tenant })).toEqual(source);
      for (const [table, c] of Object.entries(source)) expect(c.rows, table).toBeGreaterThan(0);
      // no other tenant's row came along (the copies held no tenant at all before)
      expect(await checksums({ pool: fromCsv.pool, tenantId: p.other })).toEqual(await checksums({ pool: fromSql.pool, tenantId: p.other }));
      const { rows } = await fromCsv.pool.query<{ notes: string | null }>("SELECT DISTINCT notes FROM customers WHERE tenant_id = $1", [p.tenant]);
      for (const text of AWKWARD_TEXTS) expect(rows.some((r) => r.notes === text), JSON.stringify(text)).toBe(true);

      // the SQL script: psql alone loads it, the same rows
      await run("unzip", ["-o", "-q", zip, `${summary.folder}/backup.sql`, "-d", dir.path]);
      await psqlFile({ url: fromSql.db.url, file: `${dir.path}/${summary.folder}/backup.sql` });
      expect(await checksums({ pool: fromSql.pool, tenantId: p.tenant })).toEqual(source);
    } finally {
      await fromCsv.close();
      await fromSql.close();
    }
    expect(summary.rows).toBe(summary.tables.reduce((n, t) => n + t.rows, 0));
    expect(await busyBackends()).toBe(0);
  });

  it("refuses a tenant that does not exist or is suspended, before writing a byte", async () => {
    for (const [tenantId, code] of [
      [randomUUID(), "tenant_not_found"],
      [p.suspended, "tenant_not_active"],
    ] as const) {
      const file = dir.file(`refused-${tenantId}.zip`);
      const output = createWriteStream(file);
      await expect(archive(tenantId, output)).rejects.toMatchObject({ code });
      expect(output.destroyed).toBe(true);
      expect(await stat(file).then((s) => s.size, () => 0)).toBe(0);
    }
    expect(await busyBackends()).toBe(0);
  });

  it("shows one moment: rows committed while it runs are in no file", async () => {
    const before = await checksums({ pool: p.pool, tenantId: p.other });
    let inserted = false;
    // a slow reader: the export is mid-way when another transaction commits new rows for the tenant
    const chunks: Buffer[] = [];
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        if (inserted) return cb();
        inserted = true;
        p.pool
          .query("INSERT INTO customers (tenant_id, code, name) SELECT tenant_id, code || '-later', name || ' (later)' FROM customers WHERE tenant_id = $1 LIMIT 5", [p.other])
          .then(() => cb(), cb);
      },
    });
    const summary = await archive(p.other, slow as never);
    expect(inserted).toBe(true);
    const customers = summary.tables.find((t) => t.name === "public.customers")!;
    expect(customers.rows).toBe(before.customers!.rows);
    const zipFile = dir.file("moment.zip");
    await pipeline(async function* () {
      yield Buffer.concat(chunks);
    }, createWriteStream(zipFile));
    const csv = (await unzipFile(zipFile, `${summary.folder}/tables/public.customers.csv`)).toString("utf8");
    expect(csv).not.toContain("(later)");
  });

  it("a reader that fails in the script or in the CSV files fails the export, closes the output, and gives every connection back", async () => {
    const full = (await stat(dir.file(`${p.tenant}.zip`))).size; // written by the first test
    for (const failAt of [20_000, Math.floor(full * 0.9)]) {
      let seen = 0;
      const failing = new Writable({
        write(chunk: Buffer, _enc, cb) {
          seen += chunk.length;
          cb(seen > failAt ? new Error("disk full") : null);
        },
      });
      await expect(archive(p.tenant, failing as never)).rejects.toThrow(/disk full/);
      expect(failing.destroyed).toBe(true);
      await expect.poll(() => p.pool.totalCount - p.pool.idleCount, { timeout: 5000 }).toBe(0); // none checked out, idle or not
      // a connection given back broken is closed: its server process leaves a moment later, not at once
      await expect.poll(busyBackends, { timeout: 5000 }).toBe(0);
    }
  });
});
