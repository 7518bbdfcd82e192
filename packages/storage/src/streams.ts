import { Transform, type Readable, type TransformCallback } from "node:stream";
import type { PutBody } from "./backend";
import { StorageError, abortedError } from "./errors";

/** The bytes of one put attempt: a factory is called, a Buffer or stream is returned as is. */
export function openBody(body: PutBody): Buffer | Readable {
  return typeof body === "function" ? body() : body;
}

/** Destroy a body that is a stream (after a failed put); Buffers and unopened factories need nothing. */
export function destroyBody(body: Buffer | Readable | (() => Readable), err?: unknown): void {
  if (!Buffer.isBuffer(body) && typeof body !== "function" && !body.destroyed) body.destroy(err instanceof Error ? err : undefined);
}

/** True when a put with this body may be attempted again (the bytes can be produced a second time). */
export function isReplayable(body: PutBody): boolean {
  return Buffer.isBuffer(body) || typeof body === "function";
}

/** A promise that resolves after `ms`, or rejects with `storage_aborted` when `signal` fires first. */
export function sleep(opts: { ms: number; signal?: AbortSignal | undefined; provider: string }): Promise<void> {
  const { ms, signal, provider } = opts;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(provider));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortedError(provider));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Pass `source` through, counting bytes, and enforce the short-read rule of `StorageBackend.get`:
 * if `source` ends or fails before `expected` bytes arrived, the returned stream is destroyed with a
 * retryable `storage_short_read`; destroying the returned stream destroys `source`.
 */
export function guardLength(opts: { source: Readable; expected: number; provider: string; key: string; signal?: AbortSignal | undefined }): Readable {
  const { source, expected, provider, key, signal } = opts;
  let received = 0;
  const shortRead = (cause?: unknown): StorageError =>
    new StorageError({
      code: "storage_short_read",
      provider,
      key,
      message: `${provider}: read of ${key} stopped after ${received} of ${expected} bytes`,
      ...(cause === undefined ? {} : { cause }),
      context: { expected, received },
    });
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      received += chunk.length;
      if (received > expected) {
        cb(
          new StorageError({
            code: "storage_corrupt",
            provider,
            key,
            message: `${provider}: read of ${key} returned more bytes than announced`,
            context: { expected, received },
          }),
        );
        return;
      }
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      cb(received < expected ? shortRead() : null);
    },
  });
  const onAbort = (): void => {
    out.destroy(abortedError(provider, key));
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  source.once("error", (err) => {
    if (!out.destroyed) out.destroy(isAbort(err) && signal?.aborted ? abortedError(provider, key) : shortRead(err));
  });
  // An http response that loses its connection may just close without "end" on some Node versions.
  source.once("close", () => {
    if (!source.readableEnded && !out.destroyed && !out.writableEnded) out.destroy(shortRead());
  });
  out.once("close", () => {
    signal?.removeEventListener("abort", onAbort);
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === "AbortError" || (err as { code?: string }).code === "ABORT_ERR");
}

/** Read a whole stream into memory. Only for small objects (sidecars, tests). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
