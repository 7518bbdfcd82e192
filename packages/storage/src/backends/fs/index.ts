import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { GetOptions, ListEntry, ListOptions, ObjectInfo, OpOptions, PutBody, PutOptions, PutResult, StorageBackend } from "../../backend";
import { StorageError, abortedError, isStorageError } from "../../errors";
import { guardLength, openBody } from "../../streams";
import { compareKeys } from "../../key-order";
import { assertValidKey, assertValidPrefix, assertValidPut, assertValidRange } from "../../validate";

export interface FsBackendConfig {
  /** Provider name in errors and metrics; default `"fs"`. */
  name?: string;
  /** The directory that plays the bucket. */
  root: string;
  /** Create `root` when it does not exist (otherwise: `storage_bucket_missing`). Default false. */
  create?: boolean;
}

interface MetaFile {
  metadata: Record<string, string>;
  contentType?: string;
}

/**
 * A local directory as an object store, for tests, development and the disaster case where a bucket
 * was copied to disk. Layout under `root`: `objects/<key>` (the bytes), `meta/<key>.json` (metadata,
 * content type), `tmp/` (writes in progress).
 *
 * A put writes and fsyncs a temp file, then renames the metadata file and the object into place, so
 * a reader never sees a partial object. Not atomic across the two renames for an *overwrite*: a reader
 * racing an overwrite can see the new metadata with the old bytes for an instant. Temp files of a
 * crashed process stay in `tmp/`. `list` collects the matching keys in memory to sort them.
 */
export function fsBackend(config: FsBackendConfig): StorageBackend {
  return new FsBackend(config);
}

class FsBackend implements StorageBackend {
  readonly name: string;
  readonly #root: string;
  readonly #create: boolean;
  #ready = false;

  constructor(config: FsBackendConfig) {
    this.name = config.name ?? "fs";
    this.#root = config.root;
    this.#create = config.create ?? false;
  }

  #objectPath(key: string): string {
    return join(this.#root, "objects", key);
  }
  #metaPath(key: string): string {
    return join(this.#root, "meta", `${key}.json`);
  }

  async #ensureRoot(): Promise<void> {
    if (this.#ready) return;
    if (this.#create) await mkdir(this.#root, { recursive: true });
    try {
      const s = await stat(this.#root);
      if (!s.isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
    } catch (err) {
      throw this.#bucketMissing(err);
    }
    await mkdir(join(this.#root, "objects"), { recursive: true });
    await mkdir(join(this.#root, "meta"), { recursive: true });
    await mkdir(join(this.#root, "tmp"), { recursive: true });
    this.#ready = true;
  }

  #bucketMissing(cause: unknown): StorageError {
    return new StorageError({
      code: "storage_bucket_missing",
      provider: this.name,
      message: `${this.name}: storage directory ${this.#root} does not exist`,
      hint: "Create the directory or point the fs backend at an existing one",
      cause,
      context: { root: this.#root },
    });
  }

  /** Map a filesystem error to a StorageError (ENOENT is handled by callers, it means different things). */
  #mapError(err: unknown, key?: string): unknown {
    if (isStorageError(err)) return err;
    const code = (err as { code?: string } | undefined)?.code;
    const keyed = key === undefined ? {} : { key };
    if (code === "EACCES" || code === "EPERM") {
      return new StorageError({
        code: "storage_auth_failed",
        provider: this.name,
        ...keyed,
        message: `${this.name}: permission denied under ${this.#root}`,
        cause: err,
      });
    }
    if (code === "ENOTDIR" || code === "EISDIR" || code === "EEXIST" || code === "ENAMETOOLONG") {
      return new StorageError({
        code: "storage_invalid_argument",
        provider: this.name,
        ...keyed,
        message: `${this.name}: key collides with another key's folder`,
        cause: err,
      });
    }
    if (code === "ABORT_ERR") return abortedError(this.name, key);
    return new StorageError({
      code: "storage_unavailable",
      provider: this.name,
      ...keyed,
      message: `${this.name}: filesystem error ${code ?? "unknown"}`,
      cause: err,
    });
  }

  async put(key: string, body: PutBody, opts: PutOptions = {}): Promise<PutResult> {
    assertValidPut({ provider: this.name, key, body, opts });
    const data = openBody(body);
    try {
      await this.#ensureRoot();
    } catch (err) {
      if (!Buffer.isBuffer(data)) data.destroy();
      throw err;
    }
    const tmp = join(this.#root, "tmp", `${randomBytes(12).toString("hex")}`);
    let size = 0;
    let bodyError: unknown;
    try {
      if (Buffer.isBuffer(data)) {
        await writeFile(tmp, data, { signal: opts.signal });
        size = data.length;
      } else {
        data.once("error", (err) => {
          bodyError ??= err;
        });
        const counter = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            size += chunk.length;
            cb(null, chunk);
          },
        });
        await pipeline(data, counter, createWriteStream(tmp), opts.signal ? { signal: opts.signal } : {});
      }
      const fh = await open(tmp, "r+");
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      const meta: MetaFile = { metadata: { ...opts.metadata }, ...(opts.contentType ? { contentType: opts.contentType } : {}) };
      await mkdir(dirname(this.#metaPath(key)), { recursive: true });
      await mkdir(dirname(this.#objectPath(key)), { recursive: true });
      const metaTmp = `${tmp}.meta`;
      await writeFile(metaTmp, JSON.stringify(meta));
      await rename(metaTmp, this.#metaPath(key));
      await rename(tmp, this.#objectPath(key));
      return { key, size };
    } catch (err) {
      await rm(tmp, { force: true });
      await rm(`${tmp}.meta`, { force: true });
      if (opts.signal?.aborted) throw abortedError(this.name, key);
      if (bodyError !== undefined) throw bodyError;
      throw this.#mapError(err, key);
    }
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    assertValidKey(key, this.name);
    assertValidRange(opts.range, this.name);
    if (opts.signal?.aborted) throw abortedError(this.name, key);
    await this.#ensureRoot();
    let fh;
    try {
      fh = await open(this.#objectPath(key), "r");
    } catch (err) {
      if ((err as { code?: string }).code === "ENOENT" || (err as { code?: string }).code === "ENOTDIR") throw this.#notFound(key);
      throw this.#mapError(err, key);
    }
    try {
      const { size } = await fh.stat();
      const start = opts.range?.start ?? 0;
      if (opts.range && start >= size) {
        throw new StorageError({
          code: "storage_invalid_range",
          provider: this.name,
          key,
          message: `${this.name}: range starts past the end of ${key}`,
          context: { start, size },
        });
      }
      const end = Math.min(opts.range?.end ?? size - 1, size - 1);
      const expected = Math.max(0, end - start + 1);
      const source = expected === 0 ? fh.createReadStream() : fh.createReadStream({ start, end });
      return guardLength({ source, expected, provider: this.name, key, signal: opts.signal });
    } catch (err) {
      await fh.close();
      throw this.#mapError(err, key);
    }
  }

  #notFound(key: string): StorageError {
    return new StorageError({ code: "storage_not_found", provider: this.name, key, message: `${this.name}: object ${key} not found` });
  }

  async head(key: string, opts: OpOptions = {}): Promise<ObjectInfo | null> {
    assertValidKey(key, this.name);
    if (opts.signal?.aborted) throw abortedError(this.name, key);
    await this.#ensureRoot();
    try {
      const s = await stat(this.#objectPath(key));
      if (!s.isFile()) return null;
      const meta = await this.#readMeta(key);
      return { size: s.size, lastModified: s.mtime, metadata: meta.metadata, ...(meta.contentType ? { contentType: meta.contentType } : {}) };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "ENOENT" || code === "ENOTDIR") return null;
      throw this.#mapError(err, key);
    }
  }

  async #readMeta(key: string): Promise<MetaFile> {
    try {
      return JSON.parse(await readFile(this.#metaPath(key), "utf8")) as MetaFile;
    } catch (err) {
      if ((err as { code?: string }).code === "ENOENT") return { metadata: {} };
      throw err;
    }
  }

  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<ListEntry> {
    assertValidPrefix(prefix, this.name);
    await this.#ensureRoot();
    const objects = join(this.#root, "objects");
    const slash = prefix.lastIndexOf("/");
    const startDir = slash < 0 ? "" : prefix.slice(0, slash);
    const keys: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(join(objects, rel), { withFileTypes: true });
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "ENOENT" || code === "ENOTDIR") return;
        throw this.#mapError(err);
      }
      for (const entry of entries) {
        const key = rel === "" ? entry.name : `${rel}/${entry.name}`;
        if (entry.isDirectory()) {
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(key);
        } else if (entry.isFile() && key.startsWith(prefix)) {
          keys.push(key);
        }
      }
    };
    await walk(startDir);
    keys.sort(compareKeys);
    const after = opts.startAfter;
    for (const key of after === undefined ? keys : keys.filter((k) => compareKeys(k, after) > 0)) {
      if (opts.signal?.aborted) throw abortedError(this.name);
      try {
        const s = await stat(join(objects, key));
        yield { key, size: s.size, lastModified: s.mtime };
      } catch (err) {
        if ((err as { code?: string }).code === "ENOENT") continue; // deleted during the listing
        throw this.#mapError(err, key);
      }
    }
  }

  async delete(key: string, opts: OpOptions = {}): Promise<void> {
    assertValidKey(key, this.name);
    if (opts.signal?.aborted) throw abortedError(this.name, key);
    await this.#ensureRoot();
    try {
      await rm(this.#objectPath(key), { force: true });
      await rm(this.#metaPath(key), { force: true });
    } catch (err) {
      if ((err as { code?: string }).code === "ENOTDIR") return;
      throw this.#mapError(err, key);
    }
  }
}
