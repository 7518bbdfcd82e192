import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, eventPublisher, type Bus } from "@hesaab/bus";
import { newId } from "@hesaab/contracts";
import { insertBackupRecord, listAlertDeliveries, migrate, openCatalog, raiseAlert, redeliverDeadAlerts, type Catalog } from "@hesaab/db";
import { freshDatabase, testEnv, uniquePrefix, waitFor, type FreshDatabase } from "@hesaab/testkit";
import { loadEnv } from "../src/env";
import { startStorageService, type RunningService } from "../src/service";
import { freePort, startSmtp, startWebhook } from "./alert-receivers";

const MASTER = `1:${randomBytes(32).toString("base64")}`;
const WEBHOOK_SECRET = randomBytes(24).toString("hex");
const SMTP = { user: "alerts", pass: randomBytes(12).toString("hex") };
let db: FreshDatabase;
let catalog: Catalog;
const buses: Bus[] = [];

/** A control connection on its own prefix (each test's service has its own streams). */
async function controlBus(prefix: string): Promise<Bus> {
  const bus = await connectBus({ url: testEnv().NATS_URL!, name: "test-control", prefix });
  await bus.ensureStreams();
  buses.push(bus);
  return bus;
}

function envFor(prefix: string, overrides: Record<string, string>) {
  return loadEnv({
    ...testEnv(),
    PLATFORM_DATABASE_URL: db.url,
    BACKUP_DATABASE_URL: db.url,
    BACKUP_MASTER_KEYS: MASTER,
    HESAAB_BUS_PREFIX: prefix,
    STORAGE_KEY_PREFIX: uniquePrefix("alerts"),
    STORAGE_SCHEDULES_ENABLED: "false",
    STORAGE_ACK_WAIT_MS: "5000",
    ...overrides,
  });
}

beforeAll(async () => {
  db = await freshDatabase("alrt");
  await migrate({ url: db.url });
  catalog = openCatalog({ url: db.url, max: 3 });
});
afterAll(async () => {
  for (const bus of buses) {
    await bus.deleteStreams().catch(() => {});
    await bus.close();
  }
  await catalog?.close();
  await db?.drop();
});

describe("alert delivery", () => {
  it("a webhook endpoint that is down: retried with backoff, then dead-lettered (kept); email still goes; the service keeps running; redelivered once it is back", async () => {
    const prefix = `A${randomBytes(3).toString("hex")}`;
    const control = await controlBus(prefix);
    const smtp = await startSmtp(SMTP);
    const port = await freePort(); // nothing listens here yet
    let svc: RunningService | undefined;
    let webhook: Awaited<ReturnType<typeof startWebhook>> | undefined;
    try {
      svc = await startStorageService(
        envFor(prefix, {
          ALERT_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks/hesaab`,
          ALERT_WEBHOOK_SECRET: WEBHOOK_SECRET,
          ALERT_SMTP_URL: smtp.url,
          ALERT_EMAIL_TO: "ops@example.test",
          ALERT_EMAIL_FROM: "backup@example.test",
          ALERT_DELIVERY_ATTEMPTS: "3",
          ALERT_DELIVERY_BACKOFF_MS: "20",
          ALERT_CHECK_INTERVAL_MS: "100",
        }),
        { name: "alerts-down" },
      );
      const raise = (code: string) =>
        raiseAlert({ catalog, publish: eventPublisher(control) }, { severity: "critical", code, message: `${code} for the test`, context: { test: true } });
      const first = (await raise("test_webhook_down"))!;

      const dead = await waitFor(async () => {
        const rows = await listAlertDeliveries(catalog.db, { alertId: first });
        const hook = rows.find((r) => r.channel === "webhook");
        return hook?.status === "dead" && rows.find((r) => r.channel === "email")?.status === "delivered" && hook;
      }, "the webhook dead-lettered and the email delivered");
      expect(dead.attempts).toBe(3);
      expect(dead.lastError).toMatch(/could not be reached/);
      expect(dead.lastError).not.toContain(String(port)); // the target is not in the error (a URL may hold a token)
      expect((dead.payload as { alert: { id: string } }).alert.id).toBe(first);
      expect(smtp.messages).toHaveLength(1);
      expect(smtp.messages[0]).toContain("test_webhook_down");

      // still running: the next alert's email goes out as well
      const second = (await raise("test_still_running"))!;
      await waitFor(
        async () => (await listAlertDeliveries(catalog.db, { alertId: second })).filter((r) => r.status !== "pending").length === 2,
        "the second alert settled",
      );
      expect(smtp.messages).toHaveLength(2);

      // nothing lost: the endpoint is back, the dead deliveries are sent again, signed
      webhook = await startWebhook(WEBHOOK_SECRET, port);
      expect(await redeliverDeadAlerts(catalog.db)).toBe(2);
      await waitFor(() => webhook!.calls.length === 2, "both webhooks delivered");
      expect(webhook.calls.every((c) => c.signed)).toBe(true);
      expect(webhook.calls.map((c) => c.payload.alert.id).sort()).toEqual([first, second].sort());
      // the endpoint answers before the service records the delivery: wait for the records too
      await waitFor(
        async () => (await listAlertDeliveries(catalog.db)).filter((r) => [first, second].includes(r.alertId!)).every((r) => r.status === "delivered"),
        "both redelivered alerts recorded as delivered",
      );
    } finally {
      await svc?.stop();
      await webhook?.close();
      await smtp.close();
    }
  });
});

describe("daily summary", () => {
  it("one summary email per day (its schedule's period), with the day's failures and the open alerts", async () => {
    const prefix = `A${randomBytes(3).toString("hex")}`;
    const control = await controlBus(prefix);
    const smtp = await startSmtp(SMTP);
    const svc = await startStorageService(
      envFor(prefix, {
        ALERT_SMTP_URL: smtp.url,
        ALERT_EMAIL_TO: "ops@example.test",
        ALERT_EMAIL_FROM: "backup@example.test",
        ALERT_CHECK_INTERVAL_MS: "3600000",
      }),
      { name: "summary" },
    );
    try {
      await raiseAlert(
        { catalog, publish: eventPublisher(control) },
        { severity: "warning", code: "test_for_summary", message: "in the summary", group: "test_for_summary" },
      );
      await waitFor(() => smtp.messages.length === 1, "the alert's own email");
      await svc.alerting.summary("2031-04-01");
      await svc.alerting.summary("2031-04-01"); // the same day again: not sent twice
      expect(smtp.messages).toHaveLength(2);
      expect(smtp.messages[1]).toMatch(/daily summary/);
      expect(smtp.messages[1]).toContain("test_for_summary");
      const summaries = (await listAlertDeliveries(catalog.db)).filter((d) => d.kind === "summary");
      expect(summaries.map((d) => [d.key, d.status])).toEqual([["summary:2031-04-01:email", "delivered"]]);
    } finally {
      await svc.stop();
      await smtp.close();
    }
  });
});

describe("storage samples", () => {
  it("one sample per UTC day, whatever the number of checks (the clock injected)", async () => {
    const prefix = `A${randomBytes(3).toString("hex")}`;
    await controlBus(prefix);
    await insertBackupRecord(catalog.db, {
      id: newId("bkp"),
      backupType: "tenant",
      tenantId: "t_sampled",
      filename: "x.sql.gz.bkp1",
      encryptionKeyId: "",
      fileSize: 1234,
      status: "completed",
      providers: { b2: { location: "k", status: "stored", size: 1234 }, r2: { location: "k", status: "stored", size: 1234 } },
    });
    let clock = new Date("2031-03-04T10:00:00Z");
    const far = "0 0 29 2 1"; // the other schedules stay out of the way
    const svc = await startStorageService(
      envFor(prefix, {
        STORAGE_SCHEDULES_ENABLED: "true",
        STORAGE_RECONCILE_CRON: far,
        STORAGE_RETENTION_CRON: far,
        STORAGE_DEEP_VERIFY_CRON: far,
        ALERT_SUMMARY_CRON: far,
        ALERT_CHECK_INTERVAL_MS: "3600000", // only the passes the test runs (and the one at start)
      }),
      { name: "sampler", now: () => clock },
    );
    const days = async () =>
      (
        await catalog.pool.query<{ day: string; n: string }>(
          `select to_char(taken_at at time zone 'UTC', 'YYYY-MM-DD') as day, count(distinct taken_at) as n from backup.storage_samples group by 1 order by 1`,
        )
      ).rows.map((r) => [r.day, Number(r.n)]);
    try {
      await svc.alerting.tick();
      expect(await days()).toEqual([["2031-03-04", 1]]);
      const [total] = (await catalog.pool.query("select bytes from backup.storage_samples where provider = 'b2' and tenant_id is null and backup_type is null"))
        .rows;
      expect(Number(total.bytes)).toBe(1234);
      clock = new Date("2031-03-04T23:59:00Z");
      await svc.alerting.tick();
      await svc.alerting.tick();
      expect(await days()).toEqual([["2031-03-04", 1]]);
      clock = new Date("2031-03-05T00:01:00Z");
      await svc.alerting.tick();
      expect(await days()).toEqual([
        ["2031-03-04", 1],
        ["2031-03-05", 1],
      ]);
    } finally {
      await svc.stop();
    }
  });
});
