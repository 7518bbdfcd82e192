// gzip for artifacts: libdeflate (a small native addon, build/deflate.node) when it was built,
// node:zlib otherwise. The output is gzip either way; what libdeflate changes is the cost: about
// 40 % less CPU at level 6 on COPY text than zlib, and a few per cent smaller.
//
// libdeflate compresses whole buffers, so a stream is cut into chunks of `chunkSize` bytes and each
// becomes a gzip member of its own, concatenated (RFC 1952 §2.2: a gzip file is a series of
// members; gunzip, zlib and Node read them as one stream). Chunks are compressed on the thread
// pool, `parallel` at a time, and written in order.
import { createGzip, gzip as zlibGzip, gzipSync as zlibGzipSync } from "node:zlib";
import { promisify } from "node:util";
import type { Transform } from "node:stream";
import { loadAddon } from "@hesaab/native";
import { compressMember, memberStreamSettings, MemberStream, type MemberCodec } from "./members";

export type GzipEngine = "libdeflate" | "zlib";

/** deflate.c: each call writes one gzip member into `output` (≥ gzipBound bytes) and returns its size. */
interface Native {
  version: number;
  gzipBound(length: number): number;
  gzipSync(input: Uint8Array, level: number, output: Buffer): number;
  gzip(input: Uint8Array, level: number, output: Buffer): Promise<number>;
}

/** The functions above, as deflate.c exports them (its `version`). */
const native = loadAddon<Native>({ from: import.meta.url, file: "deflate.node", version: 2, pkg: "@hesaab/gzip", code: "HESAAB_GZIP_FALLBACK" });

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

function codec(lib: Native, level: number): MemberCodec {
  return { bound: (length) => lib.gzipBound(length), compress: (input, output) => lib.gzip(input, level, output) };
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
  return compressMember(codec(lib, opts.level), { input: copy, output: Buffer.allocUnsafeSlow(lib.gzipBound(input.length)) });
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
  const settings = memberStreamSettings(opts, 1 << 20);
  if (!lib) return createGzip({ level: opts.level, chunkSize: 1 << 16 });
  return new MemberStream({ codec: codec(lib, opts.level), ...settings });
}
