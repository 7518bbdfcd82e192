import { abortedError } from "../../errors";

/** A counting semaphore: at most `size` holders at once, waiters served first come, first served. */
export class Semaphore {
  readonly #size: number;
  #held = 0;
  readonly #waiters: Array<() => void> = [];

  constructor(size: number) {
    this.#size = Math.max(1, Math.floor(size));
  }

  get held(): number {
    return this.#held;
  }
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Runs `fn` in a slot, waiting for one first (in turn); the slot is released when `fn` settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire({ provider: "semaphore" }); // no signal: never aborted
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Wait for a slot; returns its release function (idempotent). Rejects with `storage_aborted` if `signal` fires while waiting. */
  async acquire(opts: { signal?: AbortSignal | undefined; provider: string }): Promise<() => void> {
    const { signal, provider } = opts;
    if (signal?.aborted) throw abortedError(provider);
    if (this.#held < this.#size) {
      this.#held++;
    } else {
      await new Promise<void>((resolve, reject) => {
        const grant = (): void => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = (): void => {
          const i = this.#waiters.indexOf(grant);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(abortedError(provider));
        };
        this.#waiters.push(grant);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next)
        next(); // the slot passes straight to the next waiter
      else this.#held--;
    };
  }
}
