// node:zlib's zstd decoder (Node 22.15 … 22.23 at least) reads the first frame of its input and
// drops the rest without an error, and ends without an error when its input stops inside a frame.
// Our streams are many frames (one per MiB), and a restore must notice truncation. So this walks
// the frame format (RFC 8878 §3.1: a frame header, blocks whose headers give their sizes, an
// optional checksum) and hands each frame to a decoder of its own, in order, while it checks that
// the input ends on a frame boundary.
import { once } from "node:events";
import { finished } from "node:stream/promises";
import { Transform, type TransformCallback } from "node:stream";

const MAGIC = 0xfd2fb528;
/** Skippable frames (0x184D2A50-5F): a size and that many bytes for other tools; no content. */
const isSkippable = (magic: number) => magic >>> 4 === 0x184d2a5;

/** The error of an input that ends inside a frame, or before the first. */
export function truncated(): Error {
  return new Error("zstd: the input ends inside a frame, or before the first (truncated)");
}

type Field = "magic" | "descriptor" | "header" | "block" | "skipSize";

export class FramewiseDecompress extends Transform {
  readonly #openFrame: () => Transform;
  #frame: Transform | undefined;
  #field: Field = "magic";
  #want = 4;
  /** The bytes of the field being read (header fields span input chunks). */
  #bytes: Buffer[] = [];
  #have = 0;
  /** Bytes of block content, checksum or skippable frame still to pass (or skip) before the next field. */
  #body = 0;
  #skipping = false;
  #lastBlock = false;
  #checksum = false;
  /** Frames begun: an input without any is not zstd (`zstd -d` says so too). */
  #frames = 0;

  constructor(openFrame: () => Transform) {
    super();
    this.#openFrame = openFrame;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#walk(chunk).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    const inFrame = this.#frame !== undefined || this.#skipping || this.#field !== "magic" || this.#have > 0;
    callback(inFrame || this.#frames === 0 ? truncated() : undefined);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#frame?.destroy();
    callback(error);
  }

  async #walk(chunk: Buffer): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      if (this.#body > 0) {
        const n = Math.min(this.#body, chunk.length - at);
        if (!this.#skipping) await this.#pass(chunk.subarray(at, at + n));
        this.#body -= n;
        at += n;
        if (this.#body === 0) await this.#afterBody();
        continue;
      }
      const n = Math.min(this.#want - this.#have, chunk.length - at);
      this.#bytes.push(chunk.subarray(at, at + n));
      this.#have += n;
      at += n;
      if (this.#have === this.#want) {
        const field = Buffer.concat(this.#bytes);
        this.#bytes = [];
        this.#have = 0;
        await this.#read(field);
      }
    }
  }

  /** Interprets a complete field and says what comes next. */
  async #read(field: Buffer): Promise<void> {
    switch (this.#field) {
      case "magic": {
        const magic = field.readUInt32LE(0);
        if (isSkippable(magic)) return this.#expect("skipSize", 4);
        if (magic !== MAGIC) throw new Error("zstd: the input is not valid zstd (unknown frame magic)");
        this.#frame = this.#openFrame();
        this.#frames++;
        this.#frame.on("data", (out: Buffer) => this.push(out));
        await this.#pass(field);
        return this.#expect("descriptor", 1);
      }
      case "descriptor": {
        const d = field[0]!;
        const singleSegment = (d >> 5) & 1;
        const fcsSize = [singleSegment, 2, 4, 8][d >> 6]!;
        this.#checksum = ((d >> 2) & 1) === 1;
        await this.#pass(field);
        const rest = (singleSegment ? 0 : 1) + [0, 1, 2, 4][d & 3]! + fcsSize;
        return rest > 0 ? this.#expect("header", rest) : this.#expect("block", 3);
      }
      case "header":
        await this.#pass(field);
        return this.#expect("block", 3);
      case "block": {
        const header = field.readUIntLE(0, 3);
        const type = (header >> 1) & 3;
        if (type === 3) throw new Error("zstd: the input is not valid zstd (reserved block type)");
        this.#lastBlock = (header & 1) === 1;
        await this.#pass(field);
        this.#body = type === 1 ? 1 : header >>> 3; // an RLE block's content is its one byte
        if (this.#body === 0) await this.#afterBody();
        return;
      }
      case "skipSize":
        this.#skipping = true;
        this.#body = field.readUInt32LE(0);
        if (this.#body === 0) await this.#afterBody();
        return;
    }
  }

  #expect(field: Field, bytes: number): void {
    this.#field = field;
    this.#want = bytes;
  }

  /** After a block's content: the next block, the checksum, or the frame's end. */
  async #afterBody(): Promise<void> {
    if (this.#skipping) {
      this.#skipping = false;
      return this.#expect("magic", 4);
    }
    if (!this.#lastBlock) return this.#expect("block", 3);
    if (this.#checksum) {
      this.#checksum = false; // the 4 checksum bytes pass as a body, then the frame ends here again
      this.#body = 4;
      return;
    }
    await this.#endFrame();
  }

  async #pass(bytes: Buffer): Promise<void> {
    if (!this.#frame!.write(bytes)) await Promise.race([once(this.#frame!, "drain"), finished(this.#frame!)]);
  }

  /** Ends the frame's decoder and waits for all of its output (its errors surface here). */
  async #endFrame(): Promise<void> {
    const frame = this.#frame!;
    this.#frame = undefined;
    this.#lastBlock = false;
    this.#expect("magic", 4);
    frame.end();
    await finished(frame);
  }
}
