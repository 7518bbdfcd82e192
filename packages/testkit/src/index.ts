import { randomBytes } from "node:crypto";
import pg from "pg";
import { Secret } from "@hesaab/config";
import { readStackEnv, startS3Endpoint, type S3Endpoint } from "@hesaab/stack";

export { ensureStack, readStackEnv, stopStack, type S3Endpoint } from "@hesaab/stack";

/** The stack's environment (from .stack/env), overlaid with process.env. */
export function testEnv(): Record<string, string> {
  // Tests run side by side (vitest's files, turbo's packages): a service a test starts takes any free
  // health port, never the fixed default another one already holds. A test that wants one sets it.
  const env: Record<string, string> = { ...readStackEnv(), BACKUP_SVC_HTTP_PORT: "0", STORAGE_SVC_HTTP_PORT: "0", DR_SVC_HTTP_PORT: "0" };
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return env;
}

export interface TestProvider {
  name: "b2" | "r2";
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
}

/** Connection settings of the two local S3 endpoints standing in for B2 and R2. */
export function testProviders(): { b2: TestProvider; r2: TestProvider } {
  const env = testEnv();
  const one = (name: "b2" | "r2"): TestProvider => {
    const p = name.toUpperCase();
    const endpoint = env[`${p}_ENDPOINT_URL`];
    if (!endpoint) throw new Error("the local stack is not up: run `pnpm hesaab stack up` (or use @hesaab/testkit's vitest config)");
    return {
      name,
      endpoint,
      bucket: env[`${p}_BUCKET_NAME`]!,
      region: env[`${p}_REGION`] ?? "us-east-1",
      accessKeyId: env[`${p}_ACCESS_KEY_ID`]!,
      secretAccessKey: env[`${p}_SECRET_ACCESS_KEY`]!,
      forcePathStyle: true,
    };
  };
  return { b2: one("b2"), r2: one("r2") };
}

/**
 * One local S3 endpoint as a ready backend config: pass it to `@hesaab/storage`'s `openBackend({ backend })`
 * (it matches `{ kind: "s3" } & S3BackendConfig`; testkit cannot import storage, which dev-depends on it).
 */
export interface TestS3Config {
  kind: "s3";
  name: "b2" | "r2";
  endpoint: string;
  bucket: string;
  region: string;
  forcePathStyle: boolean;
  credentials: { accessKeyId: Secret; secretAccessKey: Secret };
}

/** The backend config of the local s3rver endpoint standing in for `name`, credentials wrapped as Secrets. */
export function testProviderConfig(name: "b2" | "r2"): TestS3Config {
  const { accessKeyId, secretAccessKey, ...p } = testProviders()[name];
  return { kind: "s3", ...p, credentials: { accessKeyId: new Secret(accessKeyId), secretAccessKey: new Secret(secretAccessKey) } };
}

/**
 * A private S3 endpoint (its own s3rver process over `dir`) standing in for `name`, for tests that
 * stop a provider and start it again (`endpoint.stop()` / `start()`) without touching the shared
 * stack. `config` opens it as a backend; `env` holds the `<NAME>_*` variables a service reads.
 */
export async function privateS3Provider(name: "b2" | "r2", dir: string): Promise<{ endpoint: S3Endpoint; config: TestS3Config; env: Record<string, string> }> {
  const shared = testProviders()[name];
  const endpoint = await startS3Endpoint({ dir, bucket: `private-${name}` });
  const p = name.toUpperCase();
  return {
    endpoint,
    config: {
      kind: "s3",
      name,
      endpoint: endpoint.url,
      bucket: endpoint.bucket,
      region: shared.region,
      forcePathStyle: true,
      credentials: { accessKeyId: new Secret(shared.accessKeyId), secretAccessKey: new Secret(shared.secretAccessKey) },
    },
    env: {
      [`${p}_ENDPOINT_URL`]: endpoint.url,
      [`${p}_BUCKET_NAME`]: endpoint.bucket,
      [`${p}_REGION`]: shared.region,
      [`${p}_ACCESS_KEY_ID`]: shared.accessKeyId,
      [`${p}_SECRET_ACCESS_KEY`]: shared.secretAccessKey,
    },
  };
}

/**
 * A pg pool for a test. It listens for errors: an idle connection the server closes (the forced drop
 * at teardown, a terminated backend) leaves the pool instead of becoming an uncaught exception.
 */
export function testPool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool(config);
  pool.on("error", () => {});
  return pool;
}

export const ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export interface FreshDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A new, empty database with a unique name; `drop()` (or `await using`) removes it. */
export async function freshDatabase(prefix = "t"): Promise<FreshDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`.toLowerCase();
  await adminQuery(`create database "${name}"`);
  const drop = async () => {
    // `pool.end()` resolves before its clients' connections have closed: a forced drop then would
    // terminate them, and the FATAL it sends surfaces as the pool's unhandled "error" event. Give
    // connections that are closing a moment to go; force only what is still there after that.
    const deadline = Date.now() + 5_000;
    for (;;) {
      const { rows } = await adminQuery("select count(*)::int as n from pg_stat_activity where datname = $1", [name]);
      if (rows[0].n === 0) break;
      if (Date.now() > deadline) {
        process.stderr.write(`testkit: ${rows[0].n} connection(s) to ${name} still open after 5 s (a pool not ended?): dropping with force\n`);
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    await adminQuery(`drop database if exists "${name}" with (force)`);
  };
  return { name, url: `postgres://postgres@127.0.0.1:5432/${name}`, drop, [Symbol.asyncDispose]: drop };
}

/** `fn` with a connection of its own to the database at `url`, closed after. */
export async function onDatabase<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** One statement on the server's `postgres` database (create and drop databases, roles). */
export function adminQuery(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  return onDatabase(ADMIN_URL, (client) => client.query(sql, params));
}

/**
 * Polls `check` every 25 ms until it returns something truthy, and returns that; throws after
 * `timeoutMs` naming `what`. A safety net for asynchronous work, never a performance assertion.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what = "a condition",
  timeoutMs = 60_000,
): Promise<Exclude<T, false | 0 | "" | null | undefined>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, false | 0 | "" | null | undefined>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A unique prefix for object keys, so tests sharing a bucket never see each other's objects. */
export function uniquePrefix(label = "test"): string {
  return `${label}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}/`;
}
export { raisedErrorCodes, type RaisedCode } from "./error-codes";
export { tcpProxy, type TcpProxy } from "./tcp-proxy";
export { metricValue, parsePrometheusText, scrapeMetrics, type MetricFamily } from "./metrics";
export { observeHealthPort, readyz, type HealthPortObservations, type ReadyzAnswer } from "./health-port";
