import { Secret } from "@hesaab/config";
import { StorageError } from "./errors";
import type { StorageBackend } from "./backend";
import { fsBackend, type FsBackendConfig } from "./backends/fs";
import { s3Backend, type S3BackendConfig } from "./backends/s3";
import { withFaults, type FaultController } from "./decorators/fault";
import { withLimit, type LimitOptions } from "./decorators/limit";
import { withMetrics, type MeteredBackend, type MetricsOptions } from "./decorators/metrics";
import { withKeyPrefix } from "./decorators/prefix";
import { withRetry, type RetryOptions } from "./decorators/retry";

export type BackendConfig = ({ kind: "s3" } & S3BackendConfig) | ({ kind: "fs" } & FsBackendConfig);

export interface OpenBackendOptions {
  backend: BackendConfig;
  /** Retry decorator options; `false` to leave it out. Default on with its defaults. */
  retry?: RetryOptions | false;
  /** Concurrency limit; `false` to leave it out. Default 8 operations at once. */
  limit?: LimitOptions | false;
  /** Metrics decorator options; `false` to leave it out. Default on. */
  metrics?: MetricsOptions | false;
  /** Put a fault injector right next to the real backend (tests). Default false. */
  faults?: boolean;
  /** Keep every key under this folder of the bucket (see `withKeyPrefix`). Default none. */
  keyPrefix?: string;
}

export interface OpenedBackend {
  /** The whole chain; use this one. */
  backend: StorageBackend;
  /** The metrics decorator, to read counters (absent with `metrics: false`). */
  metrics: MeteredBackend | undefined;
  /** The fault injector's controls (only with `faults: true`). */
  faults: FaultController | undefined;
}

/**
 * Build a backend and its decorators, in one place and one order (restic's wrapBackend):
 *
 *     retry → limit → metrics → [fault] → [key prefix] → s3 | fs
 *
 * Retry is outermost, so a backoff sleep does not hold a concurrency slot and every attempt is
 * counted by metrics; faults sit next to the real backend, so injected failures look exactly like
 * provider failures to everything above them.
 */
export function openBackend(opts: OpenBackendOptions): OpenedBackend {
  const { backend: config } = opts;
  let backend: StorageBackend = config.kind === "s3" ? s3Backend(config) : fsBackend(config);
  if (opts.keyPrefix) backend = withKeyPrefix(backend, opts.keyPrefix);
  let faults: FaultController | undefined;
  if (opts.faults) {
    const faulty = withFaults(backend);
    faults = faulty.faults;
    backend = faulty;
  }
  let metrics: MeteredBackend | undefined;
  if (opts.metrics !== false) {
    metrics = withMetrics(backend, opts.metrics ?? {});
    backend = metrics;
  }
  if (opts.limit !== false) backend = withLimit(backend, opts.limit ?? {});
  if (opts.retry !== false) backend = withRetry(backend, opts.retry ?? {});
  return { backend, metrics, faults };
}

/** The parsed B2_* / R2_* variables (the output of `envPieces.b2` / `envPieces.r2` from @hesaab/config). */
export interface ProviderEnv {
  B2_BUCKET_NAME?: string | undefined;
  B2_ENDPOINT_URL?: string | undefined;
  B2_ACCESS_KEY_ID?: Secret | undefined;
  B2_SECRET_ACCESS_KEY?: Secret | undefined;
  B2_REGION?: string | undefined;
  B2_FORCE_PATH_STYLE?: boolean | undefined;
  R2_BUCKET_NAME?: string | undefined;
  R2_ENDPOINT_URL?: string | undefined;
  R2_ACCESS_KEY_ID?: Secret | undefined;
  R2_SECRET_ACCESS_KEY?: Secret | undefined;
  R2_REGION?: string | undefined;
  R2_FORCE_PATH_STYLE?: boolean | undefined;
}

export type ProviderName = "b2" | "r2";

/**
 * The S3 backend configs of the providers configured in `env`, preferred first (b2, then r2). A
 * provider is configured when its bucket, endpoint and both credentials are present; `tuning` is
 * merged into each (part size, timeouts). Call it with what your app's `env.ts` parsed with
 * `envPieces.b2` / `envPieces.r2`.
 */
export function providersFromEnv(
  env: ProviderEnv,
  tuning: Partial<Omit<S3BackendConfig, "name" | "endpoint" | "bucket" | "region" | "credentials">> = {},
): Array<{ kind: "s3" } & S3BackendConfig> {
  const out: Array<{ kind: "s3" } & S3BackendConfig> = [];
  const pick = (name: ProviderName): void => {
    const P = name === "b2" ? "B2" : "R2";
    const bucket = env[`${P}_BUCKET_NAME`];
    const endpoint = env[`${P}_ENDPOINT_URL`];
    const accessKeyId = env[`${P}_ACCESS_KEY_ID`];
    const secretAccessKey = env[`${P}_SECRET_ACCESS_KEY`];
    if (!bucket || !endpoint || !accessKeyId || !secretAccessKey) return;
    if (!(accessKeyId instanceof Secret) || !(secretAccessKey instanceof Secret)) {
      // Raw strings mean the variables were not parsed with envPieces: refuse rather than pass plain secrets around.
      throw new StorageError({
        code: "storage_invalid_argument",
        provider: name,
        message: `${P}_ACCESS_KEY_ID and ${P}_SECRET_ACCESS_KEY must be parsed with envPieces.${name} (Secret values)`,
      });
    }
    out.push({
      kind: "s3",
      name,
      bucket,
      endpoint,
      region: env[`${P}_REGION`] ?? (name === "b2" ? "us-east-005" : "auto"),
      forcePathStyle: env[`${P}_FORCE_PATH_STYLE`] ?? true,
      credentials: { accessKeyId, secretAccessKey },
      ...tuning,
    });
  };
  pick("b2");
  pick("r2");
  return out;
}
