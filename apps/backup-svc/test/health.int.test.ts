// backup-svc's health port on the real stack: Postgres and the R2 endpoint reached through TCP
// proxies the test stops (the same real services, cut off for this process alone).
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "@hesaab/db";
import { createPlatformSchema, generatePlatform, type GenerateResult } from "@hesaab/platform";
import { freshDatabase, metricValue, observeHealthPort, scrapeMetrics, tcpProxy, testEnv, waitFor, type FreshDatabase, type TcpProxy } from "@hesaab/testkit";
import { loadEnv } from "../src/env";
import { startBackupService, type RunningService } from "../src/service";

let db: FreshDatabase;
let postgres: TcpProxy;
let s3: TcpProxy;
let service: RunningService;
let platform: GenerateResult;

beforeAll(async () => {
  db = await freshDatabase("bsvc_health");
  await createPlatformSchema({ url: db.url });
  platform = await generatePlatform({ url: db.url, tenants: 2, scale: 0.02, seed: 11 });
  await migrate({ url: db.url });
  postgres = await tcpProxy(db.url);
  s3 = await tcpProxy(testEnv().R2_ENDPOINT_URL!);
  service = await startBackupService(
    loadEnv({
      ...testEnv(),
      PLATFORM_DATABASE_URL: postgres.url,
      BACKUP_DATABASE_URL: postgres.url,
      R2_ENDPOINT_URL: s3.url,
      HESAAB_BUS_PREFIX: `H${randomBytes(3).toString("hex")}`,
      BACKUP_SCHEDULE_ENABLED: "false",
      BACKUP_SVC_HTTP_PORT: "0",
      DATABASE_CONNECT_TIMEOUT_MS: "2000",
    }),
    { name: "backup-svc-health" },
  );
});
afterAll(async () => {
  await service?.bus.deleteStreams().catch(() => {});
  await service?.stop();
  await postgres?.close();
  await s3?.close();
  await db?.drop();
});

describe("backup-svc health port", () => {
  it("serves /metrics as Prometheus text; /readyz degraded without R2, not ready without Postgres, ready again after", async () => {
    const seen = await observeHealthPort(service.health.url, { postgres, s3 });
    expect(seen.healthz).toBe(200);
    expect(seen.ready).toMatchObject({ status: 200, body: { status: "ready" } });
    expect(Object.keys(seen.ready.body.checks).sort()).toEqual(["b2", "catalog_db", "nats", "platform_db", "r2"]);
    // the backup metrics declared before any backup ran (a dashboard finds them at zero, not missing)
    expect(seen.metrics.get("hesaab_backups_started_total")?.type).toBe("counter");
    expect(seen.metrics.get("hesaab_backup_duration_seconds")?.type).toBe("histogram");
    expect(seen.metrics.get("hesaab_customer_exports_requested_total")?.type).toBe("counter");
    expect(metricValue(seen.metrics, "hesaab_dependency_up", { dependency: "r2", service: "backup-svc-health" })).toBe(1);
    expect(seen.oneProviderDown).toMatchObject({ status: 200, body: { status: "degraded", checks: { r2: { ok: false }, b2: { ok: true } } } });
    expect(seen.postgresDown).toMatchObject({ status: 503, body: { status: "not_ready", checks: { catalog_db: { ok: false } } } });
    expect(seen.healthzPostgresDown).toBe(200);
    expect(seen.recovered).toMatchObject({ status: 200, body: { status: "ready" } });
  });

  it("counts a real night: backups started and finished, their duration and bytes, every provider request", async () => {
    const active = platform.tenants.filter((t) => t.status === "active").length;
    await service.bus.publish("backup.tenant.requested.v1", { all: true, purpose: "on_demand", requestedBy: "test:metrics" });
    const metrics = await waitFor(async () => {
      const m = await scrapeMetrics(`${service.health.url}/metrics`);
      return metricValue(m, "hesaab_backups_finished_total", { type: "tenant", outcome: "completed" }) >= active && m;
    }, "every active tenant's backup counted");
    expect(metricValue(metrics, "hesaab_backups_started_total", { type: "tenant" })).toBeGreaterThanOrEqual(active);
    expect(metricValue(metrics, "hesaab_backup_duration_seconds", { type: "tenant" })).toBeGreaterThanOrEqual(active);
    expect(metricValue(metrics, "hesaab_backup_stored_bytes_total", { type: "tenant" })).toBeGreaterThan(0);
    expect(metricValue(metrics, "hesaab_backup_source_bytes_total", { type: "tenant" })).toBeGreaterThan(0);
    expect(metricValue(metrics, "hesaab_backup_provider_uploads_total", { provider: "r2", outcome: "ok" })).toBeGreaterThanOrEqual(active);
    // the storage decorator's requests, through the process-wide observer (the backends tenant-backup opened)
    expect(metricValue(metrics, "hesaab_storage_request_duration_seconds", { provider: "b2", op: "put", outcome: "ok" })).toBeGreaterThan(0);
    expect(metricValue(metrics, "hesaab_storage_transfer_bytes_total", { provider: "r2", op: "put" })).toBeGreaterThan(0);
    // the work queues' depth, per consumer: the night's jobs all taken and acknowledged
    const queue = (name: string) => metrics.get(name)?.samples.filter((s) => s.labels.consumer === "backup-svc_cmd_backup_all") ?? [];
    expect(queue("hesaab_queue_pending_messages").map((s) => s.value)).toEqual([0]);
    expect(queue("hesaab_queue_unacked_messages")).toHaveLength(1);
    // no tenant id in any label
    const ids = new Set(platform.tenants.map((t) => t.id));
    for (const family of metrics.values()) for (const sample of family.samples) for (const v of Object.values(sample.labels)) expect(ids.has(v)).toBe(false);
  });
});
