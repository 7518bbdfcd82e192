// `hesaab status` against real things: a health port (the same server every service opens) with
// real checks, a closed port for a service that is down, and a catalog with backups in it.
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "@hesaab/db";
import { postgresCheck, ServiceMetrics, silentLog, startHealthServer, type HealthServer } from "@hesaab/observability";
import { freshDatabase, testPool, type FreshDatabase } from "@hesaab/testkit";
import { runCli } from "./run-cli";

let db: FreshDatabase;
let pool: ReturnType<typeof testPool>;
let health: HealthServer;
let closedPort: number;

/** A port nothing listens on: taken, then released. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

beforeAll(async () => {
  db = await freshDatabase("cli_status");
  await migrate({ url: db.url });
  pool = testPool({ connectionString: db.url });
  const insert = ([id, type, status, hoursAgo]: [string, string, string, number]) =>
    pool.query(
      `insert into backup.backup_records (id, backup_type, tenant_id, filename, encryption_key_id, status, file_size, created_at)
       values ($1, $2, $3, 'f', '', $4, 1024, now() - make_interval(hours => $5))`,
      [id, type, type === "tenant" ? "11111111-1111-4111-8111-111111111111" : null, status, hoursAgo],
    );
  await insert(["bkp_t1", "tenant", "completed", 2]);
  await insert(["bkp_t2", "tenant", "completed", 3]);
  await insert(["bkp_t3", "tenant", "failed", 4]);
  await insert(["bkp_old", "tenant", "completed", 30]);
  await insert(["bkp_dr1", "disaster", "completed", 5]);
  health = await startHealthServer({
    service: "backup-svc",
    port: 0,
    metrics: new ServiceMetrics({ service: "backup-svc", defaultMetrics: false }),
    checks: [postgresCheck("catalog_db", pool)],
    log: silentLog,
  });
  closedPort = await freePort();
});
afterAll(async () => {
  await health?.close();
  await pool?.end();
  await db?.drop();
});

describe("hesaab status", () => {
  it("--json: each service's readiness, the last 24 hours of backups and the latest disaster backup; exit 1 when a service is down", async () => {
    const down = `http://127.0.0.1:${closedPort}`;
    const out = await runCli(["status", "--json"], {
      BACKUP_DATABASE_URL: db.url,
      BACKUP_SVC_URL: health.url,
      STORAGE_SVC_URL: down,
      DR_SVC_URL: down,
      GATEWAY_URL: down,
    });
    expect(out.code, out.stderr).toBe(1);
    const status = JSON.parse(out.stdout) as {
      ok: boolean;
      services: { name: string; status: string }[];
      catalog: { backups: { type: string; status: string; count: number }[]; latestDisasterBackup: { id: string } | null };
    };
    expect(status.ok).toBe(false);
    expect(status.services.map((s) => [s.name, s.status])).toEqual([
      ["backup-svc", "ready"],
      ["storage-svc", "unreachable"],
      ["dr-svc", "unreachable"],
      ["gateway", "unreachable"],
    ]);
    expect(status.catalog.backups).toEqual([
      { type: "disaster", status: "completed", count: 1 },
      { type: "tenant", status: "completed", count: 2 },
      { type: "tenant", status: "failed", count: 1 },
    ]);
    expect(status.catalog.latestDisasterBackup?.id).toBe("bkp_dr1");
  });

  it("prints a table for people; exit 0 when every service is ready", async () => {
    const out = await runCli(["status"], {
      BACKUP_DATABASE_URL: db.url,
      BACKUP_SVC_URL: health.url,
      STORAGE_SVC_URL: health.url,
      DR_SVC_URL: health.url,
      GATEWAY_URL: health.url,
    });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^backup-svc\s+ready\s+http:/m);
    expect(out.stdout).toMatch(/tenant\s+failed\s+1/);
    expect(out.stdout).toContain("latest disaster backup: bkp_dr1 completed");
  });
});
