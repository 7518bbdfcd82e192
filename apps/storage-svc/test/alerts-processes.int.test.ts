import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, type Bus } from "@hesaab/bus";
import { newId } from "@hesaab/contracts";
import { migrate, openCatalog, type Catalog } from "@hesaab/db";
import { createPlatformSchema, generatePlatform, type GenerateResult } from "@hesaab/platform";
import { requestCustomerExport } from "@hesaab/tenant-backup";
import { freshDatabase, testEnv, testPool, waitFor, type FreshDatabase } from "@hesaab/testkit";
import { startSmtp, startWebhook } from "./alert-receivers";

// The services as real processes (their main.ts), their stdout and stderr captured: a backup failing
// after its retries is delivered once (webhook signed, email received), counted when it fails again,
// resolved by the next good backup; then a restore and a customer export; and no configured secret
// appears in any line any of them wrote.

const appsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const prefix = `P${randomBytes(3).toString("hex")}`;
const MASTER = `1:${randomBytes(32).toString("base64")}`;
const DR = `1:${randomBytes(32).toString("base64")}`;
const WEBHOOK_SECRET = `whsec-${randomBytes(20).toString("hex")}`;
const SMTP = { user: "alerts", pass: `smtp-${randomBytes(12).toString("hex")}` };
const SESSION_SECRET = `sess-${randomBytes(24).toString("hex")}`;

let db: FreshDatabase;
let platform: GenerateResult;
let pool: ReturnType<typeof testPool>;
let catalog: Catalog;
let control: Bus;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
let webhook: Awaited<ReturnType<typeof startWebhook>>;
let dataDir: string;
const logs: string[] = [];
const children = new Set<ChildProcess>();

function baseEnv(): Record<string, string> {
  return {
    ...testEnv(),
    PLATFORM_DATABASE_URL: db.url,
    BACKUP_DATABASE_URL: db.url,
    HESAAB_BUS_PREFIX: prefix,
    HESAAB_DATA_DIR: dataDir,
    BACKUP_MASTER_KEYS: MASTER,
    DR_MASTER_KEYS: DR,
    ADMIN_SESSION_SECRET: SESSION_SECRET,
    TENANT_SESSION_SECRET: SESSION_SECRET,
    ALERT_WEBHOOK_URL: webhook.url,
    ALERT_WEBHOOK_SECRET: WEBHOOK_SECRET,
    ALERT_SMTP_URL: smtp.url,
    ALERT_EMAIL_TO: "ops@example.test",
    ALERT_EMAIL_FROM: "backup@example.test",
  };
}

/** Starts an app's main.ts; resolves once it says it runs. Every line it writes lands in `logs`. */
async function startApp(app: "backup-svc" | "storage-svc", env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: path.join(appsDir, app),
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let out = "";
  const ready = new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${app} exited (${code}) before it ran:\n${out}`)));
    for (const stream of [child.stdout, child.stderr]) {
      stream.on("data", (c: Buffer) => {
        const text = c.toString("utf8");
        logs.push(`[${app}] ${text}`);
        out += text;
        if (out.includes(`${app} running`)) resolve();
      });
    }
  });
  await ready;
  return child;
}

async function stopApp(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
  children.delete(child);
}

beforeAll(async () => {
  db = await freshDatabase("alproc");
  await createPlatformSchema({ url: db.url });
  platform = await generatePlatform({ url: db.url, tenants: 3, scale: 0.05, seed: 11 });
  await migrate({ url: db.url });
  pool = testPool({ connectionString: db.url });
  catalog = openCatalog({ url: db.url, max: 2 });
  control = await connectBus({ url: testEnv().NATS_URL!, name: "test-control", prefix });
  await control.ensureStreams();
  smtp = await startSmtp(SMTP);
  webhook = await startWebhook(WEBHOOK_SECRET);
  dataDir = await mkdtemp(path.join(os.tmpdir(), "alerts-proc-"));
});
afterAll(async () => {
  if (process.env.ALERTS_TEST_LOG) await writeFile(process.env.ALERTS_TEST_LOG, logs.join("")); // the services' lines, to read after a failure
  for (const child of children) child.kill("SIGKILL");
  await control?.deleteStreams().catch(() => {});
  await control?.close();
  await webhook?.close();
  await smtp?.close();
  await catalog?.close();
  await pool?.end();
  await db?.drop();
});

const far = "0 0 29 2 1"; // the storage schedules stay out of the way

describe("alerts across the services (real processes)", () => {
  it("a backup failing after its retries: one webhook (signed) and one email; counted when it fails again; resolved by the next good backup; no secret in any log line", async () => {
    const tenant = platform.tenants.find((t) => t.status === "active")!.id;
    const storage = await startApp("storage-svc", {
      ...baseEnv(),
      STORAGE_RECONCILE_CRON: far,
      STORAGE_RETENTION_CRON: far,
      STORAGE_DEEP_VERIFY_CRON: far,
      ALERT_SUMMARY_CRON: far,
      ALERT_CHECK_INTERVAL_MS: "200",
      ALERT_DELIVERY_BACKOFF_MS: "50",
    });
    const backupEnv = { ...baseEnv(), BACKUP_SCHEDULE_ENABLED: "false", BACKUP_ACK_WAIT_MS: "2000", BACKUP_MAX_DELIVER: "2" };
    // the platform unreachable (nothing listens on port 9): every attempt fails, retryably. (Both clouds
    // down is no longer a failure: the sealed artifact waits in the local spool.)
    const doomed = await startApp("backup-svc", { ...backupEnv, PLATFORM_DATABASE_URL: "postgresql://postgres@127.0.0.1:9/platform" });
    const job = () =>
      control.publish(
        "backup.tenant.job.v1",
        { tenantId: tenant, purpose: "on_demand", requestedBy: "test" },
        { msgId: `job-${randomBytes(4).toString("hex")}` },
      );
    const alertRows = async () =>
      (
        await pool.query<{ id: string; code: string; occurrences: number; resolved_at: Date | null }>(
          "select id, code, occurrences, resolved_at from backup.alerts order by raised_at",
        )
      ).rows;
    const dlq = async () => (await control.jsm.streams.info(`${prefix}_HESAAB_DLQ`)).state.messages;

    await job();
    await waitFor(() => webhook.calls.length === 1 && smtp.messages.length === 1, "the alert delivered", 90_000);
    const [raised] = webhook.calls;
    expect(raised!.signed).toBe(true);
    expect(raised!.payload.event).toBe("alert.raised");
    expect(raised!.payload.alert.code).toBe("tenant_backup_failed");
    expect(raised!.payload.alert.context.tenantId).toBe(tenant);
    expect(smtp.messages[0]).toContain("tenant_backup_failed");
    expect(smtp.messages[0]).toContain(tenant);

    // the same failure again: the open alert counts it, nothing new is raised or sent
    await job();
    await waitFor(
      async () => (await alertRows())[0]?.occurrences === 2 && (await dlq()) === 2,
      "the second failure counted and both jobs dead-lettered",
      90_000,
    );
    const afterTwo = await alertRows();
    expect(afterTwo.map((a) => a.code)).toEqual(["tenant_backup_failed"]); // no dead-letter alert besides it either
    const deliveries = (await pool.query("select kind, channel from backup.alert_deliveries order by id")).rows;
    expect(deliveries).toEqual([
      { kind: "raised", channel: "webhook" },
      { kind: "raised", channel: "email" },
    ]);
    await stopApp(doomed);

    // the next good backup resolves it (and says so on both channels)
    const healthy = await startApp("backup-svc", backupEnv);
    await job();
    await waitFor(async () => (await alertRows())[0]?.resolved_at, "the alert resolved", 90_000);
    await waitFor(() => webhook.calls.length === 2 && smtp.messages.length === 2, "the resolution delivered");
    expect(webhook.calls[1]!.signed).toBe(true);
    expect(webhook.calls[1]!.payload.event).toBe("alert.resolved");
    expect(webhook.calls[1]!.payload.alert).toMatchObject({ id: raised!.payload.alert.id, occurrences: 2 });

    // a restore and a customer export, for the logs
    const operationId = newId("rst");
    await control.publish("restore.requested.v1", { operationId, tenantIds: [tenant], requestedBy: "test" });
    const restore = await waitFor(
      async () => {
        const [row] = (await pool.query("select status, error_message, outcomes from backup.restore_operations where id = $1", [operationId])).rows;
        return row && !["pending", "verifying", "snapshotting", "restoring"].includes(row.status) && row;
      },
      "the restore",
      90_000,
    );
    expect(restore, JSON.stringify(restore)).toMatchObject({ status: "completed" });
    const exportDeps = { platform: pool, catalog, keyRing: undefined as never, exportDir: path.join(dataDir, "exports") };
    const { export: requested } = await requestCustomerExport(exportDeps, { tenantId: tenant, requestedBy: "user:alerts" });
    await control.publish("export.customer.requested.v1", { exportId: requested.id, tenantId: tenant, requestedBy: "user:alerts" });
    await waitFor(
      async () => (await pool.query("select status from backup.customer_exports where id = $1", [requested.id])).rows[0]?.status === "ready",
      "the export",
      90_000,
    );
    await stopApp(healthy);
    await stopApp(storage);

    // the secret grep: every configured secret value, none in any captured line
    const env = baseEnv();
    const secrets = [
      ...[MASTER, DR].map((k) => k.split(":")[1]!),
      WEBHOOK_SECRET,
      SMTP.pass,
      SESSION_SECRET,
      ...["B2_SECRET_ACCESS_KEY", "R2_SECRET_ACCESS_KEY"]
        .map((k) => env[k])
        // the local S3 endpoints' fixed secret is also their access key id, which may be named: checked only when it differs
        .filter((v): v is string => Boolean(v) && v !== env[`${v === env.B2_SECRET_ACCESS_KEY ? "B2" : "R2"}_ACCESS_KEY_ID`]),
    ];
    const text = logs.join("");
    expect(text).toContain("storage-svc running"); // the capture works
    expect(text).toContain("backup-svc running");
    const lines = text.split("\n");
    for (const secret of secrets) {
      expect(lines.filter((l) => l.includes(secret))).toEqual([]);
    }
  });
});
