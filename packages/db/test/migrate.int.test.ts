import { readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { freshDatabase, type FreshDatabase } from "@hesaab/testkit";
import { MIGRATIONS_DIR, migrate } from "../src";

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
    const { rows } = await client.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'backup' order by 1",
    );
    await client.end();
    expect(rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(["backup_records", "restore_operations", "tenant_keys", "customer_exports", "audit_log", "alerts", "settings", "revoked_sessions"]),
    );
  });

  it("serializes concurrent runs", async () => {
    const other = await freshDatabase("db_migrate_conc");
    try {
      const results = await Promise.all([migrate({ url: other.url }), migrate({ url: other.url }), migrate({ url: other.url })]);
      // one run applies every migration, the others find nothing left to do
      const migrations = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith(".sql")).length;
      expect(results.map((r) => r.applied).sort()).toEqual([0, 0, migrations]);
    } finally {
      await other.drop();
    }
  });

  it("names the database without its password when it cannot connect", async () => {
    await expect(migrate({ url: "postgres://u:sekrit@127.0.0.1:1/none" })).rejects.toThrow(/catalog database at postgres:\/\/u:\*\*redacted\*\*@127\.0\.0\.1:1\/none/);
  });
});
