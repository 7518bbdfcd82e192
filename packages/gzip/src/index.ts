// gzip for artifacts: libdeflate (a small native addon, build/deflate.node) when it was built,
// node:zlib otherwise. The output is gzip either way; what libdeflate changes is the cost: about
// 40 % less CPU at level 6 on COPY text than zlib, and a few per cent smaller.
//
// libdeflate compresses whole buffers, so a stream is cut into chunks of `chunkSize` bytes and each
// becomes a gzip member of its own, concatenated (RFC 1952 §2.2: a gzip file is a series of
// members; gunzip, zlib and Node read them as one stream). Chunks are compressed on the thread
// pool, `parallel` at a time, and written in order.
import { createRequire } from "node:module";
import { Transform, type TransformCallback } from "node:stream";
import { createGzip, gzip as zlibGzip, gzipSync as zlibGzipSync } from "node:zlib";
import { promisify } from "node:util";

export type GzipEngine = "libdeflate" | "zlib";

/** deflate.c: each call writes one gzip member into `output` (≥ gzipBound bytes) and returns its size. */
interface Native {
  version: number;
  gzipBound(length: number): number;
  gzipSync(input: Uint8Array, level: number, output: Buffer): number;
  gzip(input: Uint8Array, level: number, output: Buffer): Promise<number>;
}

/** The functions below, as deflate.c exports them (its `version`). */
const ADDON_VERSION = 2;

/** Where the addon is: build/ beside src/ in the workspace, or beside the bundle (an app's dist/, the one-file CLI). */
function requireAddon(): Native {
  const require = createRequire(import.meta.url);
  try {
    return require("../build/deflate.node") as Native;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw err;
    return require("./deflate.node") as Native;
  }
}

function loadNative(): Native | undefined {
  try {
    const lib = requireAddon();
    if (lib.version === ADDON_VERSION) return lib;
    process.emitWarning(
      `@hesaab/gzip: build/deflate.node is version ${lib.version}, not ${ADDON_VERSION} (rebuild: pnpm --filter @hesaab/gzip build:native); compressing with node:zlib`,
      {
        code: "HESAAB_GZIP_FALLBACK",
      },
    );
    return undefined;
  } catch (err) {
    // Not built (no compiler or no libdeflate-dev at install: the build script said so) is a supported
    // setup; built but not loadable (libdeflate removed since) is worth a word: it costs CPU.
    if ((err as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") {
      process.emitWarning(`@hesaab/gzip: build/deflate.node does not load (${(err as Error).message}); compressing with node:zlib`, {
        code: "HESAAB_GZIP_FALLBACK",
      });
    }
    return undefined;
  }
}

const native = loadNative();

/** What compresses by default: libdeflate when its addon was built, node:zlib otherwise. */
export const defaultGzipEngine: GzipEngine = native ? "libdeflate" : "zlib";

/** The engines this process can use (zlib always). */
export const gzipEngines: readonly GzipEngine[] = native ? ["libdeflate", "zlib"] : ["zlib"];

export interface GzipOptions {
  /** 1 (fastest) to 9 (smallest), as gzip's -1 … -9. */
  level: number;
  engine?: GzipEngine;
}

function nativeFor(opts: GzipOptions): Native | undefined {
  if (!Number.isInteger(opts.level) || opts.level < 1 || opts.level > 9) throw new RangeError(`gzip level must be an integer from 1 to 9, got ${opts.level}`);
  const engine = opts.engine ?? defaultGzipEngine;
  if (engine === "zlib") return undefined;
  if (!native) throw new Error("the libdeflate gzip engine is not built: apt-get install libdeflate-dev, then pnpm --filter @hesaab/gzip build:native");
  return native;
}

const zlibGzipAsync = promisify(zlibGzip);

/** A member of `input` in `output` (private to the caller until this settles), as a buffer of its own. */
async function nativeMember(lib: Native, level: number, { input, output }: { input: Uint8Array; output: Buffer }): Promise<Buffer> {
  const size = await lib.gzip(input, level, output);
  return Buffer.from(output.subarray(0, size)); // its own size: the bound is ~4x what level 6 takes
}

/** One gzip member of `input`, compressed on the calling thread (for small inputs: no hand-off to the pool). */
export function gzipBuffer(input: Uint8Array, opts: GzipOptions): Buffer {
  const lib = nativeFor(opts);
  if (!lib) return zlibGzipSync(input, { level: opts.level });
  const output = Buffer.allocUnsafe(lib.gzipBound(input.length));
  return Buffer.from(output.subarray(0, lib.gzipSync(input, opts.level, output)));
}

/**
 * One gzip member of `input`, compressed on the thread pool. The input is copied first (~1 % of the
 * work): the caller may reuse, change or transfer its buffer at once (a pool thread reading memory
 * that was changed meanwhile writes a corrupt member; memory detached meanwhile crashes the process).
 */
export function gzipBufferAsync(input: Uint8Array, opts: GzipOptions): Promise<Buffer> {
  const lib = nativeFor(opts);
  const copy = Buffer.from(input); // node:zlib reads the caller's memory on the pool too
  if (!lib) return zlibGzipAsync(copy, { level: opts.level });
  return nativeMember(lib, opts.level, { input: copy, output: Buffer.allocUnsafeSlow(lib.gzipBound(input.length)) });
}

/**
 * Up to this size a buffer is compressed on the calling thread: handing it to the thread pool costs
 * more than it saves (0.3-0.4 ms of CPU per hand-off, measured with zlib), and libdeflate blocks the
 * event loop for ~2 ms at this size, level 6.
 */
const SYNC_MAX = 128 * 1024;

/** One gzip member of `input`: small inputs on the calling thread, larger ones on the pool. */
export async function gzipBytes(input: Uint8Array, opts: GzipOptions): Promise<Buffer> {
  return input.length <= SYNC_MAX ? gzipBuffer(input, opts) : gzipBufferAsync(input, opts);
}

export interface GzipStreamOptions extends GzipOptions {
  /** libdeflate: plaintext bytes per gzip member, at least 64 KiB (default 1 MiB). */
  chunkSize?: number;
  /** libdeflate: members compressed at once on the thread pool (default 2). */
  parallel?: number;
}

/** A Transform from plaintext to gzip, with bounded memory (about `parallel` × `chunkSize` × 2 in flight). */
export function createGzipStream(opts: GzipStreamOptions): Transform {
  const lib = nativeFor(opts);
  const chunkSize = opts.chunkSize ?? 1 << 20;
  const parallel = opts.parallel ?? 2;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 64 * 1024) throw new RangeError(`chunkSize must be an integer of at least 65536, got ${chunkSize}`);
  if (!Number.isSafeInteger(parallel) || parallel < 1) throw new RangeError(`parallel must be a positive integer, got ${parallel}`);
  if (!lib) return createGzip({ level: opts.level, chunkSize: 1 << 16 });
  return new ChunkedGzip({ lib, level: opts.level, chunkSize, parallel });
}

class ChunkedGzip extends Transform {
  readonly #lib: Native;
  readonly #level: number;
  readonly #chunkSize: number;
  readonly #parallel: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #members = 0;
  /** Members being compressed, oldest first. */
  readonly #inFlight: Promise<Buffer>[] = [];
  /**
   * Buffers a member is compressed from and into, reused: a new pair per member would leave
   * megabytes of garbage per member for the collector, and the RSS would show it. A slot is free
   * again only once the pool thread that used it is done.
   */
  readonly #free: { input: Buffer; output: Buffer }[] = [];

  constructor(o: { lib: Native; level: number; chunkSize: number; parallel: number }) {
    super();
    this.#lib = o.lib;
    this.#level = o.level;
    this.#chunkSize = o.chunkSize;
    this.#parallel = o.parallel;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#take(chunk).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    (async () => {
      if (this.#pendingBytes > 0 || this.#members === 0) this.#start(); // an empty input is one empty member, as gzip writes it
      await this.#drain(0);
    })().then(() => callback(), callback);
  }

  /** Cuts `chunk` at member boundaries; each full member starts, and waits while `parallel` are in flight. */
  async #take(chunk: Buffer): Promise<void> {
    for (let at = 0; at < chunk.length; ) {
      const n = Math.min(chunk.length - at, this.#chunkSize - this.#pendingBytes);
      this.#pending.push(chunk.subarray(at, at + n));
      this.#pendingBytes += n;
      at += n;
      if (this.#pendingBytes === this.#chunkSize) {
        this.#start();
        await this.#drain(this.#parallel - 1);
      }
    }
  }

  #start(): void {
    const slot = this.#free.pop() ?? { input: Buffer.allocUnsafeSlow(this.#chunkSize), output: Buffer.allocUnsafeSlow(this.#lib.gzipBound(this.#chunkSize)) };
    let length = 0;
    for (const piece of this.#pending) length += piece.copy(slot.input, length);
    this.#pending = [];
    this.#pendingBytes = 0;
    const member = nativeMember(this.#lib, this.#level, { input: slot.input.subarray(0, length), output: slot.output }).then((out) => {
      this.#free.push(slot);
      return out;
    });
    member.catch(() => {}); // awaited in order by #drain; an earlier one's failure must not leave it unhandled
    this.#inFlight.push(member);
    this.#members++;
  }

  /** Writes out finished members, oldest first, until at most `keep` are in flight. */
  async #drain(keep: number): Promise<void> {
    while (this.#inFlight.length > keep) this.push(await this.#inFlight.shift()!);
  }
}
