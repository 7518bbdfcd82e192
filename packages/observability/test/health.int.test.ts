// The health port against the real stack: Postgres and one S3 endpoint behind TCP proxies the test
// stops, NATS as it is. /readyz turns degraded with one provider away, not ready with both or with
// Postgres away, and ready again when they return; /metrics stays parseable throughout.
import { connectBus, type Bus } from "@hesaab/bus";
import { openBackend } from "@hesaab/storage";
import { ADMIN_URL, metricValue, scrapeMetrics, tcpProxy, testEnv, testPool, testProviderConfig, type TcpProxy } from "@hesaab/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsCheck, postgresCheck, providerCheck, ServiceMetrics, silentLog, startHealthServer, type HealthServer } from "../src";

let pgProxy: TcpProxy;
let r2Proxy: TcpProxy;
let pool: ReturnType<typeof testPool>;
let bus: Bus;
let server: HealthServer;

beforeAll(async () => {
  pgProxy = await tcpProxy(ADMIN_URL);
  r2Proxy = await tcpProxy(testProviderConfig("r2").endpoint);
  pool = testPool({ connectionString: pgProxy.url, connectionTimeoutMillis: 2000 });
  bus = await connectBus({ url: testEnv().NATS_URL!, name: "health-test" });
  const backend = (name: "b2" | "r2", endpoint?: string) =>
    openBackend({ backend: { ...testProviderConfig(name), ...(endpoint ? { endpoint } : {}) }, retry: false, metrics: false }).backend;
  server = await startHealthServer({
    service: "health-test",
    port: 0,
    metrics: new ServiceMetrics({ service: "health-test" }),
    checks: [postgresCheck("catalog_db", pool), natsCheck(bus.nc), providerCheck(backend("b2")), providerCheck(backend("r2", r2Proxy.url))],
    log: silentLog,
  });
});
afterAll(async () => {
  await server?.close();
  await bus?.close();
  await pool?.end();
  await pgProxy?.close();
  await r2Proxy?.close();
});

async function readyz(): Promise<{ status: number; body: { status: string; checks: Record<string, { ok: boolean }> } }> {
  const res = await fetch(`${server.url}/readyz`);
  return { status: res.status, body: (await res.json()) as never };
}

describe("health port", () => {
  it("/healthz answers while the process runs; /readyz is ready with every dependency up", async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const r = await readyz();
    expect(r).toMatchObject({ status: 200, body: { status: "ready" } });
    expect(Object.values(r.body.checks).every((c) => c.ok)).toBe(true);
  });

  it("/metrics is Prometheus text with the default metrics and the dependency gauges", async () => {
    const m = await scrapeMetrics(`${server.url}/metrics`);
    expect(m.has("process_cpu_user_seconds_total")).toBe(true);
    expect(metricValue(m, "hesaab_dependency_up", { dependency: "catalog_db" })).toBe(1);
    expect(metricValue(m, "hesaab_dependency_up", { dependency: "r2" })).toBe(1);
  });

  it("one S3 endpoint stopped: degraded (200), ready again once it is back", async () => {
    await r2Proxy.stop();
    try {
      const r = await readyz();
      expect(r.status).toBe(200);
      expect(r.body.status).toBe("degraded");
      expect(r.body.checks.r2!.ok).toBe(false);
      expect(r.body.checks.b2!.ok).toBe(true);
      expect(metricValue(await scrapeMetrics(`${server.url}/metrics`), "hesaab_dependency_up", { dependency: "r2" })).toBe(0);
    } finally {
      await r2Proxy.start();
    }
    expect((await readyz()).body.status).toBe("ready");
  });

  it("Postgres away: not ready (503), ready again once it is back", async () => {
    await pgProxy.stop();
    try {
      const r = await readyz();
      expect(r.status).toBe(503);
      expect(r.body.status).toBe("not_ready");
      expect(r.body.checks.catalog_db!.ok).toBe(false);
    } finally {
      await pgProxy.start();
    }
    const again = await readyz();
    expect(again.status).toBe(200);
  });

  it("unknown paths and methods are refused plainly", async () => {
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { method: "POST" })).status).toBe(405);
  });
});
