import type { Readable } from "node:stream";
import type { GetOptions, ListEntry, ListOptions, ObjectInfo, OpOptions, PutBody, PutOptions, PutResult, StorageBackend } from "../../backend";
import { StorageError } from "../../errors";

/**
 * Every key lives under `prefix` (`"ci-123/"`) in the real bucket: keys given are prefixed, keys
 * listed come back without it. The layout functions then work unchanged inside a shared bucket
 * (parallel test runs, a demo, a bucket shared with other data). A prefix without a trailing "/"
 * gets one.
 */
export function withKeyPrefix(inner: StorageBackend, prefix: string): StorageBackend {
  if (prefix === "") return inner;
  const root = prefix.endsWith("/") ? prefix : `${prefix}/`;
  if (
    root.startsWith("/") ||
    root
      .split("/")
      .slice(0, -1)
      .some((s) => s === "" || s === "." || s === "..")
  ) {
    throw new StorageError({ code: "storage_invalid_argument", provider: inner.name, message: `${inner.name}: invalid key prefix`, context: { prefix } });
  }
  return new PrefixBackend(inner, root);
}

class PrefixBackend implements StorageBackend {
  readonly name: string;
  readonly #inner: StorageBackend;
  readonly #root: string;

  constructor(inner: StorageBackend, root: string) {
    this.name = inner.name;
    this.#inner = inner;
    this.#root = root;
  }

  async put(key: string, body: PutBody, opts?: PutOptions): Promise<PutResult> {
    const r = await this.#inner.put(this.#root + key, body, opts);
    return { ...r, key };
  }
  get(key: string, opts?: GetOptions): Promise<Readable> {
    return this.#inner.get(this.#root + key, opts);
  }
  head(key: string, opts?: OpOptions): Promise<ObjectInfo | null> {
    return this.#inner.head(this.#root + key, opts);
  }
  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<ListEntry> {
    const startAfter = opts.startAfter === undefined ? {} : { startAfter: this.#root + opts.startAfter };
    for await (const entry of this.#inner.list(this.#root + prefix, { ...opts, ...startAfter })) {
      yield { ...entry, key: entry.key.slice(this.#root.length) };
    }
  }
  delete(key: string, opts?: OpOptions): Promise<void> {
    return this.#inner.delete(this.#root + key, opts);
  }
}
