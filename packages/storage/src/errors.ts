import { describeError, HesaabError } from "@hesaab/config";

/**
 * Stable storage error codes. Callers match on these, never on messages.
 *
 * | code | retryable | meaning |
 * |---|---|---|
 * | `storage_not_found` | no | the object does not exist (get on a missing key) |
 * | `storage_auth_failed` | no | the provider refused the credentials or the access |
 * | `storage_bucket_missing` | no | the configured bucket (or fs root) does not exist |
 * | `storage_invalid_range` | no | a byte range starts at or past the end of the object |
 * | `storage_invalid_argument` | no | a bad key, metadata name or option (a bug in the caller) |
 * | `storage_unavailable` | yes | network error, timeout, 5xx, throttling: the provider may answer later |
 * | `storage_short_read` | yes | a read stream ended or broke before every expected byte arrived |
 * | `storage_corrupt` | no | bytes arrived but their size or SHA-256 is not what was expected |
 * | `storage_split_brain` | no | the key already exists with a different checksum: a person must decide |
 * | `storage_all_providers_failed` | if any failure was | a dual write reached no provider at all |
 * | `storage_rejected` | no | the provider refused the request for another reason (a 4xx we do not classify) |
 * | `storage_aborted` | no | the caller's AbortSignal fired |
 * | `storage_spool_full` | yes | the local spool has no room for the artifact (it empties once a provider answers) |
 */
export const STORAGE_ERROR_CODES = [
  "storage_not_found",
  "storage_auth_failed",
  "storage_bucket_missing",
  "storage_invalid_range",
  "storage_invalid_argument",
  "storage_unavailable",
  "storage_short_read",
  "storage_corrupt",
  "storage_split_brain",
  "storage_all_providers_failed",
  "storage_rejected",
  "storage_aborted",
  "storage_spool_full",
] as const;
export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

const RETRYABLE: ReadonlySet<StorageErrorCode> = new Set(["storage_unavailable", "storage_short_read"]);

/**
 * The one error type backends and decorators raise. `context.provider` always names the backend
 * (`"b2"`, `"r2"`, `"fs"`); `context.key` the object when there is one. Never carries credentials.
 */
export class StorageError extends HesaabError<StorageErrorCode> {
  readonly provider: string;

  constructor(opts: {
    code: StorageErrorCode;
    provider: string;
    message: string;
    key?: string;
    retryable?: boolean;
    hint?: string;
    cause?: unknown;
    context?: Record<string, unknown>;
  }) {
    super({
      code: opts.code,
      message: opts.message,
      retryable: opts.retryable ?? RETRYABLE.has(opts.code),
      ...(opts.hint === undefined ? {} : { hint: opts.hint }),
      ...(opts.cause === undefined ? {} : { cause: opts.cause }),
      context: { provider: opts.provider, ...(opts.key === undefined ? {} : { key: opts.key }), ...opts.context },
    });
    this.provider = opts.provider;
  }
}

export function isStorageError(err: unknown, code?: StorageErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code);
}

/**
 * True when repeating the same call cannot help: everything `describeError` does not call retryable
 * (a `HesaabError` marked retryable, a lost connection). Unknown errors count as permanent (a bug is
 * not fixed by retrying), as in restic's IsPermanentError.
 */
export function isPermanent(err: unknown): boolean {
  return !describeError(err).retryable;
}

/** The error a cancelled operation raises (the caller's `AbortSignal` fired). */
export function abortedError(provider: string, key?: string): StorageError {
  return new StorageError({ code: "storage_aborted", provider, ...(key === undefined ? {} : { key }), message: `${provider}: operation aborted` });
}
