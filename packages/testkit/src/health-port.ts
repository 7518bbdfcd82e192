import { parsePrometheusText, type MetricFamily } from "./metrics";
import type { TcpProxy } from "./tcp-proxy";

export interface ReadyzAnswer {
  status: number;
  body: { status: string; checks: Record<string, { ok: boolean; kind: string }> };
}

export async function readyz(baseUrl: string): Promise<ReadyzAnswer> {
  const res = await fetch(`${baseUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as ReadyzAnswer["body"] };
}

/** What a service's health port answered, up and with its dependencies cut one after the other. */
export interface HealthPortObservations {
  healthz: number;
  ready: ReadyzAnswer;
  metrics: Map<string, MetricFamily>;
  /** With the S3 endpoint behind `s3` stopped. */
  oneProviderDown: ReadyzAnswer;
  /** With Postgres behind `postgres` stopped (the S3 endpoint back). */
  postgresDown: ReadyzAnswer;
  /** `/healthz` while Postgres was away: liveness must not depend on it. */
  healthzPostgresDown: number;
  /** Everything back. */
  recovered: ReadyzAnswer;
}

/**
 * The health-port scenario every service's test runs: `/healthz`, `/readyz` and `/metrics` (parsed)
 * with everything up; then one S3 endpoint stopped; then Postgres stopped; then both back.
 * The proxies are started again even when an answer throws.
 */
export async function observeHealthPort(baseUrl: string, { postgres, s3 }: { postgres: TcpProxy; s3: TcpProxy }): Promise<HealthPortObservations> {
  const healthz = (await fetch(`${baseUrl}/healthz`)).status;
  const ready = await readyz(baseUrl);
  const metricsRes = await fetch(`${baseUrl}/metrics`);
  if (!(metricsRes.headers.get("content-type") ?? "").startsWith("text/plain")) throw new Error("/metrics is not Prometheus text");
  const metrics = parsePrometheusText(await metricsRes.text());
  let oneProviderDown: ReadyzAnswer;
  await s3.stop();
  try {
    oneProviderDown = await readyz(baseUrl);
  } finally {
    await s3.start();
  }
  let postgresDown: ReadyzAnswer;
  let healthzPostgresDown: number;
  await postgres.stop();
  try {
    postgresDown = await readyz(baseUrl);
    healthzPostgresDown = (await fetch(`${baseUrl}/healthz`)).status;
  } finally {
    await postgres.start();
  }
  const recovered = await readyz(baseUrl);
  return { healthz, ready, metrics, oneProviderDown, postgresDown, healthzPostgresDown, recovered };
}
