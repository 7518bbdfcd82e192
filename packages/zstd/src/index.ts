// zstd for artifacts: libzstd (a small native addon, build/zstd.node) when it was built, node:zlib's
// zstd where the running Node has it (≥ 22.15), neither on an older Node without the addon: then
// `assertZstd` says what to do, and every function here throws the same.
//
// Compression mirrors @hesaab/gzip: libzstd compresses whole buffers, so a stream becomes a series of
// zstd frames of `chunkSize` plaintext bytes each (8 MiB: see FRAME_SIZE) (RFC 8878 §3.1: frames concatenate; `zstd -d` and
// every decoder read them as one stream), compressed on the thread pool, `parallel` at a time.
import { createRequire } from "node:module";
import { Transform, type TransformCallback } from "node:stream";
import { promisify } from "node:util";
import { FramewiseDecompress, truncated } from "./frames";
import { compressMember, memberStreamSettings, MemberStream, type MemberCodec } from "@hesaab/gzip/members";
import { loadAddon } from "@hesaab/native";

export type ZstdEngine = "libzstd" | "zlib";

/** zstd.c (see its head comment). */
interface Native {
  version: number;
  compressBound(length: number): number;
  compressSync(input: Uint8Array, level: number, output: Buffer): number;
  compress(input: Uint8Array, level: number, output: Buffer): Promise<number>;
  createDecompressor(): object;
  /** [input bytes read, output bytes written, 0 when every frame begun has ended]. */
  decompress(decompressor: object, input: Uint8Array, output: Buffer): [number, number, number];
}

/** node:zlib's zstd (Node ≥ 22.15; not in Node 20's types). */
interface ZlibZstd {
  constants: { ZSTD_c_compressionLevel: number; ZSTD_c_checksumFlag: number };
  zstdCompress(input: Uint8Array, opts: ZlibZstdOptions, cb: (err: Error | null, out: Buffer) => void): void;
  zstdCompressSync(input: Uint8Array, opts: ZlibZstdOptions): Buffer;
  createZstdCompress(opts: ZlibZstdOptions): Transform;
  createZstdDecompress(): Transform;
}
type ZlibZstdOptions = { params: Record<number, number>; chunkSize?: number };

/**
 * Engines a process must not use, comma-separated (`libzstd`, `zlib`): how tests (and anyone
 * checking the error a machine without zstd shows) take an engine away.
 */
// eslint-disable-next-line no-restricted-syntax -- read once as the module loads, as the addon is: it decides what loads, before any app config exists
const disabled = new Set((process.env.HESAAB_ZSTD_DISABLE ?? "").split(",").map((s) => s.trim()));

const native = disabled.has("libzstd")
  ? undefined
  : loadAddon<Native>({ from: import.meta.url, file: "zstd.node", version: 1, pkg: "@hesaab/zstd", code: "HESAAB_ZSTD_FALLBACK" });

function loadZlibZstd(): ZlibZstd | undefined {
  const zlib = createRequire(import.meta.url)("node:zlib") as Partial<ZlibZstd>;
  return typeof zlib.createZstdCompress === "function" && !disabled.has("zlib") ? (zlib as ZlibZstd) : undefined;
}
const zlibZstd = loadZlibZstd();

/** The engines this process can use: libzstd when its addon was built, node:zlib's where Node has it. */
export const zstdEngines: readonly ZstdEngine[] = [...(native ? ["libzstd" as const] : []), ...(zlibZstd ? ["zlib" as const] : [])];

/** What compresses and decompresses by default: the first of `zstdEngines`; undefined when there is none. */
export const defaultZstdEngine: ZstdEngine | undefined = zstdEngines[0];

/** Why zstd is not available here, and what to do; undefined when it is. */
export function zstdUnavailable(): string | undefined {
  if (defaultZstdEngine) return undefined;
  return (
    `zstd is not available: the libzstd addon of @hesaab/zstd is not built and Node ${process.version} has no zstd in node:zlib (Node 22.15 or later has). ` +
    "Install it (apt-get install libzstd-dev gcc libc6-dev, then pnpm --filter @hesaab/zstd build:native), run on Node 22.15 or later, or set BACKUP_COMPRESSION=gzip"
  );
}

/** Throws `zstdUnavailable()`'s sentence when this process has no zstd engine: call it at startup, before any data moves. */
export function assertZstd(): void {
  const why = zstdUnavailable();
  if (why) throw new Error(why);
}

export interface ZstdOptions {
  /** 1 (fastest) to 19 (smallest), as zstd's -1 … -19; the zstd command's default is 3. */
  level: number;
  engine?: ZstdEngine;
}

function engineOf(engine: ZstdEngine | undefined): ZstdEngine {
  const chosen = engine ?? defaultZstdEngine;
  if (!chosen) throw new Error(zstdUnavailable());
  if (!zstdEngines.includes(chosen))
    throw new Error(
      chosen === "libzstd"
        ? "the libzstd engine is not built: apt-get install libzstd-dev, then pnpm --filter @hesaab/zstd build:native"
        : `node:zlib has no zstd in Node ${process.version} (22.15 or later has)`,
    );
  return chosen;
}

/** The engine to compress with, after checking the level: the addon, or undefined for node:zlib. */
function nativeFor(opts: ZstdOptions): Native | undefined {
  if (!Number.isInteger(opts.level) || opts.level < 1 || opts.level > 19) throw new RangeError(`zstd level must be an integer from 1 to 19, got ${opts.level}`);
  return engineOf(opts.engine) === "libzstd" ? native! : undefined;
}

function zlibParams(level: number): ZlibZstdOptions {
  const { ZSTD_c_compressionLevel, ZSTD_c_checksumFlag } = zlibZstd!.constants;
  return { params: { [ZSTD_c_compressionLevel]: level, [ZSTD_c_checksumFlag]: 1 } };
}

function codec(lib: Native, level: number): MemberCodec {
  return { bound: (length) => lib.compressBound(length), compress: (input, output) => lib.compress(input, level, output) };
}

/** One zstd frame of `input`, compressed on the calling thread (for small inputs: no hand-off to the pool). */
export function zstdBuffer(input: Uint8Array, opts: ZstdOptions): Buffer {
  const lib = nativeFor(opts);
  if (!lib) return zlibZstd!.zstdCompressSync(input, zlibParams(opts.level));
  const output = Buffer.allocUnsafe(lib.compressBound(input.length));
  return Buffer.from(output.subarray(0, lib.compressSync(input, opts.level, output)));
}

/**
 * One zstd frame of `input`, compressed on the thread pool. The input is copied first: the caller
 * may reuse, change or transfer its buffer at once (see @hesaab/gzip's gzipBufferAsync).
 */
export function zstdBufferAsync(input: Uint8Array, opts: ZstdOptions): Promise<Buffer> {
  const lib = nativeFor(opts);
  const copy = Buffer.from(input);
  if (!lib) return promisify(zlibZstd!.zstdCompress)(copy, zlibParams(opts.level));
  return compressMember(codec(lib, opts.level), { input: copy, output: Buffer.allocUnsafeSlow(lib.compressBound(input.length)) });
}

/** Up to this size a buffer is compressed on the calling thread, as @hesaab/gzip does (zstd -3 is faster still). */
const SYNC_MAX = 128 * 1024;

/** One zstd frame of `input`: small inputs on the calling thread, larger ones on the pool. */
export async function zstdBytes(input: Uint8Array, opts: ZstdOptions): Promise<Buffer> {
  return input.length <= SYNC_MAX ? zstdBuffer(input, opts) : zstdBufferAsync(input, opts);
}

/**
 * Plaintext bytes per frame of a stream. Each frame starts without history, and zstd -3 sizes its
 * window to the frame: frames of 1 MiB come out 44 % larger than `zstd -3` of the whole text, frames
 * of 8 MiB 1 % larger, and cost less CPU (bench README). The price is memory: two frames in flight,
 * ~20 MiB more than a gzip stream's two 1 MiB members.
 */
const FRAME_SIZE = 8 << 20;

export interface ZstdStreamOptions extends ZstdOptions {
  /** libzstd: plaintext bytes per frame, at least 64 KiB (default 8 MiB). */
  chunkSize?: number;
  /** libzstd: frames compressed at once on the thread pool (default 2). */
  parallel?: number;
}

/** A Transform from plaintext to zstd, with bounded memory (about `parallel` × `chunkSize` × 2 in flight). */
export function createZstdStream(opts: ZstdStreamOptions): Transform {
  const lib = nativeFor(opts);
  const settings = memberStreamSettings(opts, FRAME_SIZE);
  if (!lib) return zlibZstd!.createZstdCompress({ ...zlibParams(opts.level), chunkSize: 1 << 16 });
  return new MemberStream({ codec: codec(lib, opts.level), ...settings });
}

/**
 * A Transform from zstd (any number of frames) to plaintext. It fails on bytes that are not zstd, a
 * frame whose checksum does not match, and an input that ends inside a frame (truncation).
 */
export function createZstdDecompressStream(opts: { engine?: ZstdEngine } = {}): Transform {
  return engineOf(opts.engine) === "libzstd" ? new NativeDecompress(native!) : new FramewiseDecompress(() => zlibZstd!.createZstdDecompress());
}

/** Plaintext is written in pieces of this size: what a COPY into PostgreSQL takes well. */
const OUTPUT_SIZE = 256 * 1024;

class NativeDecompress extends Transform {
  readonly #lib: Native;
  readonly #decompressor: object;
  /** Where the decoder writes, reused; what it wrote is pushed as a copy. */
  readonly #output = Buffer.allocUnsafeSlow(OUTPUT_SIZE);
  /** Whether the input so far ends inside a frame; before any input, it does (an empty input is not zstd, as `zstd -d` says). */
  #inFrame = true;

  constructor(lib: Native) {
    super();
    this.#lib = lib;
    this.#decompressor = lib.createDecompressor();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#decode(chunk);
      callback();
    } catch (err) {
      callback(zstdError(err));
    }
  }

  override _flush(callback: TransformCallback): void {
    callback(this.#inFrame ? truncated() : undefined);
  }

  /** Decodes all of `input`, and whatever the decoder still holds once the output filled up. */
  #decode(input: Buffer): void {
    let at = 0;
    let full = true;
    while (at < input.length || full) {
      const [read, written, left] = this.#lib.decompress(this.#decompressor, input.subarray(at), this.#output);
      at += read;
      this.#inFrame = left !== 0;
      full = written === OUTPUT_SIZE;
      if (written > 0) this.push(Buffer.from(this.#output.subarray(0, written)));
      if (read === 0 && written === 0) break; // the decoder needs more input
    }
  }
}

function zstdError(err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`zstd: the input is not valid zstd (${message})`, { cause: err });
}
