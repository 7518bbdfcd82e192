import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Log } from "@hesaab/contracts";
import type { ServiceMetrics } from "./metrics";
import { checkReadiness, type ReadinessCheck, type ReadinessReport } from "./readiness";

export interface HealthServerOptions {
  service: string;
  /** Default 127.0.0.1 (`HESAAB_HTTP_HOST`): metrics and health are for the host's scraper, not the world. */
  host?: string;
  /** 0 picks a free port (tests; the "http listening" log line tells which). */
  port: number;
  metrics: ServiceMetrics;
  checks: ReadinessCheck[];
  log: Log;
}

export interface HealthServer {
  readonly port: number;
  /** `http://host:port` */
  readonly url: string;
  readiness(): Promise<ReadinessReport>;
  close(): Promise<void>;
}

/**
 * The small HTTP port every service opens (node:http, nothing else is served on it):
 *  - `GET /metrics`: Prometheus text of the process's registry;
 *  - `GET /healthz`: 200 while the process runs (a liveness probe must not depend on anything else);
 *  - `GET /readyz`: JSON `ReadinessReport`; 200 ready or degraded, 503 not_ready.
 */
export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const { metrics, checks, service } = opts;
  const readiness = gaugedReadiness({ service, checks, metrics });
  const server = createServer((req, res) => {
    route(req, res, { metrics, readiness }).catch((err: unknown) => {
      opts.log.error("health endpoint failed", { url: req.url, error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) send(res, 500, { type: "text/plain; charset=utf-8", body: "internal error\n" });
      else res.destroy();
    });
  });
  const host = opts.host ?? "127.0.0.1";
  await listen(server, { host, port: opts.port });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  opts.log.info("http listening", { host, port, url });
  return {
    port,
    url,
    readiness,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** The readiness of `checks`, each result also set on `hesaab_dependency_up`. */
export function gaugedReadiness({
  service,
  checks,
  metrics,
}: {
  service: string;
  checks: ReadinessCheck[];
  metrics: ServiceMetrics;
}): () => Promise<ReadinessReport> {
  return async () => {
    const report = await checkReadiness(service, checks);
    for (const [name, check] of Object.entries(report.checks)) metrics.dependencyUp.set({ dependency: name }, check.ok ? 1 : 0);
    return report;
  };
}

async function route(req: IncomingMessage, res: ServerResponse, ctx: { metrics: ServiceMetrics; readiness: () => Promise<ReadinessReport> }): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, { type: "text/plain; charset=utf-8", body: "only GET\n" });
  if (path === "/healthz") return send(res, 200, { type: "application/json", body: JSON.stringify({ status: "alive" }) });
  if (path === "/readyz") {
    const report = await ctx.readiness();
    return send(res, report.status === "not_ready" ? 503 : 200, { type: "application/json", body: JSON.stringify(report) });
  }
  if (path === "/metrics") {
    await ctx.readiness(); // the dependency gauges say what the scrape saw
    return send(res, 200, { type: ctx.metrics.registry.contentType, body: await ctx.metrics.text() });
  }
  return send(res, 404, { type: "text/plain; charset=utf-8", body: "not found: /metrics, /healthz, /readyz\n" });
}

function send(res: ServerResponse, status: number, { type, body }: { type: string; body: string }): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

function listen(server: Server, at: { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(at.port, at.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
