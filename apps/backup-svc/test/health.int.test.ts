// backup-svc's health port on the real stack: Postgres and the R2 endpoint reached through TCP
// proxies the test stops (the same real services, cut off for this process alone).
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "@hesaab/db";
import { createPlatformSchema } from "@hesaab/platform";
import { freshDatabase, metricValue, observeHealthPort, tcpProxy, testEnv, type FreshDatabase, type TcpProxy } from "@hesaab/testkit";
import { loadEnv } from "../src/env";
import { startBackupService, type RunningService } from "../src/service";

let db: FreshDatabase;
let postgres: TcpProxy;
let s3: TcpProxy;
let service: RunningService;

beforeAll(async () => {
  db = await freshDatabase("bsvc_health");
  await createPlatformSchema({ url: db.url });
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
});
