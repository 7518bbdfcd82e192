import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, silentLogger, type Bus } from "@hesaab/bus";
import { Secret } from "@hesaab/config";
import type { Message } from "@hesaab/contracts";
import { KeyRing } from "@hesaab/crypto";
import { alerts, listBackupRecords, migrate, openCatalog, type Catalog } from "@hesaab/db";
import { listDisasterBackups } from "@hesaab/dr";
import { openBackend, type OpenedBackend } from "@hesaab/storage";
import { freshDatabase, testProviders, uniquePrefix, type FreshDatabase } from "@hesaab/testkit";
import { startDrService, type DrService } from "../src/service";

// The platform database here is the catalog itself (the backup schema is a database like any other),
// which is also how production runs it: the catalog lives in the platform database.
let database: FreshDatabase;
let catalog: Catalog;
let bus: Bus;
const events: Message[] = [];
const prefix = `T${randomBytes(5).toString("hex")}`;
const keyRing = new KeyRing({ drMasterKeys: new Map([[1, new Secret(randomBytes(32))]]) });

function provider(name: "b2" | "r2"): OpenedBackend {
  const p = testProviders()[name];
  return openBackend({
    backend: {
      kind: "s3",
      name,
      endpoint: p.endpoint,
      bucket: p.bucket,
      region: p.region,
      forcePathStyle: true,
      credentials: { accessKeyId: new Secret(p.accessKeyId), secretAccessKey: new Secret(p.secretAccessKey) },
    },
    faults: true,
    retry: { attempts: 1 },
  });
}
const b2 = provider("b2");
const r2 = provider("r2");

async function waitFor(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const ofType = (type: string) => events.filter((e) => e.type === type);

function service(opts: { root: string; schedule?: { cron: string; timeZone: string }; maxAttempts?: number }): Promise<DrService> {
  return startDrService({
    bus,
    catalog: catalog.db,
    keyRing,
    backends: [b2.backend, r2.backend],
    platformUrl: database.url,
    configFiles: [],
    gitCommit: "feedbeef",
    retentionDays: 90,
    root: opts.root,
    schedule: opts.schedule ?? false,
    log: silentLogger,
    maxAttempts: opts.maxAttempts ?? 2,
    backoffMs: [100],
  });
}

beforeAll(async () => {
  database = await freshDatabase("drsvc");
  await migrate({ url: database.url });
  catalog = openCatalog({ url: database.url, max: 4 });
  bus = await connectBus({ url: process.env.NATS_URL ?? "nats://127.0.0.1:4222", name: "dr-svc-test", prefix, log: silentLogger });
  await bus.ensureStreams();
  await bus.consumeEvents({ durable: "dr-svc-test-events", filter: "evt.>", deliverPolicy: "all", handler: async (m) => void events.push(m) });
});
afterAll(async () => {
  await bus.deleteStreams().catch(() => {});
  await bus.close();
  await catalog.close();
  await database.drop();
});

describe("dr-svc", () => {
  it("runs a requested backup once per period and publishes its completion", async () => {
    const root = uniquePrefix("drsvc");
    const svc = await service({ root });
    try {
      await bus.publish("dr.backup.requested.v1", { purpose: "on_demand", period: "p-1", requestedBy: "test" });
      await bus.publish("dr.backup.requested.v1", { purpose: "on_demand", period: "p-1", requestedBy: "test" }); // same period: skipped
      await bus.publish("dr.backup.requested.v1", { requestedBy: "test" });
      await waitFor(() => ofType("dr.backup.completed.v1").length === 2, "two completed events");
    } finally {
      await svc.stop();
    }
    const completed = ofType("dr.backup.completed.v1").map((e) => (e as Extract<Message, { type: "dr.backup.completed.v1" }>).data);
    expect(completed[0]).toMatchObject({
      status: "completed",
      gitCommit: "feedbeef",
      providers: [
        { provider: "b2", ok: true },
        { provider: "r2", ok: true },
      ],
    });
    const records = await listBackupRecords(catalog.db, { type: "disaster" });
    expect(records.map((r) => `${r.status}:${r.period}`).sort()).toEqual(["completed:null", "completed:p-1"]);
    expect((await listDisasterBackups({ backends: [b2.backend, r2.backend], root })).backups.map((b) => b.completeIn)).toEqual([
      ["b2", "r2"],
      ["b2", "r2"],
    ]);
  });

  it("two replicas with the nightly schedule: the period fires once", async () => {
    const root = uniquePrefix("drsvc-sched");
    const before = ofType("dr.backup.completed.v1").length;
    const schedule = { cron: "0 * * * *", timeZone: "UTC" }; // its latest fire is always within the 1 h grace window: fires at start
    const [a, b] = await Promise.all([service({ root, schedule }), service({ root, schedule })]);
    try {
      await waitFor(() => ofType("dr.backup.completed.v1").length === before + 1, "the scheduled backup");
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    expect(ofType("dr.backup.completed.v1")).toHaveLength(before + 1);
    const scheduled = (await listBackupRecords(catalog.db, { type: "disaster" })).filter((r) => r.purpose === "scheduled");
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0]!.period).toMatch(/^\d{4}-\d{2}-\d{2}/);
  });

  it("both providers down: a failed event per attempt, then an alert; no completed record", async () => {
    const root = uniquePrefix("drsvc-fail");
    b2.faults!.down();
    r2.faults!.down();
    const svc = await service({ root, maxAttempts: 2 });
    try {
      await bus.publish("dr.backup.requested.v1", { requestedBy: "test", period: "p-fail" });
      await waitFor(() => ofType("alert.raised.v1").length === 1, "the alert");
    } finally {
      await svc.stop();
      b2.faults!.clear();
      r2.faults!.clear();
    }
    const failed = ofType("dr.backup.failed.v1").map((e) => (e as Extract<Message, { type: "dr.backup.failed.v1" }>).data);
    expect(failed.map((f) => [f.attempt, f.final])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(failed[1]!.error.code).toBe("storage_all_providers_failed");
    expect(failed[0]!.backupId).toMatch(/^bkp_/);
    expect(failed[0]!.backupId).not.toBe(failed[1]!.backupId);
    const [alert] = await catalog.db.select().from(alerts);
    expect(alert).toMatchObject({ severity: "critical", code: "dr_backup_failed" });
    const records = (await listBackupRecords(catalog.db, { type: "disaster" })).filter((r) => r.period === "p-fail");
    expect(records.map((r) => r.status)).toEqual(["failed", "failed"]);
  });
});
