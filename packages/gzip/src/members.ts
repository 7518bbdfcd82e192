// What @hesaab/gzip and @hesaab/zstd share: their native addons compress whole buffers, so a stream
// is cut into chunks of `chunkSize` bytes and each becomes a member (gzip, RFC 1952 §2.2) or frame
// (zstd, RFC 8878 §3.1) of its own, concatenated: both formats define a series of them as one stream.
// Chunks are compressed on libuv's thread pool, `parallel` at a time, and written in order.
import { Transform, type TransformCallback } from "node:stream";

/** One native codec at one level, as a stream of members needs it. */
export interface MemberCodec {
  /** The most bytes a member of `length` plaintext bytes can take. */
  bound(length: number): number;
  /** Writes one member of `input` into `output` (≥ bound bytes) on the thread pool; resolves to its size. */
  compress(input: Uint8Array, output: Buffer): Promise<number>;
}

/** A member of `input` in `output` (private to the caller until this settles), as a buffer of its own. */
export async function compressMember(codec: MemberCodec, { input, output }: { input: Uint8Array; output: Buffer }): Promise<Buffer> {
  const size = await codec.compress(input, output);
  return Buffer.from(output.subarray(0, size)); // its own size: the bound is several times what a member takes
}

/** Checks a stream's member size (`defaultSize` unless given) and parallelism: both bound its memory. */
export function memberStreamSettings(
  opts: { chunkSize?: number | undefined; parallel?: number | undefined },
  defaultSize: number,
): { chunkSize: number; parallel: number } {
  const chunkSize = opts.chunkSize ?? defaultSize;
  const parallel = opts.parallel ?? 2;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 64 * 1024) throw new RangeError(`chunkSize must be an integer of at least 65536, got ${chunkSize}`);
  if (!Number.isSafeInteger(parallel) || parallel < 1) throw new RangeError(`parallel must be a positive integer, got ${parallel}`);
  return { chunkSize, parallel };
}

/** A Transform from plaintext to concatenated members, with bounded memory (about `parallel` × `chunkSize` × 2 in flight). */
export class MemberStream extends Transform {
  readonly #codec: MemberCodec;
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
   * again only once the pool thread that used it is done. They are allocated here, on the main
   * thread: memory malloc'd on the pool's threads would stay in their own malloc arenas.
   */
  readonly #free: { input: Buffer; output: Buffer }[] = [];

  constructor(o: { codec: MemberCodec; chunkSize: number; parallel: number }) {
    super();
    this.#codec = o.codec;
    this.#chunkSize = o.chunkSize;
    this.#parallel = o.parallel;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#take(chunk).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    (async () => {
      if (this.#pendingBytes > 0 || this.#members === 0) this.#start(); // an empty input is one empty member, as gzip and zstd write it
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
    const slot = this.#free.pop() ?? { input: Buffer.allocUnsafeSlow(this.#chunkSize), output: Buffer.allocUnsafeSlow(this.#codec.bound(this.#chunkSize)) };
    let length = 0;
    for (const piece of this.#pending) length += piece.copy(slot.input, length);
    this.#pending = [];
    this.#pendingBytes = 0;
    const member = compressMember(this.#codec, { input: slot.input.subarray(0, length), output: slot.output }).then((out) => {
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
