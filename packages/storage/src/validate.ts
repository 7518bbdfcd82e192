import type { PutBody, PutOptions } from "./backend";
import { StorageError, abortedError } from "./errors";
import { destroyBody } from "./streams";

const MAX_KEY_BYTES = 1024;
const MAX_METADATA_BYTES = 2048;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const METADATA_NAME = /^[a-z0-9][a-z0-9-]*$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Throw `storage_invalid_argument` unless `key` follows the key rules in `StorageBackend`'s contract. */
export function assertValidKey(key: string, provider: string): void {
  const problem = keyProblem(key);
  if (problem) {
    throw new StorageError({ code: "storage_invalid_argument", provider, key, message: `${provider}: invalid object key: ${problem}` });
  }
}

function keyProblem(key: string): string | undefined {
  if (typeof key !== "string" || key.length === 0) return "empty";
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `longer than ${MAX_KEY_BYTES} bytes`;
  if (key.startsWith("/")) return "starts with /";
  if (key.includes("\\")) return "contains a backslash";
  if (CONTROL.test(key)) return "contains a control character";
  for (const segment of key.split("/")) {
    if (segment === "") return "contains an empty segment";
    if (segment === "." || segment === "..") return "contains a . or .. segment";
  }
  return undefined;
}

/** Throw `storage_invalid_argument` unless `prefix` could begin a valid key (empty is allowed). */
export function assertValidPrefix(prefix: string, provider: string): void {
  if (prefix === "") return;
  if (
    prefix.startsWith("/") ||
    prefix.includes("\\") ||
    CONTROL.test(prefix) ||
    prefix
      .split("/")
      .slice(0, -1)
      .some((s) => s === "" || s === "." || s === "..")
  ) {
    throw new StorageError({ code: "storage_invalid_argument", provider, message: `${provider}: invalid list prefix`, context: { prefix } });
  }
}

/** Throw `storage_invalid_argument` unless metadata follows `PutOptions.metadata`'s rules. */
export function assertValidMetadata(metadata: Record<string, string> | undefined, provider: string): void {
  if (!metadata) return;
  let bytes = 0;
  for (const [name, value] of Object.entries(metadata)) {
    if (!METADATA_NAME.test(name)) {
      throw new StorageError({
        code: "storage_invalid_argument",
        provider,
        message: `${provider}: metadata name must be lowercase letters, digits and dashes`,
        context: { name },
      });
    }
    if (typeof value !== "string" || !PRINTABLE_ASCII.test(value)) {
      throw new StorageError({ code: "storage_invalid_argument", provider, message: `${provider}: metadata value must be printable ascii`, context: { name } });
    }
    bytes += name.length + value.length;
  }
  if (bytes > MAX_METADATA_BYTES) {
    throw new StorageError({ code: "storage_invalid_argument", provider, message: `${provider}: metadata larger than ${MAX_METADATA_BYTES} bytes` });
  }
}

/** Throw `storage_invalid_argument` for a malformed range (negative, end before start, not integers). */
export function assertValidRange(range: { start: number; end?: number } | undefined, provider: string): void {
  if (!range) return;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0 || (end !== undefined && (!Number.isSafeInteger(end) || end < start))) {
    throw new StorageError({ code: "storage_invalid_argument", provider, message: `${provider}: invalid byte range`, context: { start, end } });
  }
}

/**
 * The checks every backend's `put` makes before it touches the body: a valid key and metadata, not
 * already aborted. On refusal the body is destroyed (the contract: a failed put consumes its body).
 */
export function assertValidPut({ provider, key, body, opts }: { provider: string; key: string; body: PutBody; opts: PutOptions }): void {
  try {
    assertValidKey(key, provider);
    assertValidMetadata(opts.metadata, provider);
    if (opts.signal?.aborted) throw abortedError(provider, key);
  } catch (err) {
    destroyBody(body);
    throw err;
  }
}
