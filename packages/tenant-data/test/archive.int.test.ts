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
import { csvFileName, discoverTenantPlan, exportTenant, writeTenantArchive, type ColumnExclusions, type TenantPlan } from "../src/index";
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

async function archive(tenantId: string, output: Writable = createWriteStream(dir.file(`${tenantId}.zip`)), excludeColumns?: ColumnExclusions) {
  return writeTenantArchive({ pool: p.pool, plan, tenantId, exportId: newId("exp"), output, ...(excludeColumns ? { excludeColumns } : {}) });
}

/** Nothing left out: the files then hold every column, and can be compared with the source as they are. */
const NOTHING: ColumnExclusions = { defaults: false, patterns: [] };

/** The text columns of the platform's tables (what the CSVs neutralise). */
async function textColumnsOf(pool: typeof p.pool): Promise<{ table: string; column: string }[]> {
  const { rows } = await pool.query<{ table: string; column: string }>(
    "SELECT table_name AS table, column_name AS column FROM information_schema.columns WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'character') AND is_generated = 'NEVER'",
  );
  return rows;
}

/** Takes the ' the CSVs put before formula characters away again (in a copy loaded from them). */
async function unneutralise(pool: typeof p.pool): Promise<void> {
  for (const { table, column } of await textColumnsOf(pool)) {
    await pool.query(`UPDATE "${table}" SET "${column}" = substr("${column}", 2) WHERE "${column}" ~ '^''[-=+@\t\r]'`);
  }
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
      const results = await Promise.all(
        [p.tenant, p.other].map((tenantId) => writeTenantArchive({ pool, plan, tenantId, exportId: newId("exp"), output: sinks() })),
      );
      expect(results.map((r) => r.tenantId)).toEqual([p.tenant, p.other]);
    } finally {
      await pool.end();
    }
  });

  it("holds a README, the SQL script and one CSV per table that load back into exactly the tenant's rows", async () => {
    const summary = await archive(p.tenant, undefined, NOTHING);
    const zip = dir.file(`${p.tenant}.zip`);
    const { stdout: listing } = await run("unzip", ["-Z1", zip]);
    const names = listing.trim().split("\n");
    expect(names).toEqual([
      `${summary.folder}/backup.sql`,
      ...plan.tables.map((t) => `${summary.folder}/tables/${csvFileName(t)}`),
      `${summary.folder}/README.txt`,
    ]);

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
          const copy = client.query(
            copyFrom(`COPY ${table.sql} (${table.columns.map((c) => `"${c.name}"`).join(", ")}) FROM STDIN WITH (FORMAT csv, HEADER true)`),
          );
          await pipeline(async function* () {
            yield csv.subarray(3);
          }, copy);
        }
        await client.query("COMMIT");
      } finally {
        client.release();
      }
      await unneutralise(fromCsv.pool);
      const source = await checksums({ pool: p.pool, tenantId: p.tenant });
      expect(await checksums({ pool: fromCsv.pool, tenantId: p.tenant })).toEqual(source);
      for (const [table, c] of Object.entries(source)) expect(c.rows, table).toBeGreaterThan(0);
      // no other tenant's row came along (the copies held no tenant at all before)
      expect(await checksums({ pool: fromCsv.pool, tenantId: p.other })).toEqual(await checksums({ pool: fromSql.pool, tenantId: p.other }));
      const { rows } = await fromCsv.pool.query<{ notes: string | null }>("SELECT DISTINCT notes FROM customers WHERE tenant_id = $1", [p.tenant]);
      for (const text of AWKWARD_TEXTS)
        expect(
          rows.some((r) => r.notes === text),
          JSON.stringify(text),
        ).toBe(true);

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

  it("leaves credential columns out of the CSVs and the script (the built-in patterns and configured ones), says so in the README; the tenant backup keeps them", async () => {
    const zip = dir.file("credentials.zip");
    const summary = await archive(p.tenant, createWriteStream(zip), { defaults: true, patterns: ["Customers.National_ID"] });
    expect(summary.excludedColumns).toEqual([
      { table: "public.users", column: "password_hash", pattern: "*password*", notNull: false },
      { table: "public.customers", column: "national_id", pattern: "Customers.National_ID", notNull: false },
    ]);
    const { rows: hashes } = await p.pool.query<{ hex: string }>(
      "SELECT encode(password_hash, 'hex') AS hex FROM users WHERE tenant_id = $1 AND password_hash IS NOT NULL",
      [p.tenant],
    );
    const { rows: ids } = await p.pool.query<{ id: string }>("SELECT national_id AS id FROM customers WHERE tenant_id = $1 AND length(national_id) > 5", [
      p.tenant,
    ]);
    expect(hashes.length).toBeGreaterThan(0);
    expect(ids.length).toBeGreaterThan(0);

    const users = (await unzipFile(zip, `${summary.folder}/tables/public.users.csv`)).subarray(3).toString("utf8");
    expect(users.split("\n")[0]).toBe("id,tenant_id,email,full_name,role,permissions,last_login_at,created_at");
    const customers = (await unzipFile(zip, `${summary.folder}/tables/public.customers.csv`)).subarray(3).toString("utf8");
    expect(customers.split("\n")[0]).not.toContain("national_id");
    const script = (await unzipFile(zip, `${summary.folder}/backup.sql`)).toString("utf8");
    // in no file: not the column's name, not one of its values
    const everything = [script, users, customers].join("\n");
    expect(everything).not.toContain("password_hash");
    expect(everything).not.toContain("national_id");
    for (const { hex } of hashes) expect(everything).not.toContain(hex);
    for (const { id } of ids) expect(customers).not.toContain(id);

    const readme = (await unzipFile(zip, `${summary.folder}/README.txt`)).toString("utf8");
    expect(readme).toContain("Left out: these columns hold credentials");
    expect(readme).toContain("  public.users.password_hash\r\n");
    expect(readme).toContain("  public.customers.national_id\r\n");
    expect(readme).not.toContain("NOT NULL");

    // the script still loads (both columns may be NULL): every user comes back, without a password
    const copy = await emptyCopy(p, { prefix: "td_archive_cred" });
    try {
      await run("unzip", ["-o", "-q", zip, `${summary.folder}/backup.sql`, "-d", dir.path]);
      await psqlFile({ url: copy.db.url, file: `${dir.path}/${summary.folder}/backup.sql` });
      const { rows } = await copy.pool.query<{ n: string; hashes: string }>(
        "SELECT count(*) AS n, count(password_hash) AS hashes FROM users WHERE tenant_id = $1",
        [p.tenant],
      );
      expect(rows[0]).toEqual({ n: String(hashes.length), hashes: "0" });
    } finally {
      await copy.close();
    }

    // the tenant backup (what a restore loads) is a script of the full plan: the credentials are in it
    const backup = await exportTenant({ pool: p.pool, plan, tenantId: p.tenant, backupId: newId("bkp") });
    const chunks: Buffer[] = [];
    for await (const chunk of backup.stream) chunks.push(chunk as Buffer);
    const full = Buffer.concat(chunks).toString("utf8");
    expect(full).toMatch(/COPY public\.users \([^)]*password_hash[^)]*\) FROM stdin;/);
    for (const { hex } of hashes) expect(full).toContain(hex);
  });

  it("names NOT NULL columns left out in the README (the script cannot load their table as it is); !defaults drops the built-in patterns", async () => {
    const zip = dir.file("required.zip");
    const summary = await archive(p.other, createWriteStream(zip), { defaults: false, patterns: ["public.customers.name"] });
    expect(summary.excludedColumns).toEqual([{ table: "public.customers", column: "name", pattern: "public.customers.name", notNull: true }]);
    const readme = (await unzipFile(zip, `${summary.folder}/README.txt`)).toString("utf8");
    expect(readme).toMatch(/only where that column\r\nhas a default; give it one in the database you load into first:\r\n {2}public\.customers\.name\r\n/);
    const users = (await unzipFile(zip, `${summary.folder}/tables/public.users.csv`)).subarray(3).toString("utf8");
    expect(users.split("\n")[0]).toContain("password_hash"); // !defaults: only what was listed is left out
  });

  it("neutralises text cells a spreadsheet would run as a formula (each leading character), and never a number", async () => {
    const tenant = p.other;
    const texts = ['=HYPERLINK("http://x")', "+98 912 000 0000", "-minus", "@SUM(A1)", "\tTAB", "\rCR", "plain = not first", "'=already quoted"];
    const { rows: inserted } = await p.pool.query<{ id: string }>(
      "INSERT INTO customers (tenant_id, code, name, notes, balance) SELECT $1, 'formula-' || n, t, t, -5 - n FROM unnest($2::text[]) WITH ORDINALITY AS x(t, n) RETURNING id",
      [tenant, texts],
    );
    expect(inserted).toHaveLength(texts.length);
    const zip = dir.file("formulas.zip");
    const summary = await archive(tenant, createWriteStream(zip), NOTHING);
    const csv = await unzipFile(zip, `${summary.folder}/tables/public.customers.csv`);
    const readme = (await unzipFile(zip, `${summary.folder}/README.txt`)).toString("utf8");
    expect(readme).toContain("Text that starts with = + - @, a tab or a carriage return begins with an added '");

    // read back by PostgreSQL's own CSV reader into an empty copy: what a spreadsheet sees cell by cell
    const copy = await emptyCopy(p, { prefix: "td_archive_formula" });
    try {
      await copy.pool.query("CREATE TABLE cells (LIKE customers)");
      const client = await copy.pool.connect();
      try {
        const columns = plan.tables.find((t) => t.name === "public.customers")!.columns.map((c) => `"${c.name}"`);
        await pipeline(
          async function* () {
            yield csv.subarray(3);
          },
          client.query(copyFrom(`COPY cells (${columns.join(", ")}) FROM STDIN WITH (FORMAT csv, HEADER true)`)),
        );
      } finally {
        client.release();
      }
      const { rows } = await copy.pool.query<{ code: string; name: string; notes: string; balance: string }>(
        "SELECT code, name, notes, balance::text FROM cells WHERE code LIKE 'formula-%' ORDER BY id",
      );
      const expected = ['\'=HYPERLINK("http://x")', "'+98 912 000 0000", "'-minus", "'@SUM(A1)", "'\tTAB", "'\rCR", "plain = not first", "'=already quoted"];
      expect(rows.map((r) => r.notes)).toEqual(expected);
      expect(rows.map((r) => r.name)).toEqual(expected);
      expect(rows.map((r) => r.code)).toEqual(texts.map((_, i) => `formula-${i + 1}`));
      expect(rows.map((r) => r.balance)).toEqual(texts.map((_, i) => `${-5 - (i + 1)}.00`)); // numbers: untouched
      expect(csv.toString("utf8")).toMatch(/,-6\.00,/);

      // the script holds the text as it is
      await run("unzip", ["-o", "-q", zip, `${summary.folder}/backup.sql`, "-d", dir.path]);
      await psqlFile({ url: copy.db.url, file: `${dir.path}/${summary.folder}/backup.sql` });
      const { rows: loaded } = await copy.pool.query<{ notes: string }>("SELECT notes FROM customers WHERE code LIKE 'formula-%' ORDER BY id");
      expect(loaded.map((r) => r.notes)).toEqual(texts);
    } finally {
      await copy.close();
      await p.pool.query("DELETE FROM customers WHERE id = ANY($1::bigint[])", [inserted.map((r) => r.id)]);
    }
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
      expect(
        await stat(file).then(
          (s) => s.size,
          () => 0,
        ),
      ).toBe(0);
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
          .query(
            "INSERT INTO customers (tenant_id, code, name) SELECT tenant_id, code || '-later', name || ' (later)' FROM customers WHERE tenant_id = $1 LIMIT 5",
            [p.other],
          )
          .then(() => cb(), cb);
      },
    });
    const summary = await archive(p.other, slow);
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
