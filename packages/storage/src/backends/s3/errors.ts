import { redactUrl } from "@hesaab/config";
import { StorageError, abortedError, isStorageError } from "../../errors";

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EADDRNOTAVAIL",
  "UND_ERR_SOCKET",
]);
const AUTH_NAMES = new Set([
  "AccessDenied",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
  "Unauthorized",
  "Forbidden",
  "AllAccessDisabled",
]);
const UNAVAILABLE_NAMES = new Set([
  "SlowDown",
  "ServiceUnavailable",
  "InternalError",
  "RequestTimeout",
  "RequestTimeTooSkewed",
  "TimeoutError",
  "Throttling",
  "ThrottlingException",
  "TooManyRequests",
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $fault?: "client" | "server";
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

export interface S3ErrorContext {
  provider: string;
  bucket: string;
  endpoint: string;
  key?: string | undefined;
  op: string;
}

/**
 * A copy of an SDK error that keeps what explains it (name, message, code, http status, cause
 * chain) and drops the rest: SDK errors carry the raw HTTP exchange (`$response`), whose request
 * headers include the access key id and a signature, and loggers print causes deeply.
 */
function sanitize(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error) || depth > 4) return err;
  const e = err as Error & SdkErrorShape;
  const copy = new Error(e.message, e.cause === undefined ? undefined : { cause: sanitize(e.cause, depth + 1) }) as Error & SdkErrorShape;
  copy.name = e.name;
  if (e.code !== undefined) copy.code = e.code;
  if (e.$fault !== undefined) copy.$fault = e.$fault;
  if (e.$retryable !== undefined) copy.$retryable = e.$retryable;
  if (e.$metadata?.httpStatusCode !== undefined) copy.$metadata = { httpStatusCode: e.$metadata.httpStatusCode };
  if (e.stack) copy.stack = e.stack;
  return copy;
}

/** The network error code of `err` or of one of its causes (the SDK wraps socket errors). */
function networkCode(err: unknown): string | undefined {
  for (let e = err as SdkErrorShape | undefined, depth = 0; e && depth < 5; e = e.cause as SdkErrorShape | undefined, depth++) {
    if (typeof e.code === "string" && NETWORK_CODES.has(e.code)) return e.code;
  }
  return undefined;
}

/**
 * Turn whatever the AWS SDK threw into a `StorageError` that names the provider and the bucket and
 * says what to do, without credentials and without the SDK's internals in the message (the original
 * error stays in `cause`).
 */
export function mapS3Error(raw: unknown, ctx: S3ErrorContext): StorageError {
  if (isStorageError(raw)) return raw;
  const err = sanitize(raw);
  const e = (err ?? {}) as SdkErrorShape;
  const { provider, bucket, key, op } = ctx;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? "";
  const keyed = key === undefined ? {} : { key };
  const context = { bucket, op, ...(status === undefined ? {} : { status }), ...(name ? { sdkError: name } : {}) };
  const endpoint = redactUrl(ctx.endpoint);

  if (name === "AbortError" || e.code === "ABORT_ERR") return abortedError(provider, key);
  if (name === "NoSuchBucket") {
    return new StorageError({
      code: "storage_bucket_missing",
      provider,
      ...keyed,
      message: `${provider}: bucket "${bucket}" does not exist at ${endpoint}`,
      hint: `Create the bucket or fix the ${provider} bucket name (${provider.toUpperCase()}_BUCKET_NAME)`,
      cause: err,
      context,
    });
  }
  if (AUTH_NAMES.has(name) || status === 401 || status === 403) {
    return new StorageError({
      code: "storage_auth_failed",
      provider,
      ...keyed,
      message: `${provider}: access to bucket "${bucket}" was refused (${name || `http ${status}`})`,
      hint: `Check the ${provider} access key id and secret (${provider.toUpperCase()}_ACCESS_KEY_ID, ${provider.toUpperCase()}_SECRET_ACCESS_KEY) and that the key may use this bucket`,
      cause: err,
      context,
    });
  }
  if (name === "NoSuchKey" || (status === 404 && (name === "NotFound" || name === ""))) {
    return new StorageError({
      code: "storage_not_found",
      provider,
      ...keyed,
      message: `${provider}: object ${key ?? ""} not found in bucket "${bucket}"`,
      cause: err,
      context,
    });
  }
  if (name === "InvalidRange" || status === 416) {
    return new StorageError({
      code: "storage_invalid_range",
      provider,
      ...keyed,
      message: `${provider}: range starts past the end of ${key ?? "the object"}`,
      cause: err,
      context,
    });
  }
  const net = networkCode(err);
  if (net || UNAVAILABLE_NAMES.has(name) || status === 429 || (status !== undefined && status >= 500) || e.$fault === "server" || e.$retryable) {
    return new StorageError({
      code: "storage_unavailable",
      provider,
      ...keyed,
      message: `${provider}: ${op} failed, endpoint ${endpoint} unavailable (${net ?? (name || `http ${status}`)})`,
      hint: `Check that the ${provider} endpoint is reachable; the operation can be retried`,
      cause: err,
      context: { ...context, ...(net ? { network: net } : {}) },
    });
  }
  if (status !== undefined && status >= 400) {
    return new StorageError({
      code: "storage_rejected",
      provider,
      ...keyed,
      message: `${provider}: ${op} rejected by bucket "${bucket}" (${name || `http ${status}`})`,
      cause: err,
      context,
    });
  }
  if (err instanceof TypeError || err instanceof RangeError) {
    return new StorageError({ code: "storage_rejected", provider, ...keyed, message: `${provider}: ${op} failed: ${e.message ?? name}`, cause: err, context });
  }
  // No http status and no known network code: a transport failure we do not recognise. Retryable,
  // because a request that never got an answer may succeed the next time.
  return new StorageError({
    code: "storage_unavailable",
    provider,
    ...keyed,
    message: `${provider}: ${op} failed talking to ${endpoint} (${name || "unknown error"})`,
    cause: err,
    context,
  });
}
