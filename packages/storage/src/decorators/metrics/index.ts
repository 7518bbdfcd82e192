import { Transform, type Readable } from "node:stream";
import { describeError } from "@hesaab/config";
import {
  STORAGE_OPS,
  type GetOptions,
  type ListEntry,
  type ListOptions,
  type ObjectInfo,
  type OpOptions,
  type PutBody,
  type PutOptions,
  type PutResult,
  type StorageBackend,
  type StorageOp,
} from "../../backend";

/** One finished operation, as given to `log`. */
export interface StorageOpEvent {
  provider: string;
  op: StorageOp;
  /** The key (or, for `list`, the prefix). */
  key: string;
  ok: boolean;
  /** Wall time from the call to the end (for `get`: until the stream ended; for `list`: until the listing ended). */
  ms: number;
  /** Bytes stored (`put`) or read (`get`); entries listed (`list`). */
  bytes?: number;
  items?: number;
  error?: { code: string; message: string };
}

export interface OpCounters {
  calls: number;
  errors: number;
  bytes: number;
  items: number;
  totalMs: number;
  maxMs: number;
}

export interface StorageMetrics {
  provider: string;
  ops: Record<StorageOp, OpCounters>;
}

export interface MetricsOptions {
  /** Called once per finished operation (success or failure). Must not throw. */
  log?: (event: StorageOpEvent) => void;
}

/** A backend that counts what passes through it. */
export interface MeteredBackend extends StorageBackend {
  /** A copy of the counters so far. */
  snapshot(): StorageMetrics;
  reset(): void;
}

/** Process-wide listeners of every metered backend's operations (see `observeStorageOps`). */
const processObservers = new Set<(event: StorageOpEvent) => void>();

/**
 * Listen to every finished operation of every metered backend of this process, those opened later
 * included: a service's metrics see the backends its capabilities open deep inside (tenant-backup,
 * storage-ops) without threading a callback through each of them. Returns the function that stops listening.
 */
export function observeStorageOps(observer: (event: StorageOpEvent) => void): () => void {
  processObservers.add(observer);
  return () => void processObservers.delete(observer);
}

/**
 * Count calls, errors, bytes and time per operation, and report every finished operation to an
 * optional `log` callback. Placed inside the retry decorator (see `openBackend`), it sees every
 * attempt, so `errors` counts the failures retries hid.
 */
export function withMetrics(inner: StorageBackend, opts: MetricsOptions = {}): MeteredBackend {
  return new MetricsBackend(inner, opts);
}

function emptyCounters(): Record<StorageOp, OpCounters> {
  return Object.fromEntries(STORAGE_OPS.map((op) => [op, { calls: 0, errors: 0, bytes: 0, items: 0, totalMs: 0, maxMs: 0 }])) as Record<StorageOp, OpCounters>;
}

/** An operation's error in its event: `describeError`'s code and message. */
function errorOf(err: unknown): { code: string; message: string } {
  const { code, message } = describeError(err);
  return { code, message };
}

class MetricsBackend implements MeteredBackend {
  readonly name: string;
  readonly #inner: StorageBackend;
  readonly #log: ((event: StorageOpEvent) => void) | undefined;
  #ops = emptyCounters();

  constructor(inner: StorageBackend, opts: MetricsOptions) {
    this.name = inner.name;
    this.#inner = inner;
    this.#log = opts.log;
  }

  snapshot(): StorageMetrics {
    return { provider: this.name, ops: structuredClone(this.#ops) };
  }
  reset(): void {
    this.#ops = emptyCounters();
  }

  #record(e: { op: StorageOp; key: string; started: number; bytes?: number; items?: number; error?: unknown; failed?: boolean }): void {
    const ms = performance.now() - e.started;
    const c = this.#ops[e.op];
    c.calls++;
    const failed = e.failed ?? e.error !== undefined;
    if (failed) c.errors++;
    c.bytes += e.bytes ?? 0;
    c.items += e.items ?? 0;
    c.totalMs += ms;
    c.maxMs = Math.max(c.maxMs, ms);
    if (!this.#log && processObservers.size === 0) return;
    const event: StorageOpEvent = {
      provider: this.name,
      op: e.op,
      key: e.key,
      ok: !failed,
      ms,
      ...(e.bytes === undefined ? {} : { bytes: e.bytes }),
      ...(e.items === undefined ? {} : { items: e.items }),
      ...(failed ? { error: errorOf(e.error) } : {}),
    };
    this.#log?.(event);
    for (const observer of processObservers) {
      try {
        observer(event);
      } catch {
        // an observer is a metrics sink: its failure must never fail a storage operation
      }
    }
  }

  async #timed<T>(call: { op: StorageOp; key: string; bytes?: (r: T) => number }, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await fn();
      this.#record({ op: call.op, key: call.key, started, ...(call.bytes ? { bytes: call.bytes(result) } : {}) });
      return result;
    } catch (error) {
      this.#record({ op: call.op, key: call.key, started, error, failed: true });
      throw error;
    }
  }

  put(key: string, body: PutBody, opts?: PutOptions): Promise<PutResult> {
    return this.#timed({ op: "put", key, bytes: (r: PutResult) => r.size }, () => this.#inner.put(key, body, opts));
  }

  async get(key: string, opts?: GetOptions): Promise<Readable> {
    const started = performance.now();
    let stream: Readable;
    try {
      stream = await this.#inner.get(key, opts);
    } catch (error) {
      this.#record({ op: "get", key, started, error, failed: true });
      throw error;
    }
    let bytes = 0;
    let done = false;
    const finish = (error?: unknown): void => {
      if (done) return;
      done = true;
      this.#record({ op: "get", key, started, bytes, ...(error === undefined ? {} : { error, failed: true }) });
    };
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        cb(null, chunk);
      },
      flush(cb) {
        finish();
        cb();
      },
    });
    stream.on("error", (err) => {
      finish(err);
      counter.destroy(err);
    });
    counter.once("close", () => {
      if (!done) finish(); // the caller stopped reading early: its choice, not a failure
      if (!stream.destroyed) stream.destroy();
    });
    stream.pipe(counter);
    return counter;
  }

  async head(key: string, opts?: OpOptions): Promise<ObjectInfo | null> {
    return this.#timed({ op: "head", key }, () => this.#inner.head(key, opts));
  }

  async *list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry> {
    const started = performance.now();
    let items = 0;
    let finished = false;
    try {
      for await (const entry of this.#inner.list(prefix, opts)) {
        items++;
        yield entry;
      }
      finished = true;
      this.#record({ op: "list", key: prefix, started, items });
    } catch (error) {
      finished = true;
      this.#record({ op: "list", key: prefix, started, items, error, failed: true });
      throw error;
    } finally {
      if (!finished) this.#record({ op: "list", key: prefix, started, items }); // the caller stopped early: not a failure
    }
  }

  delete(key: string, opts?: OpOptions): Promise<void> {
    return this.#timed({ op: "delete", key }, () => this.#inner.delete(key, opts));
  }
}
