import { Readable, Transform } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import type { Secret } from "@hesaab/config";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import {
  SHA256_METADATA,
  type GetOptions,
  type ListEntry,
  type ListOptions,
  type ObjectInfo,
  type OpOptions,
  type PutBody,
  type PutOptions,
  type PutResult,
  type StorageBackend,
} from "../../backend";
import { StorageError, abortedError } from "../../errors";
import { guardLength, openBody } from "../../streams";
import { assertValidKey, assertValidPrefix, assertValidPut, assertValidRange } from "../../validate";
import { mapS3Error } from "./errors";
import { SignedPut } from "./signed-put";

export interface S3BackendConfig {
  /** Provider name in errors, logs and metrics: `"b2"`, `"r2"`. */
  name: string;
  endpoint: string;
  bucket: string;
  region: string;
  credentials: { accessKeyId: Secret; secretAccessKey: Secret };
  /** Path-style URLs (`endpoint/bucket/key`); needed by s3rver and most non-AWS endpoints. Default true. */
  forcePathStyle?: boolean;
  /** Multipart part size in bytes (minimum 5 MiB). Default 8 MiB. Memory per upload ≈ partSize × (queueSize + 1). */
  partSize?: number;
  /** Parts uploaded at once per upload. Default 3. */
  queueSize?: number;
  /**
   * Attempts per single HTTP request inside the SDK (a failed multipart *part* is re-sent from its
   * buffer, which a whole-object retry of a stream cannot do). Default 3; use 1 to fail fast. A
   * single-PUT Buffer is sent once: the retry decorator re-sends the whole Buffer.
   */
  sdkMaxAttempts?: number;
  /** Milliseconds to wait for a TCP connection. Default 10 000. */
  connectionTimeoutMs?: number;
  /** Milliseconds a socket may stay idle mid-request (response body included) before it is dropped. Default 120 000. */
  socketTimeoutMs?: number;
}

const MIB = 1024 * 1024;
/** The part size of a multipart upload unless `partSize` says otherwise: what `uploadEtags` assumes. */
export const S3_DEFAULT_PART_SIZE = 8 * MIB;
const BUCKET_CHECK_TTL_MS = 60_000;

/**
 * An S3-compatible bucket (Backblaze B2, Cloudflare R2, s3rver) through `@aws-sdk/client-s3`.
 * Checksum headers are only sent when an operation requires them (B2 and R2 reject the SDK's
 * defaults, s3rver would store aws-chunked framing): integrity is our own SHA-256, see
 * `putEverywhere` and `verifyObject`.
 *
 * Two ways to put: a Buffer of at most one part goes as one PUT signed with the SDK's signer and
 * sent with the client's own transport (`SignedPut`), skipping the client's middleware stack, which
 * costs several times the request itself and dominates a backup of thousands of small tenants;
 * streams and larger Buffers are multipart uploads with part buffers reused (bounded memory, no
 * garbage per part). Both map errors alike.
 */
export function s3Backend(config: S3BackendConfig): StorageBackend {
  return new S3Backend(config);
}

class S3Backend implements StorageBackend {
  readonly name: string;
  readonly #config: S3BackendConfig;
  readonly #client: S3Client;
  readonly #signedPut: SignedPut;
  readonly #partSize: number;
  readonly #queueSize: number;
  #bucketCheckedAt = 0;

  constructor(config: S3BackendConfig) {
    this.name = config.name;
    this.#config = config;
    this.#partSize = Math.max(5 * MIB, config.partSize ?? S3_DEFAULT_PART_SIZE);
    this.#queueSize = Math.max(1, config.queueSize ?? 3);
    const forcePathStyle = config.forcePathStyle ?? true;
    const credentials = { accessKeyId: config.credentials.accessKeyId.reveal(), secretAccessKey: config.credentials.secretAccessKey.reveal() };
    // One transport for the client and the signed PUTs: one keep-alive pool, one set of timeouts.
    const http = new NodeHttpHandler({ connectionTimeout: config.connectionTimeoutMs ?? 10_000, socketTimeout: config.socketTimeoutMs ?? 120_000 });
    this.#client = new S3Client({
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle,
      credentials,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: Math.max(1, config.sdkMaxAttempts ?? 3),
      requestHandler: http,
    });
    this.#signedPut = new SignedPut({ endpoint: config.endpoint, bucket: config.bucket, region: config.region, forcePathStyle, credentials, http });
  }

  #error(err: unknown, op: string, key?: string): StorageError {
    return mapS3Error(err, { provider: this.name, bucket: this.#config.bucket, endpoint: this.#config.endpoint, key, op });
  }

  async put(key: string, body: PutBody, opts: PutOptions = {}): Promise<PutResult> {
    assertValidPut({ provider: this.name, key, body, opts });
    const data = openBody(body);
    if (Buffer.isBuffer(data) && data.length <= this.#partSize) return this.#putOnce(key, data, opts);
    // a Buffer is already in memory: its parts are slices of it, not copies
    const upstream = Buffer.isBuffer(data) ? Readable.from(partsOf(data, this.#partSize)) : data;
    if (opts.signal?.aborted) {
      upstream.destroy();
      throw abortedError(this.name, key);
    }
    const abort = new AbortController();
    const onAbort = (): void => abort.abort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    let bodyError: unknown;
    upstream.once("error", (err) => {
      bodyError ??= err;
    });
    const upload = new MultipartUpload({ client: this.#client, bucket: this.#config.bucket, key, opts, signal: abort.signal });
    let partError: unknown;
    try {
      return await this.#putParts({ key, upstream, upload, opts, failed: (err) => (partError ??= err) });
    } catch (err) {
      upstream.destroy();
      abort.abort();
      await upload.abort();
      if (opts.signal?.aborted) throw abortedError(this.name, key);
      if (bodyError !== undefined) throw bodyError;
      throw this.#error(partError ?? err, "put", key);
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * A stream as a multipart upload: its bytes are copied into part buffers of `partSize`, reused once
   * their part is stored, `queueSize` parts in flight. A stream that ends within its first part is one
   * PUT. Memory per upload: `partSize × (queueSize + 1)`, allocated once, whatever the object's size
   * (the SDK's \`Upload\` concatenated every part anew: garbage the collector frees late).
   */
  async #putParts(o: { key: string; upstream: Readable; upload: MultipartUpload; opts: PutOptions; failed: (err: unknown) => void }): Promise<PutResult> {
    const { key, upstream, upload, opts } = o;
    const free: Buffer<ArrayBuffer>[] = [];
    const inFlight: Promise<void>[] = [];
    let part: Buffer<ArrayBuffer> = Buffer.allocUnsafeSlow(this.#partSize);
    let filled = 0;
    let size = 0;
    /** Starts the next part, `body`; `buffer` (ours, holding it) goes back to `free` once the part is stored. */
    const send = async (body: Buffer, buffer?: Buffer<ArrayBuffer>): Promise<void> => {
      while (inFlight.length >= this.#queueSize) await inFlight.shift(); // a slot (and with it a buffer of ours)
      const sent = upload.part(body).then(() => {
        if (buffer) free.push(buffer);
      });
      // a part that fails stops the reading at once (not at the next part): the caller sees its error
      sent.catch((err: unknown) => {
        o.failed(err);
        upstream.destroy();
      });
      inFlight.push(sent);
    };
    const sendFilled = async (): Promise<void> => {
      const buffer = part;
      const length = filled;
      part = free.pop() ?? Buffer.allocUnsafeSlow(this.#partSize);
      filled = 0;
      await send(buffer.subarray(0, length), buffer);
    };
    for await (const chunk of upstream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (filled === 0 && chunk.length === this.#partSize) {
        await send(chunk); // a whole part as it comes (a slice of a Buffer put): sent as it is, not copied
        continue;
      }
      for (let at = 0; at < chunk.length; ) {
        if (filled === this.#partSize) await sendFilled();
        const n = chunk.copy(part, filled, at);
        filled += n;
        at += n;
      }
    }
    if (!upload.started) return this.#putOnce(key, part.subarray(0, filled), opts); // it all fit in one part
    if (filled > 0) await sendFilled();
    await Promise.all(inFlight);
    const etag = await upload.complete();
    return { key, size, ...(etag ? { etag } : {}) };
  }

  /** A Buffer that fits in one part: one signed PUT (without the client's middleware). */
  async #putOnce(key: string, data: Buffer, opts: PutOptions): Promise<PutResult> {
    try {
      const { etag } = await this.#signedPut.send({
        key,
        body: data,
        contentType: opts.contentType ?? "application/octet-stream",
        metadata: opts.metadata,
        sha256: knownSha256(opts.metadata),
        signal: opts.signal,
      });
      return { key, size: data.length, ...(etag ? { etag } : {}) };
    } catch (err) {
      if (opts.signal?.aborted) throw abortedError(this.name, key);
      throw this.#error(err, "put", key);
    }
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    assertValidKey(key, this.name);
    assertValidRange(opts.range, this.name);
    if (opts.signal?.aborted) throw abortedError(this.name, key);
    const range = opts.range ? `bytes=${opts.range.start}-${opts.range.end ?? ""}` : undefined;
    let res;
    try {
      res = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#config.bucket, Key: key, ...(range ? { Range: range } : {}) }),
        opts.signal ? { abortSignal: opts.signal } : {},
      );
    } catch (err) {
      throw this.#error(err, "get", key);
    }
    const body = res.Body as Readable | undefined;
    const length = res.ContentLength ?? 0;
    if (!body) {
      if (length === 0 && !opts.range) return guardLength({ source: emptyStream(), expected: 0, provider: this.name, key });
      throw new StorageError({ code: "storage_unavailable", provider: this.name, key, message: `${this.name}: get ${key} returned no body` });
    }
    if (!opts.range) return guardLength({ source: body, expected: length, provider: this.name, key, signal: opts.signal });

    // What the endpoint actually sent: "bytes a-b/total", or the whole object when it ignored the Range.
    const cr = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.ContentRange ?? "");
    const sentStart = cr ? Number(cr[1]) : 0;
    const total = cr ? Number(cr[3]) : length;
    const { start } = opts.range;
    if (start >= total) {
      // Some endpoints (s3rver) answer a range on an empty object with 206 instead of 416.
      body.destroy();
      throw new StorageError({
        code: "storage_invalid_range",
        provider: this.name,
        key,
        message: `${this.name}: range starts past the end of ${key}`,
        context: { start, size: total },
      });
    }
    const wantEnd = Math.min(opts.range.end ?? total - 1, total - 1);
    const sentEnd = sentStart + length - 1;
    const guarded = guardLength({ source: body, expected: length, provider: this.name, key, signal: opts.signal });
    if (sentStart === start && sentEnd === wantEnd) return guarded;
    if (sentStart > start || sentEnd < wantEnd) {
      guarded.destroy();
      throw new StorageError({
        code: "storage_rejected",
        provider: this.name,
        key,
        message: `${this.name}: the endpoint answered a byte range with the wrong bytes`,
        context: { start, end: wantEnd, sentStart, sentEnd },
      });
    }
    // The endpoint sent more than asked (s3rver ignores "bytes=0-0"): cut the asked bytes out here.
    return sliceStream({ source: guarded, skip: start - sentStart, take: wantEnd - start + 1 });
  }

  async head(key: string, opts: OpOptions = {}): Promise<ObjectInfo | null> {
    assertValidKey(key, this.name);
    if (opts.signal?.aborted) throw abortedError(this.name, key);
    try {
      const res = await this.#client.send(new HeadObjectCommand({ Bucket: this.#config.bucket, Key: key }), opts.signal ? { abortSignal: opts.signal } : {});
      return {
        size: res.ContentLength ?? 0,
        lastModified: res.LastModified ?? new Date(0),
        metadata: { ...res.Metadata },
        ...(res.ContentType ? { contentType: res.ContentType } : {}),
        ...(res.ETag ? { etag: res.ETag } : {}),
      };
    } catch (err) {
      const mapped = this.#error(err, "head", key);
      if (mapped.code !== "storage_not_found") throw mapped;
    }
    // A HEAD response has no body, so "no such key" and "no such bucket" look alike: ask the bucket.
    await this.#assertBucket(opts.signal);
    return null;
  }

  async #assertBucket(signal?: AbortSignal): Promise<void> {
    if (Date.now() - this.#bucketCheckedAt < BUCKET_CHECK_TTL_MS) return;
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#config.bucket }), signal ? { abortSignal: signal } : {});
      this.#bucketCheckedAt = Date.now();
    } catch (err) {
      const mapped = this.#error(err, "head", undefined);
      if (mapped.code === "storage_not_found") {
        throw this.#error(Object.assign(new Error("no such bucket"), { name: "NoSuchBucket" }), "head");
      }
      throw mapped;
    }
  }

  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<ListEntry> {
    assertValidPrefix(prefix, this.name);
    const pageSize = Math.min(1000, Math.max(1, opts.pageSize ?? 1000));
    let token: string | undefined;
    do {
      if (opts.signal?.aborted) throw abortedError(this.name);
      let page;
      try {
        page = await this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#config.bucket,
            Prefix: prefix,
            MaxKeys: pageSize,
            ...(token ? { ContinuationToken: token } : opts.startAfter ? { StartAfter: opts.startAfter } : {}),
          }),
          opts.signal ? { abortSignal: opts.signal } : {},
        );
      } catch (err) {
        throw this.#error(err, "list");
      }
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined) continue;
        yield { key: item.Key, size: item.Size ?? 0, lastModified: item.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string, opts: OpOptions = {}): Promise<void> {
    assertValidKey(key, this.name);
    if (opts.signal?.aborted) throw abortedError(this.name, key);
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#config.bucket, Key: key }), opts.signal ? { abortSignal: opts.signal } : {});
    } catch (err) {
      const mapped = this.#error(err, "delete", key);
      if (mapped.code !== "storage_not_found") throw mapped;
    }
  }
}

/** Bytes `skip` … `skip + take - 1` of `source`; the rest of `source` is discarded (destroyed once taken). */
function sliceStream(opts: { source: Readable; skip: number; take: number }): Readable {
  const { source } = opts;
  let skip = opts.skip;
  let take = opts.take;
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      let c = chunk;
      if (skip > 0) {
        const n = Math.min(skip, c.length);
        skip -= n;
        c = c.subarray(n);
      }
      if (take > 0 && c.length > 0) {
        const piece = c.subarray(0, take);
        take -= piece.length;
        this.push(piece);
        if (take === 0) {
          this.push(null);
          source.unpipe(out);
          source.destroy();
        }
      }
      cb();
    },
  });
  source.on("error", (err) => out.destroy(err));
  out.once("end", () => out.destroy()); // the writable side never finishes (we unpiped): close explicitly
  out.once("close", () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}

function emptyStream(): Readable {
  const t = new Transform();
  t.end();
  return t;
}

/**
 * One multipart upload, through the S3 client: created with the first part, parts numbered in the
 * order they are given, completed in order, aborted (best effort) when anything fails.
 */
class MultipartUpload {
  readonly #o: { client: S3Client; bucket: string; key: string; opts: PutOptions; signal: AbortSignal };
  #uploadId: Promise<string> | undefined;
  readonly #parts: { PartNumber: number; ETag: string }[] = [];
  #next = 1;

  constructor(o: { client: S3Client; bucket: string; key: string; opts: PutOptions; signal: AbortSignal }) {
    this.#o = o;
  }

  get started(): boolean {
    return this.#uploadId !== undefined;
  }

  #id(): Promise<string> {
    const { client, bucket, key, opts, signal } = this.#o;
    this.#uploadId ??= client
      .send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ContentType: opts.contentType ?? "application/octet-stream",
          ...(opts.metadata && Object.keys(opts.metadata).length > 0 ? { Metadata: opts.metadata } : {}),
        }),
        { abortSignal: signal },
      )
      .then((r) => {
        if (!r.UploadId) throw new Error("CreateMultipartUpload returned no UploadId");
        return r.UploadId;
      });
    return this.#uploadId;
  }

  /** Stores `body` as the next part. `body` must not change until this settles. */
  async part(body: Buffer): Promise<void> {
    const partNumber = this.#next++;
    const uploadId = await this.#id();
    const r = await this.#o.client.send(
      new UploadPartCommand({ Bucket: this.#o.bucket, Key: this.#o.key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.length }),
      { abortSignal: this.#o.signal },
    );
    if (!r.ETag) throw new Error(`UploadPart ${partNumber} returned no ETag`);
    this.#parts.push({ PartNumber: partNumber, ETag: r.ETag });
  }

  async complete(): Promise<string | undefined> {
    const parts = [...this.#parts].sort((a, b) => a.PartNumber - b.PartNumber);
    const r = await this.#o.client.send(
      new CompleteMultipartUploadCommand({ Bucket: this.#o.bucket, Key: this.#o.key, UploadId: await this.#id(), MultipartUpload: { Parts: parts } }),
      { abortSignal: this.#o.signal },
    );
    return r.ETag;
  }

  /** Drops the parts stored so far (a failed upload leaves nothing billable behind). Never throws. */
  async abort(): Promise<void> {
    const id = await this.#uploadId?.catch(() => undefined);
    if (!id) return;
    await this.#o.client.send(new AbortMultipartUploadCommand({ Bucket: this.#o.bucket, Key: this.#o.key, UploadId: id })).catch(() => {});
  }
}

/** A Buffer's parts, as slices of it. */
/** The body's SHA-256 the writer stored as metadata (`SHA256_METADATA`), when it is one: signed as the payload hash. */
function knownSha256(metadata: Record<string, string> | undefined): string | undefined {
  const sha = metadata?.[SHA256_METADATA];
  return sha !== undefined && /^[0-9a-f]{64}$/.test(sha) ? sha : undefined;
}

function* partsOf(data: Buffer, partSize: number): Generator<Buffer> {
  for (let at = 0; at < data.length; at += partSize) yield data.subarray(at, at + partSize);
}
