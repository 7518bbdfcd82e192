// storage-svc's health port on the real stack: Postgres and the R2 endpoint reached through TCP
// proxies the test stops (the same real services, cut off for this process alone).
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "@hesaab/db";
import { freshDatabase, metricValue, observeHealthPort, tcpProxy, testEnv, type FreshDatabase, type TcpProxy } from "@hesaab/testkit";
import { loadEnv } from "../src/env";
import { startStorageService, type RunningService } from "../src/service";

let db: FreshDatabase;
let postgres: TcpProxy;
let s3: TcpProxy;
let service: RunningService;

beforeAll(async () => {
  db = await freshDatabase("ssvc_health");
  await migrate({ url: db.url });
  postgres = await tcpProxy(db.url);
  s3 = await tcpProxy(testEnv().R2_ENDPOINT_URL!);
  service = await startStorageService(
    loadEnv({
      ...testEnv(),
      PLATFORM_DATABASE_URL: postgres.url,
      BACKUP_DATABASE_URL: postgres.url,
      R2_ENDPOINT_URL: s3.url,
      HESAAB_BUS_PREFIX: `H${randomBytes(3).toString("hex")}`,
      STORAGE_SCHEDULES_ENABLED: "false",
      STORAGE_SVC_HTTP_PORT: "0",
      DATABASE_CONNECT_TIMEOUT_MS: "2000",
    }),
    { name: "storage-svc-health" },
  );
});
afterAll(async () => {
  await service?.bus.deleteStreams().catch(() => {});
  await service?.stop();
  await postgres?.close();
  await s3?.close();
  await db?.drop();
});

describe("storage-svc health port", () => {
  it("serves /metrics as Prometheus text; /readyz degraded without R2, not ready without Postgres, ready again after", async () => {
    const seen = await observeHealthPort(service.health.url, { postgres, s3 });
    expect(seen.healthz).toBe(200);
    expect(seen.ready).toMatchObject({ status: 200, body: { status: "ready" } });
    expect(Object.keys(seen.ready.body.checks).sort()).toEqual(["b2", "catalog_db", "nats", "platform_db", "r2"]);
    // the catalog's analytics as gauges (an empty catalog holds nothing), the storage and bus metrics declared
    expect(seen.metrics.get("hesaab_storage_stored_bytes")?.type).toBe("gauge");
    expect(seen.metrics.get("hesaab_storage_estimated_monthly_cost_usd")?.type).toBe("gauge");
    expect(seen.metrics.get("hesaab_storage_request_duration_seconds")?.type).toBe("histogram");
    expect(metricValue(seen.metrics, "hesaab_dependency_up", { dependency: "r2", service: "storage-svc-health" })).toBe(1);
    expect(seen.oneProviderDown).toMatchObject({ status: 200, body: { status: "degraded", checks: { r2: { ok: false }, b2: { ok: true } } } });
    expect(seen.postgresDown).toMatchObject({ status: 503, body: { status: "not_ready", checks: { catalog_db: { ok: false } } } });
    expect(seen.healthzPostgresDown).toBe(200);
    expect(seen.recovered).toMatchObject({ status: 200, body: { status: "ready" } });
  });
});
