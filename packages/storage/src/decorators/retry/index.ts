import { Readable } from "node:stream";
import type {
  ByteRange,
  GetOptions,
  ListEntry,
  ListOptions,
  ObjectInfo,
  OpOptions,
  PutBody,
  PutOptions,
  PutResult,
  StorageBackend,
  StorageOp,
} from "../../backend";
import { isPermanent } from "../../errors";
import { isReplayable, sleep } from "../../streams";

export interface RetryOptions {
  /** Total attempts per operation, the first included. Default 5. */
  attempts?: number;
  /** Delay before the first retry, in ms; doubles each time. Default 200. */
  baseDelayMs?: number;
  /** Upper bound of one delay, in ms. Default 10 000. */
  maxDelayMs?: number;
  /** Re-open a read stream that broke with a retryable error at the byte where it stopped. Default true. */
  resumeReads?: boolean;
  /** Called before each retry (for logs). */
  onRetry?: (info: RetryInfo) => void;
  /** Random source in [0, 1) for the jitter; tests may pin it. */
  random?: () => number;
}

export interface RetryInfo {
  provider: string;
  op: StorageOp;
  key?: string;
  /** The attempt that failed, 1-based. */
  attempt: number;
  delayMs: number;
  error: unknown;
}

/**
 * Retry retryable failures (see `isPermanent`) with exponential backoff and jitter: attempt n waits
 * a random time between half and all of `min(maxDelayMs, baseDelayMs × 2^(n-1))`. Permanent errors
 * and aborts are thrown at once.
 *
 * - `put` is retried only when the body can be produced again: a `Buffer` or a `() => Readable`
 *   factory (called once per attempt). A bare `Readable` gets exactly one attempt: its bytes are
 *   consumed by the first try, and re-sending a half-read stream would store a truncated object.
 * - `get` retries opening the object; with `resumeReads`, a stream that later breaks with a
 *   retryable error (`storage_short_read`, a dropped connection) is re-opened with a byte range
 *   starting where it stopped, so the caller sees one uninterrupted stream. Resuming assumes the
 *   object was not replaced meanwhile (our objects are written once).
 * - `list` resumes a broken listing after the last key it yielded (`startAfter`).
 */
export function withRetry(inner: StorageBackend, opts: RetryOptions = {}): StorageBackend {
  return new RetryBackend(inner, opts);
}

class RetryBackend implements StorageBackend {
  readonly name: string;
  readonly #inner: StorageBackend;
  readonly #attempts: number;
  readonly #base: number;
  readonly #max: number;
  readonly #resume: boolean;
  readonly #onRetry: ((info: RetryInfo) => void) | undefined;
  readonly #random: () => number;

  constructor(inner: StorageBackend, opts: RetryOptions) {
    this.name = inner.name;
    this.#inner = inner;
    this.#attempts = Math.max(1, opts.attempts ?? 5);
    this.#base = Math.max(0, opts.baseDelayMs ?? 200);
    this.#max = Math.max(this.#base, opts.maxDelayMs ?? 10_000);
    this.#resume = opts.resumeReads ?? true;
    this.#onRetry = opts.onRetry;
    this.#random = opts.random ?? Math.random;
  }

  #delay(attempt: number): number {
    const cap = Math.min(this.#max, this.#base * 2 ** (attempt - 1));
    return Math.round(cap / 2 + (this.#random() * cap) / 2);
  }

  /** Wait before retry number `attempt` (or rethrow `error` when it must not be retried). */
  async #backoff(info: { op: StorageOp; key?: string | undefined; attempt: number; error: unknown; signal?: AbortSignal | undefined }): Promise<void> {
    const { op, key, attempt, error, signal } = info;
    if (isPermanent(error) || attempt >= this.#attempts || signal?.aborted) throw error;
    const delayMs = this.#delay(attempt);
    this.#onRetry?.({ provider: this.name, op, ...(key === undefined ? {} : { key }), attempt, delayMs, error });
    await sleep({ ms: delayMs, signal, provider: this.name });
  }

  async #run<T>(call: { op: StorageOp; key?: string; signal?: AbortSignal | undefined; once?: boolean }, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        if (call.once) throw error;
        await this.#backoff({ op: call.op, key: call.key, attempt, error, signal: call.signal });
      }
    }
  }

  put(key: string, body: PutBody, opts?: PutOptions): Promise<PutResult> {
    return this.#run({ op: "put", key, signal: opts?.signal, once: !isReplayable(body) }, () => this.#inner.put(key, body, opts));
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    const open = (range: ByteRange | undefined): Promise<Readable> =>
      this.#run({ op: "get", key, signal: opts.signal }, () => this.#inner.get(key, { ...opts, ...(range ? { range } : {}) }));
    const first = await open(opts.range);
    if (!this.#resume) return first;
    const start = opts.range?.start ?? 0;
    const end = opts.range?.end;
    const backoff = this.#backoff.bind(this);
    // Until the consumer pulls, nobody listens: keep an early error (an abort before the first read)
    // from crashing the process; the iteration below still sees it (the stream is destroyed with it).
    let source = first.on("error", () => {});
    async function* resuming(): AsyncGenerator<Buffer> {
      let received = 0;
      let receivedAtLastFailure = 0;
      for (let failures = 1; ; ) {
        try {
          for await (const chunk of source) {
            received += (chunk as Buffer).length;
            yield chunk as Buffer;
          }
          return;
        } catch (error) {
          source.destroy();
          if (received > receivedAtLastFailure) failures = 1; // progress was made: a fresh budget
          receivedAtLastFailure = received;
          await backoff({ op: "get", key, attempt: failures++, error, signal: opts.signal });
          if (end !== undefined && start + received > end) return;
          source = (await open({ start: start + received, ...(end === undefined ? {} : { end }) })).on("error", () => {});
        }
      }
    }
    const out = Readable.from(resuming(), { objectMode: false });
    out.once("close", () => source.destroy()); // destroyed before its first read, the generator never ran: the open copy is let go here
    return out;
  }

  head(key: string, opts?: OpOptions): Promise<ObjectInfo | null> {
    return this.#run({ op: "head", key, signal: opts?.signal }, () => this.#inner.head(key, opts));
  }

  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<ListEntry> {
    let last = opts.startAfter;
    let lastAtFailure = last;
    for (let failures = 1; ; ) {
      try {
        for await (const entry of this.#inner.list(prefix, { ...opts, ...(last === undefined ? {} : { startAfter: last }) })) {
          last = entry.key;
          yield entry;
        }
        return;
      } catch (error) {
        if (last !== lastAtFailure) failures = 1; // progress was made: a fresh budget
        lastAtFailure = last;
        await this.#backoff({ op: "list", attempt: failures++, error, signal: opts.signal });
      }
    }
  }

  delete(key: string, opts?: OpOptions): Promise<void> {
    return this.#run({ op: "delete", key, signal: opts?.signal }, () => this.#inner.delete(key, opts));
  }
}
