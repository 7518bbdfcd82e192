import type { Readable } from "node:stream";
import type { GetOptions, ListEntry, ListOptions, ObjectInfo, OpOptions, PutBody, PutOptions, PutResult, StorageBackend } from "../../backend";
import { Semaphore } from "./semaphore";

export interface LimitOptions {
  /** Operations in flight at once against this backend. Default 8. */
  concurrency?: number;
}

/**
 * At most `concurrency` operations at once (restic's `sema` backend). A slot is held for the whole
 * operation: a `put` until its body is stored, a `get` until the returned stream ends, errors or is
 * destroyed (a caller that opens more streams than slots and reads them one after another will
 * wait forever: read, or destroy, what you open), a `list` only while it fetches a page.
 */
export function withLimit(inner: StorageBackend, opts: LimitOptions = {}): StorageBackend {
  return new LimitBackend(inner, new Semaphore(opts.concurrency ?? 8));
}

class LimitBackend implements StorageBackend {
  readonly name: string;
  readonly #inner: StorageBackend;
  readonly #sem: Semaphore;

  constructor(inner: StorageBackend, sem: Semaphore) {
    this.name = inner.name;
    this.#inner = inner;
    this.#sem = sem;
  }

  async #with<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    const release = await this.#sem.acquire({ signal, provider: this.name });
    try {
      return await fn();
    } finally {
      release();
    }
  }

  put(key: string, body: PutBody, opts?: PutOptions): Promise<PutResult> {
    return this.#with(opts?.signal, () => this.#inner.put(key, body, opts));
  }

  async get(key: string, opts?: GetOptions): Promise<Readable> {
    const release = await this.#sem.acquire({ signal: opts?.signal, provider: this.name });
    try {
      const stream = await this.#inner.get(key, opts);
      stream.once("close", release);
      if (stream.destroyed) release();
      return stream;
    } catch (err) {
      release();
      throw err;
    }
  }

  head(key: string, opts?: OpOptions): Promise<ObjectInfo | null> {
    return this.#with(opts?.signal, () => this.#inner.head(key, opts));
  }

  list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry> {
    const inner = this.#inner;
    const withSlot = this.#with.bind(this);
    return {
      [Symbol.asyncIterator]() {
        const it = inner.list(prefix, opts)[Symbol.asyncIterator]();
        return {
          next: () => withSlot(opts?.signal, () => it.next()),
          return: async (value?: unknown) => (it.return ? it.return(value) : { done: true as const, value: undefined }),
        };
      },
    };
  }

  delete(key: string, opts?: OpOptions): Promise<void> {
    return this.#with(opts?.signal, () => this.#inner.delete(key, opts));
  }
}
