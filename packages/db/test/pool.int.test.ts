// openPool on a real server: a pool whose connections are all held answers database_busy (retryable)
// once its wait is over, through connect() and query() alike, and serves again once one is given back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase, type FreshDatabase } from "@hesaab/testkit";
import { openPool } from "../src";

let database: FreshDatabase;
beforeAll(async () => {
  database = await freshDatabase("db_pool");
});
afterAll(async () => {
  await database.drop();
});

describe("openPool", () => {
  it("waits at most connectTimeoutMs for a connection, then says database_busy", async () => {
    const pool = openPool({ url: database.url, max: 1, name: "hesaab-test", connectTimeoutMs: 200 });
    try {
      const held = await pool.connect();
      const busy = { code: "database_busy", retryable: true, message: "no database connection was free within 0.2 s" };
      await expect(pool.connect()).rejects.toMatchObject(busy);
      await expect(pool.query("select 1")).rejects.toMatchObject(busy);
      held.release();
      expect((await pool.query<{ n: number }>("select 1 as n")).rows).toEqual([{ n: 1 }]);
      const { rows } = await pool.query<{ name: string }>("select current_setting('application_name') as name");
      expect(rows[0]!.name).toBe("hesaab-test");
    } finally {
      await pool.end();
    }
  });
});
