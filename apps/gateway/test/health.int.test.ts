// The gateway's /healthz, /readyz and /metrics on its own Fastify port, with Postgres reached
// through a TCP proxy the test stops.
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "@hesaab/db";
import { freshDatabase, metricValue, readyz, scrapeMetrics, tcpProxy, testEnv, type FreshDatabase, type TcpProxy } from "@hesaab/testkit";
import { loadEnv } from "../src/env";
import { startGateway, type RunningGateway } from "../src/gateway";

let db: FreshDatabase;
let postgres: TcpProxy;
let gateway: RunningGateway;

beforeAll(async () => {
  db = await freshDatabase("gw_health");
  await migrate({ url: db.url });
  postgres = await tcpProxy(db.url);
  const env = {
    ...testEnv(),
    PLATFORM_DATABASE_URL: postgres.url,
    BACKUP_DATABASE_URL: postgres.url,
    HESAAB_BUS_PREFIX: `GH${randomBytes(3).toString("hex")}`,
    GATEWAY_PORT: "0",
    GATEWAY_LOG_LEVEL: "warn",
    DATABASE_CONNECT_TIMEOUT_MS: "2000",
  };
  gateway = await startGateway(loadEnv(env), { logStream: new Writable({ write: (_c, _e, cb) => cb() }) });
});
afterAll(async () => {
  await gateway?.stop();
  await postgres?.close();
  await db?.drop();
});

describe("gateway health", () => {
  it("answers /healthz, /readyz and /metrics; not ready (503) while Postgres is away, ready again after", async () => {
    expect((await fetch(`${gateway.address}/healthz`)).status).toBe(200);
    const ready = await readyz(gateway.address);
    expect(ready).toMatchObject({ status: 200, body: { status: "ready", service: "gateway" } });
    expect(Object.keys(ready.body.checks).sort()).toEqual(["catalog_db", "nats", "platform_db"]);
    const metrics = await scrapeMetrics(`${gateway.address}/metrics`);
    expect(metricValue(metrics, "hesaab_dependency_up", { dependency: "catalog_db", service: "gateway" })).toBe(1);
    expect(metrics.get("hesaab_customer_exports_served_total")?.type).toBe("counter");
    await postgres.stop();
    try {
      expect(await readyz(gateway.address)).toMatchObject({ status: 503, body: { status: "not_ready", checks: { catalog_db: { ok: false } } } });
      expect((await fetch(`${gateway.address}/healthz`)).status).toBe(200);
    } finally {
      await postgres.start();
    }
    expect((await readyz(gateway.address)).status).toBe(200);
  });
});
