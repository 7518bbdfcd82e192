import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { freshDatabase, type FreshDatabase } from "@hesaab/testkit";
import { catalogState, migrate, requireMigratedCatalog } from "../src";

let database: FreshDatabase;
beforeAll(async () => {
  database = await freshDatabase("db_migrate");
});
afterAll(async () => {
  await database.drop();
});

describe("migrate", () => {
  it("applies to an empty database, then a second run is a no-op", async () => {
    const first = await migrate({ url: database.url });
    expect(first.applied).toBeGreaterThan(0);
    const second = await migrate({ url: database.url });
    expect(second.applied).toBe(0);

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query<{ table_name: string }>("select table_name from information_schema.tables where table_schema = 'backup' order by 1");
    await client.end();
    expect(rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(["backup_records", "restore_operations", "tenant_keys", "customer_exports", "audit_log", "alerts", "settings"]),
    );
  });

  it("serializes concurrent runs", async () => {
    const other = await freshDatabase("db_migrate_conc");
    try {
      const results = await Promise.all([migrate({ url: other.url }), migrate({ url: other.url }), migrate({ url: other.url })]);
      // one run applies every migration of the journal, the two others find nothing left
      const journal = JSON.parse(readFileSync(new URL("../migrations/meta/_journal.json", import.meta.url), "utf8")) as { entries: unknown[] };
      expect(results.map((r) => r.applied).sort()).toEqual([0, 0, journal.entries.length]);
    } finally {
      await other.drop();
    }
  });

  it("names the database without its password when it cannot connect", async () => {
    await expect(migrate({ url: "postgres://u:sekrit@127.0.0.1:1/none" })).rejects.toThrow(
      /catalog database at postgres:\/\/u:\*\*redacted\*\*@127\.0\.0\.1:1\/none/,
    );
  });
});

/** The tags of this code's migrations, oldest first. */
const tags = (JSON.parse(readFileSync(new URL("../migrations/meta/_journal.json", import.meta.url), "utf8")) as { entries: { tag: string }[] }).entries.map(
  (e) => e.tag,
);

describe("requireMigratedCatalog", () => {
  it("refuses a database that was never migrated, with what to run, and passes once migrated", async () => {
    const fresh = await freshDatabase("db_unmigrated");
    const pool = new pg.Pool({ connectionString: fresh.url });
    try {
      expect(await catalogState(pool)).toEqual({ applied: 0, pending: tags });
      const refusal = await requireMigratedCatalog({ pool, url: fresh.url }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refusal).toMatchObject({
        code: "catalog_not_migrated",
        message: expect.stringMatching(/^the catalog at postgres:\/\/\S+ is not migrated: run `hesaab catalog migrate`$/) as string,
      });
      // the check wrote nothing: still no schema
      expect((await pool.query("select to_regnamespace('backup') as s")).rows[0].s).toBeNull();
      await migrate({ url: fresh.url });
      expect(await catalogState(pool)).toMatchObject({ pending: [] });
      await expect(requireMigratedCatalog({ pool, url: fresh.url })).resolves.toBeUndefined();
    } finally {
      await pool.end();
      await fresh.drop();
    }
  });

  it("counts a catalog whose last migration is older than this code's as not migrated", async () => {
    const fresh = await freshDatabase("db_behind");
    const pool = new pg.Pool({ connectionString: fresh.url });
    try {
      await migrate({ url: fresh.url });
      // as if the catalog were migrated by an older release: its last migration recorded before ours
      await pool.query("update backup.__migrations set created_at = created_at - 1");
      expect((await catalogState(pool)).pending).toEqual([tags.at(-1)]);
      await expect(requireMigratedCatalog({ pool, url: fresh.url })).rejects.toMatchObject({ code: "catalog_not_migrated", hint: `It lacks ${tags.at(-1)}` });
    } finally {
      await pool.end();
      await fresh.drop();
    }
  });
});
