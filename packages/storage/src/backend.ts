import type { Readable } from "node:stream";

/**
 * The bytes of a put.
 *
 * - `Buffer`: known bytes; a put can be retried.
 * - `() => Readable`: a factory that opens the same bytes again on every call; a put can be retried
 *   (each attempt calls the factory once and consumes what it returns).
 * - `Readable`: a one-shot stream of unknown length. Once a put has started reading it, the bytes are
 *   gone: a failed put from a bare `Readable` is **never retried** by the retry decorator (it throws the
 *   first error). Use `putEverywhere` to write one stream to several providers.
 */
export type PutBody = Buffer | Readable | (() => Readable);

/** The metadata name under which a writer that knows the checksum up front stores it (`x-amz-meta-sha256`): see `PutOptions.metadata`. */
export const SHA256_METADATA = "sha256";

export interface PutOptions {
  /** Stored as the object's content type; `application/octet-stream` when absent. */
  contentType?: string;
  /**
   * User metadata, stored with the object and returned by `head`. Names must match
   * `^[a-z0-9][a-z0-9-]*$` (S3 lowercases names, so we only accept lowercase); values must be
   * printable ASCII; all names and values together at most 2 KiB (the S3 limit). By convention
   * `sha256` holds the lowercase hex SHA-256 of the object's bytes when the writer knew it up front
   * (an S3 backend then signs it as the payload hash instead of hashing the body again).
   */
  metadata?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

export interface PutResult {
  key: string;
  /** The number of bytes stored, counted by the backend while writing. */
  size: number;
  /** The provider's entity tag, when it has one. Opaque: not a checksum of the bytes for multipart uploads. */
  etag?: string;
}

export interface ByteRange {
  /** First byte, 0-based. */
  start: number;
  /** Last byte, **inclusive** (as in HTTP `Range: bytes=start-end`). Absent: to the end of the object. Clamped to the object's last byte. */
  end?: number;
}

export interface GetOptions {
  range?: ByteRange;
  signal?: AbortSignal | undefined;
}

export interface ObjectInfo {
  size: number;
  lastModified: Date;
  /** User metadata as written by `put` (names lowercase). Empty object when there is none. */
  metadata: Record<string, string>;
  contentType?: string;
  etag?: string;
}

export interface ListEntry {
  key: string;
  size: number;
  lastModified: Date;
}

export interface ListOptions {
  /** Only keys strictly greater than this one (byte order). Lets a broken listing resume where it stopped. */
  startAfter?: string;
  /** Keys fetched per request (S3 `MaxKeys`, at most 1000). Only changes how many round trips a listing takes. */
  pageSize?: number;
  signal?: AbortSignal | undefined;
}

export interface OpOptions {
  signal?: AbortSignal | undefined;
}

/**
 * One object store. Every backend (S3-compatible, filesystem) and every decorator (retry, limit,
 * metrics, fault) implements this; `test/conformance.ts` holds each of them to it.
 *
 * Keys are `/`-separated, non-empty, at most 1024 bytes, without a leading `/`, empty segments,
 * `.` or `..` segments, backslashes or control characters; anything else fails with
 * `storage_invalid_argument`. A key that is also a "folder" of another key (`a` and `a/b`) is not
 * supported (the filesystem cannot hold both).
 *
 * Errors: every method rejects only with a `StorageError` whose `provider` is this backend's `name`
 * (decorators may add their own `StorageError`s), with one exception: a `put` whose body stream
 * failed rejects with that stream's own error (the caller's pipeline failed, not the provider). `err.retryable` (see `isPermanent`) says whether
 * calling again may succeed: network failures, timeouts, throttling and 5xx are retryable
 * (`storage_unavailable`); missing objects, bad credentials, a missing bucket, bad arguments and
 * checksum problems are permanent. An aborted signal rejects with `storage_aborted`.
 *
 * Backends do not retry on their own beyond what their client library does for a single request;
 * wrap them with the `retry` decorator (see `openBackend`).
 */
export interface StorageBackend {
  /** Short provider name used in errors, logs and metrics: `"b2"`, `"r2"`, `"fs"`. */
  readonly name: string;

  /**
   * Store `body` under `key`, replacing any existing object. The object becomes visible only
   * complete: a reader sees the old object, or the new one, never a part (S3: single PUT or
   * CompleteMultipartUpload; fs: temp file + rename). A stream of unknown length is uploaded in
   * parts (multipart) with bounded memory. If the body stream errors, or the signal aborts, nothing
   * is stored (an unfinished multipart upload is aborted) and the put rejects: with the body
   * stream's own error when that is what failed. Whenever a put rejects, a `Readable` body (or the
   * one a factory returned) has been destroyed, so its producer stops.
   *
   * Not retried internally once a stream was consumed (see `PutBody`).
   */
  put(key: string, body: PutBody, opts?: PutOptions): Promise<PutResult>;

  /**
   * Open the object (or a byte range of it) for reading. Resolves once the provider answered, so a
   * missing object rejects here with `storage_not_found`; a range starting at or past the end
   * rejects with `storage_invalid_range` (every range of an empty object is invalid).
   *
   * Short reads: the backend knows how many bytes to expect (content length). If the connection
   * breaks or the stream ends before all of them arrived, the stream is destroyed with a retryable
   * `storage_short_read` (context: `expected`, `received`) instead of ending cleanly. A stream that
   * ends without error therefore delivered exactly the stored bytes of the range. Bytes are not
   * checksummed here: that is `verifyObject`'s and `readWithFailover`'s job.
   */
  get(key: string, opts?: GetOptions): Promise<Readable>;

  /** Size, modification time and metadata of the object; `null` when it does not exist. A missing bucket is an error, never `null`. */
  head(key: string, opts?: OpOptions): Promise<ObjectInfo | null>;

  /**
   * Every object whose key starts with `prefix` (no delimiter: the listing is recursive), in
   * ascending key order (byte order of the UTF-8 key), fetched page by page as the iterator is
   * consumed. Objects written or deleted during a listing may or may not appear. An error while
   * fetching a page rejects the iterator's `next()`; the retry decorator resumes after the last key
   * it yielded, relying on the ordering.
   */
  list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry>;

  /** Remove the object. Idempotent: deleting a missing key succeeds. */
  delete(key: string, opts?: OpOptions): Promise<void>;
}

/** The operations of a backend, for decorators and metrics. */
export type StorageOp = "put" | "get" | "head" | "list" | "delete";
export const STORAGE_OPS: readonly StorageOp[] = ["put", "get", "head", "list", "delete"];
