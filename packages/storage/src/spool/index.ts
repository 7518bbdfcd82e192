import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import type { GetOptions, ListOptions, OpOptions, PutBody, PutOptions, PutResult, StorageBackend } from "../backend";
import { fsBackend } from "../backends/fs";
import { StorageError } from "../errors";
import { keysSidecarKey } from "../layout";
import { openBody } from "../streams";

/** What the spool knows of one sealed artifact waiting for a provider (`entries/<backupId>.json`). */
export interface SpoolEntry {
  backupId: string;
  /** The artifact's object key (the same key it gets in every provider). */
  key: string;
  /** SHA-256 (hex) and size of the sealed bytes: the drain checks them before any provider completes its write. */
  sha256: string;
  size: number;
  tenantId: string | null;
  spooledAt: string;
}

/**
 * A bounded local directory holding sealed artifacts (BKP1: already encrypted, never plaintext) that
 * no provider took, until storage-svc uploads them. Layout under `dir`:
 *
 *     store/     an fs backend ("spool"): the artifact and its key sidecar, under their object keys
 *     entries/   <backupId>.json: one per spooled artifact, written last (its presence means "complete")
 *
 * Every write is atomic (temp file, fsync, rename): a process killed mid-write leaves a temp file,
 * never a partial artifact or entry. The spool never holds more than `maxBytes` (puts count their
 * bytes as they go and fail with `storage_spool_full` past it).
 */
export interface LocalSpool {
  readonly dir: string;
  readonly maxBytes: number;
  /** The spool as a storage backend named `spool`: write an artifact to it as to any provider. Puts are capped. */
  readonly backend: StorageBackend;
  /** Bytes on disk under the spool (artifacts, sidecars, temp files). */
  usedBytes(): Promise<number>;
  /** Records a spooled artifact (after its bytes and key sidecar were written): atomic. */
  record(entry: SpoolEntry): Promise<void>;
  /** Every recorded artifact, oldest first. An entry that does not parse is skipped (reported through `onBadEntry`). */
  entries(opts?: { onBadEntry?: (file: string, error: unknown) => void }): Promise<SpoolEntry[]>;
  /** Removes an artifact, its key sidecar, then its entry. Idempotent. */
  discard(entry: Pick<SpoolEntry, "backupId" | "key">): Promise<void>;
}

export function openSpool({ dir, maxBytes }: { dir: string; maxBytes: number }): LocalSpool {
  const storeDir = path.join(dir, "store");
  const entriesDir = path.join(dir, "entries");
  const inner = fsBackend({ name: "spool", root: storeDir, create: true });
  const usedBytes = () => treeBytes(dir);
  const backend = new CappedBackend({ inner, maxBytes, usedBytes });
  return {
    dir,
    maxBytes,
    backend,
    usedBytes,
    async record(entry) {
      await mkdir(entriesDir, { recursive: true });
      await writeAtomically(path.join(entriesDir, `${entry.backupId}.json`), Buffer.from(JSON.stringify(entry)));
    },
    async entries({ onBadEntry } = {}) {
      let files: string[];
      try {
        files = (await readdir(entriesDir)).filter((f) => f.endsWith(".json"));
      } catch (err) {
        if ((err as { code?: string }).code === "ENOENT") return [];
        throw err;
      }
      const found: SpoolEntry[] = [];
      for (const file of files) {
        try {
          found.push(parseEntry(await readFile(path.join(entriesDir, file), "utf8")));
        } catch (error) {
          onBadEntry?.(file, error);
        }
      }
      return found.sort((a, b) => a.spooledAt.localeCompare(b.spooledAt) || a.backupId.localeCompare(b.backupId));
    },
    async discard(entry) {
      // bytes first, the entry last: a discard killed half way leaves an entry the next drain finishes
      await inner.delete(entry.key);
      await inner.delete(keysSidecarKey(entry.key));
      await rm(path.join(entriesDir, `${entry.backupId}.json`), { force: true });
    },
  };
}

function parseEntry(text: string): SpoolEntry {
  const e = JSON.parse(text) as Partial<SpoolEntry>;
  const ok =
    typeof e.backupId === "string" &&
    typeof e.key === "string" &&
    typeof e.sha256 === "string" &&
    /^[0-9a-f]{64}$/.test(e.sha256) &&
    Number.isSafeInteger(e.size) &&
    typeof e.spooledAt === "string";
  if (!ok) throw new Error("not a spool entry");
  return { backupId: e.backupId!, key: e.key!, sha256: e.sha256!, size: e.size!, tenantId: e.tenantId ?? null, spooledAt: e.spooledAt! };
}

/** temp file + fsync + rename + fsync of the folder: after it returns, the file is there whole, even across a power cut. */
async function writeAtomically(file: string, bytes: Buffer): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const folder = await open(path.dirname(file), "r");
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return 0;
    throw err;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await treeBytes(p);
    else if (e.isFile())
      total += await stat(p).then(
        (s) => s.size,
        () => 0,
      ); // removed meanwhile
  }
  return total;
}

/**
 * The fs backend with a cap: a put fails with `storage_spool_full` as soon as the spool's bytes on
 * disk, the bytes of puts in flight and this put's bytes so far would pass `maxBytes` (its temp file
 * is removed, nothing is kept). The size of a streamed artifact is not known up front, so the bytes
 * are counted as they pass.
 */
class CappedBackend implements StorageBackend {
  readonly name: string;
  readonly #inner: StorageBackend;
  readonly #maxBytes: number;
  readonly #usedBytes: () => Promise<number>;
  #inFlight = 0;

  constructor(o: { inner: StorageBackend; maxBytes: number; usedBytes: () => Promise<number> }) {
    this.name = o.inner.name;
    this.#inner = o.inner;
    this.#maxBytes = o.maxBytes;
    this.#usedBytes = o.usedBytes;
  }

  async put(key: string, body: PutBody, opts?: PutOptions): Promise<PutResult> {
    const data = openBody(body);
    const base = await this.#usedBytes().catch((err: unknown) => {
      if (!Buffer.isBuffer(data)) data.destroy();
      throw err;
    });
    let counted = 0;
    const admit = (n: number): StorageError | undefined => {
      counted += n;
      this.#inFlight += n;
      const total = base + this.#inFlight;
      return total > this.#maxBytes ? this.#full(key, total) : undefined;
    };
    try {
      if (Buffer.isBuffer(data)) {
        const full = admit(data.length);
        if (full) throw full;
        return await this.#inner.put(key, data, opts);
      }
      const counter = new Transform({
        transform: (chunk: Buffer, _enc, cb) => cb(admit(chunk.length) ?? null, chunk),
      });
      data.on("error", (err) => counter.destroy(err));
      // the inner put may attach to the counter only after an await of its own: a cap reached before
      // then would be an unhandled 'error'. The error still reaches the caller, through the inner put
      // (a stream destroyed with an error reports it to whatever reads it later).
      counter.on("error", () => {});
      return await this.#inner.put(key, data.pipe(counter), opts).catch((err: unknown) => {
        data.destroy(); // the contract: a failed put leaves its body destroyed, so the producer stops
        throw err;
      });
    } finally {
      this.#inFlight -= counted;
    }
  }

  #full(key: string, total: number): StorageError {
    return new StorageError({
      code: "storage_spool_full",
      provider: this.name,
      key,
      retryable: true,
      message: `spool: ${key} does not fit: the spool would hold more than its ${this.#maxBytes} bytes`,
      hint: "The spool empties as storage-svc uploads it once a provider answers; raise HESAAB_SPOOL_MAX_BYTES if the disk allows",
      context: { maxBytes: this.#maxBytes, wouldHold: total },
    });
  }

  get(key: string, opts?: GetOptions): Promise<Readable> {
    return this.#inner.get(key, opts);
  }
  head(key: string, opts?: OpOptions) {
    return this.#inner.head(key, opts);
  }
  list(prefix: string, opts?: ListOptions) {
    return this.#inner.list(prefix, opts);
  }
  delete(key: string, opts?: OpOptions): Promise<void> {
    return this.#inner.delete(key, opts);
  }
}
