import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listBackupRecords } from "@hesaab/db";
import { tenantPrefix } from "@hesaab/storage";
import { backupTenant } from "../src";
import { harness, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  // Tenant #1 holds ~40 MB of COPY text: its export is long enough to lose its connection midway.
  h = await harness({ tenants: 2, seed: 23, largeScale: 25 });
});
afterAll(async () => {
  await h?.close();
});

describe("PostgreSQL connection lost during a backup", () => {
  it("fails the backup (retryable), leaves no completed record and no artifact; the retry succeeds", async () => {
    const t = h.platform.tenants[0]!.id;
    const dbName = new URL(h.url).pathname.slice(1);
    const { default: pg } = await import("pg");
    const admin = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres" });
    await admin.connect();
    const killer = (async () => {
      try {
        for (let i = 0; i < 20_000; i++) {
          const { rows } = await admin.query(
            "select pg_terminate_backend(pid) as killed from pg_stat_activity where datname = $1 and application_name = 'hesaab-backup' and query ilike 'copy%' and state = 'active'",
            [dbName],
          );
          if (rows.length) return true;
        }
        return false;
      } finally {
        await admin.end();
      }
    })();
    // The harness pool has no application_name; give the export one so the killer finds it.
    const pool = new pg.Pool({ connectionString: h.url, application_name: "hesaab-backup", max: 2 });
    pool.on("error", () => {});
    try {
      await expect(backupTenant({ ...h.deps, platform: pool }, { tenantId: t, purpose: "on_demand", requestedBy: "test" })).rejects.toMatchObject({
        retryable: true,
      });
      expect(await killer).toBe(true);
      const records = await listBackupRecords(h.deps.catalog.db, { tenantId: t });
      expect(records.map((r) => r.status)).toEqual(["failed"]);
      for (const b of h.deps.backends) {
        const keys: string[] = [];
        for await (const e of b.list(tenantPrefix(t))) if (e.key.includes(records[0]!.id)) keys.push(e.key);
        expect(keys).toEqual([]);
      }
      const { record } = await backupTenant({ ...h.deps, platform: pool }, { tenantId: t, purpose: "on_demand", requestedBy: "test" });
      expect(record.status).toBe("completed");
    } finally {
      await pool.end();
    }
  });
});
