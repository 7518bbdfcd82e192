import { describeError } from "@hesaab/config";
import { openBackend, providersFromEnv, type ProviderEnv, type StorageBackend } from "@hesaab/storage";

/**
 * A dependency the process needs. `critical` ones (Postgres, NATS) make the process not ready when
 * they fail; `provider` ones (the storage clouds) only degrade it while at least one answers, since
 * every write and read already survives one provider being away.
 */
export interface ReadinessCheck {
  name: string;
  kind: "critical" | "provider";
  /** Resolves when the dependency answers; throws (or rejects) when it does not. */
  probe(signal: AbortSignal): Promise<unknown>;
}

export type ReadinessStatus = "ready" | "degraded" | "not_ready";

export interface ReadinessReport {
  status: ReadinessStatus;
  service: string;
  checks: Record<string, { ok: boolean; kind: ReadinessCheck["kind"]; error?: { code: string; message: string } }>;
}

/** How long one probe may take before it counts as down: a hung dependency must not hang the answer. */
const PROBE_TIMEOUT_MS = 3_000;

/** Runs every check at once and tells the status: any critical down → not_ready; every provider down → not_ready; one down → degraded. */
export async function checkReadiness(service: string, checks: ReadinessCheck[], { timeoutMs = PROBE_TIMEOUT_MS } = {}): Promise<ReadinessReport> {
  const results = await Promise.all(checks.map(async (check) => ({ check, error: await runProbe(check, timeoutMs) })));
  const report: ReadinessReport = { status: "ready", service, checks: {} };
  for (const { check, error } of results) report.checks[check.name] = { ok: !error, kind: check.kind, ...(error ? { error } : {}) };
  const providers = results.filter((r) => r.check.kind === "provider");
  const providersDown = providers.filter((r) => r.error).length;
  if (results.some((r) => r.check.kind === "critical" && r.error) || (providers.length > 0 && providersDown === providers.length)) report.status = "not_ready";
  else if (providersDown > 0) report.status = "degraded";
  return report;
}

async function runProbe(check: ReadinessCheck, timeoutMs: number): Promise<{ code: string; message: string } | undefined> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(Object.assign(new Error(`${check.name} did not answer within ${timeoutMs} ms`), { code: "timeout" }));
    }, timeoutMs);
  });
  try {
    await Promise.race([check.probe(abort.signal), timeout]);
    return undefined;
  } catch (err) {
    const { code, message } = describeError(err);
    return { code, message };
  } finally {
    clearTimeout(timer);
  }
}

/** Postgres answers `select 1` (a pool's connect timeout bounds it too). */
export function postgresCheck(name: string, pool: { query(sql: string): Promise<unknown> }): ReadinessCheck {
  return { name, kind: "critical", probe: () => pool.query("select 1") };
}

/** NATS: the connection is open and the server answers a ping (`flush`). */
export function natsCheck(nc: { isClosed(): boolean; flush(): Promise<void> }): ReadinessCheck {
  return {
    name: "nats",
    kind: "critical",
    probe: async () => {
      if (nc.isClosed()) throw new Error("the nats connection is closed");
      await nc.flush();
    },
  };
}

/**
 * A storage provider answers a HEAD of a key that need not exist (a missing object is an answer).
 * Give it a backend opened without the retry decorator: readiness wants the provider's state now,
 * not after a round of backoffs.
 */
export function providerCheck(backend: Pick<StorageBackend, "name" | "head">): ReadinessCheck {
  return { name: backend.name, kind: "provider", probe: (signal) => backend.head("readyz-probe", { signal }) };
}

/** One provider check per configured provider (B2_*, R2_*), each on a backend of its own without retries. */
export function providerChecksFromEnv(env: ProviderEnv): ReadinessCheck[] {
  return providersFromEnv(env).map((config) => providerCheck(openBackend({ backend: config, retry: false, metrics: false }).backend));
}
