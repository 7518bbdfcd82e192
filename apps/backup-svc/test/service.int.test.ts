import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, type Bus } from "@hesaab/bus";
import { migrate, openCatalog } from "@hesaab/db";
import { createPlatformSchema, generatePlatform, type GenerateResult } from "@hesaab/platform";
import { freshDatabase, type FreshDatabase, testEnv, testPool, waitFor } from "@hesaab/testkit";
import { requestCustomerExport } from "@hesaab/tenant-backup";
import { loadEnv } from "../src/env";
import { startBackupService, type RunningService } from "../src/service";

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
let db: FreshDatabase;
let platform: GenerateResult;
let pool: pg.Pool;
const prefix = `T${randomBytes(3).toString("hex")}`;
let control: Bus;

function envFor(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...testEnv(),
    PLATFORM_DATABASE_URL: db.url,
    BACKUP_DATABASE_URL: db.url,
    HESAAB_BUS_PREFIX: prefix,
    BACKUP_SCHEDULE_ENABLED: "false",
    BACKUP_ACK_WAIT_MS: "2000",
    BACKUP_MAX_DELIVER: "4",
    BACKUP_SVC_HTTP_PORT: "0", // several replicas in one test: each its own health port
    ...overrides,
  };
}

async function records(where = "true"): Promise<{ id: string; tenant_id: string; status: string; period: string | null; error_message: string | null }[]> {
  const { rows } = await pool.query(
    `select id, tenant_id, status, period, error_message from backup.backup_records where backup_type = 'tenant' and ${where} order by created_at`,
  );
  return rows;
}

beforeAll(async () => {
  db = await freshDatabase("bsvc");
  await createPlatformSchema({ url: db.url });
  // Tenant #1 is large enough (~15 MB of COPY text) that a backup takes a while: time to kill it.
  platform = await generatePlatform({ url: db.url, tenants: 5, scale: 0.1, seed: 3, largeScale: 10 });
  await migrate({ url: db.url });
  pool = testPool({ connectionString: db.url });
  control = await connectBus({ url: testEnv().NATS_URL!, name: "test-control", prefix });
  await control.ensureStreams();
});
afterAll(async () => {
  await control?.deleteStreams().catch(() => {});
  await control?.close();
  await pool?.end();
  await db?.drop();
});

describe("backup-svc", () => {
  it("builds a customer self-backup a tenant asked for, into its data directory, ready for 24 hours", async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "bsvc-exports-"));
    const svc = await startBackupService(loadEnv(envFor({ HESAAB_DATA_DIR: dataDir })), { name: "exports" });
    const catalog = openCatalog({ url: db.url });
    try {
      const tenantId = platform.tenants.find((t) => t.status === "active")!.id;
      const deps = { platform: pool, catalog, keyRing: undefined as never, exportDir: path.join(dataDir, "exports") };
      const { export: requested } = await requestCustomerExport(deps, { tenantId, requestedBy: "user:svc" });
      await control.publish("export.customer.requested.v1", { exportId: requested.id, tenantId, requestedBy: "user:svc" });
      const ready = await waitFor(async () => {
        const { rows } = await pool.query<{ status: string; local_path: string | null }>(
          "select status, local_path from backup.customer_exports where id = $1",
          [requested.id],
        );
        return rows[0]?.status === "ready" && rows[0];
      }, "the export built");
      expect(ready.local_path).toBe(path.join(dataDir, "exports", tenantId, `${requested.id}.zip.bkp1`));
      expect((await stat(ready.local_path!)).size).toBeGreaterThan(0);
    } finally {
      await svc.stop();
      await catalog.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("two replicas and a schedule fired twice make one backup per tenant per period", async () => {
    const a = await startBackupService(loadEnv(envFor({ BACKUP_SCHEDULE_ENABLED: "true", BACKUP_SCHEDULE_CRON: "* * * * *" })), { name: "replica-a" });
    const b = await startBackupService(loadEnv(envFor({ BACKUP_SCHEDULE_ENABLED: "true", BACKUP_SCHEDULE_CRON: "* * * * *" })), { name: "replica-b" });
    try {
      const active = platform.tenants.filter((t) => t.status === "active").map((t) => t.id);
      const fired = await waitFor(async () => {
        const rows = await records("period is not null and status = 'completed'");
        return rows.length >= active.length && rows;
      }, "a scheduled backup of every active tenant");
      const period = fired[0]!.period!;
      // The same period requested again, by hand, twice: nothing new.
      for (let i = 0; i < 2; i++)
        await control.publish("backup.tenant.requested.v1", { all: true, purpose: "scheduled", period, requestedBy: "test" }, { msgId: `again-${i}` });
      await new Promise((r) => setTimeout(r, 3000));
      const rows = await records(`period = '${period}'`);
      const completed = rows.filter((r) => r.status === "completed");
      expect(completed.map((r) => r.tenant_id).sort()).toEqual([...active].sort());
      const { rows: runs } = await pool.query("select count(*)::int as n from backup.schedule_runs where schedule = 'tenant-backups' and period = $1", [
        period,
      ]);
      expect(runs[0].n).toBe(1);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it("a worker killed mid-backup: the job is redelivered and completes once, no partial record", async () => {
    const big = platform.tenants[0]!.id;
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: appDir,
      env: { ...process.env, ...envFor() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let second: RunningService | undefined;
    try {
      await control.publish(
        "backup.tenant.job.v1",
        { tenantId: big, purpose: "on_demand", requestedBy: "test" },
        { msgId: `kill-${randomBytes(4).toString("hex")}` },
      );
      const running = await waitFor(async () => (await records(`tenant_id = '${big}' and status = 'running'`))[0], "the backup to start");
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      second = await startBackupService(loadEnv(envFor()), { name: "survivor" });
      // period is null: the schedule's test before this one left completed backups of this tenant
      const done = await waitFor(
        async () => (await records(`tenant_id = '${big}' and period is null and status = 'completed'`))[0],
        "the redelivered backup to complete",
      );
      expect(done.id).not.toBe(running.id);
      await new Promise((r) => setTimeout(r, 2500));
      const all = await records(`tenant_id = '${big}' and period is null`);
      expect(all.filter((r) => r.status === "completed")).toHaveLength(1);
      const killed = all.find((r) => r.id === running.id)!;
      expect(killed.status).toBe("failed");
      expect(killed.error_message).toMatch(/abandoned/);
    } finally {
      child.kill("SIGKILL");
      await second?.stop();
    }
  });

  it("both providers failing: retried, then a failed record, a dead letter and one alert (not one from the handler and one from the dead letter)", async () => {
    const tenant = platform.tenants[1]!.id;
    const openAlerts = async () =>
      (
        await pool.query<{ code: string; context: { tenantId?: string } }>(
          "select code, context from backup.alerts where resolved_at is null order by raised_at, id",
        )
      ).rows;
    const before = (await openAlerts()).length;
    // Both providers unreachable (nothing listens on these ports) and no local spool to take the sealed
    // artifact instead: every attempt fails, retryably.
    const svc = await startBackupService(
      loadEnv(envFor({ B2_ENDPOINT_URL: "http://127.0.0.1:9", R2_ENDPOINT_URL: "http://127.0.0.1:9", HESAAB_SPOOL_MAX_BYTES: "0" })),
      { name: "doomed" },
    );
    let stopped = false;
    try {
      await control.publish(
        "backup.tenant.job.v1",
        { tenantId: tenant, purpose: "on_demand", requestedBy: "test" },
        { msgId: `doomed-${randomBytes(4).toString("hex")}` },
      );
      const alert = await waitFor(
        async () => {
          const { rows } = await pool.query("select code, message from backup.alerts where context->>'tenantId' = $1", [tenant]);
          return rows[0];
        },
        "the alert",
        90_000,
      );
      expect(alert.code).toBe("tenant_backup_failed");
      const rows = await records(`tenant_id = '${tenant}' and period is null`);
      expect(rows.length).toBe(4); // one record per attempt (BACKUP_MAX_DELIVER = 4)
      expect(rows.every((r) => r.status === "failed")).toBe(true);
      const dlq = await waitFor(async () => {
        const info = await control.jsm.streams.info(`${prefix}_HESAAB_DLQ`).catch(() => undefined);
        return info && info.state.messages > 0 && info;
      }, "the dead letter");
      expect(dlq.state.messages).toBeGreaterThan(0);
      // stopping waits for the message's handling to end, its dead letter's hook included
      stopped = true;
      await svc.stop();
      const raised = (await openAlerts()).slice(before);
      expect(raised.map((a) => [a.code, a.context.tenantId])).toEqual([["tenant_backup_failed", tenant]]);
    } finally {
      if (!stopped) await svc.stop();
    }
  });
});
