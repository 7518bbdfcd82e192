// The encrypting side of BKP1: a Transform from plaintext to artifact bytes.
import { createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { ByteQueue } from "./byte-queue";
import { sealChunk } from "./chunk-cipher";
import { CryptoError, CryptoErrorCode } from "./errors";
import {
  DEFAULT_CHUNK_LOG2,
  MAC_LEN,
  MAX_CHUNK_INDEX,
  SALT_LEN,
  checkChunkLog2,
  encodeHeaderBody,
  parseHeader,
  type ArtifactHeader,
  type ArtifactKind,
  type ContentEncoding,
} from "./format";
import { chunkAad, deriveStreamKeys, headerMac, keyBytes, type KeyInput } from "./kdf";

export interface EncryptOptions {
  /** The artifact's 32-byte data key (from `generateDek` or `KeyRing.sealNewArtifact`). Keys are derived at construction: the caller may wipe it afterwards. */
  dek: KeyInput;
  /** The 16-byte id of `dek`, as in the key sidecar. */
  dekId: Uint8Array;
  kind: ArtifactKind;
  /** The tenant's id; `""` for kind `platform`. */
  tenantId: string;
  backupId: string;
  /** What the plaintext is: `gzip` for compressed tenant backups, `none` for a raw stream. */
  contentEncoding: ContentEncoding;
  /** log2 of the chunk size, 12..24; default 20 (1 MiB chunks). */
  chunkLog2?: number | undefined;
  /** Defaults to now. Fixed only for known-answer tests. */
  createdAtMs?: number;
  /** 32 bytes; defaults to fresh random bytes. Never reuse a salt with the same key outside known-answer tests. */
  streamSalt?: Uint8Array;
}

/** @internal Test hook: start the chunk counter elsewhere than 0 (to reach the overflow limit). */
export interface EncryptInternals {
  firstChunkIndex?: number;
}

/**
 * The BKP1 encoder without the stream: the header at construction, then chunks as plaintext comes.
 * {@link EncryptStream} feeds it from a stream; {@link encryptBuffer} from one buffer.
 */
class Sealer {
  readonly header: ArtifactHeader;
  /** `u16 headerLen || header`: the first bytes of the artifact. */
  readonly prefix: Buffer;
  readonly #key: KeyObject;
  readonly #aad: Buffer;
  readonly #chunkSize: number;
  readonly #queue = new ByteQueue();
  #index: number;

  constructor(options: EncryptOptions & EncryptInternals) {
    const chunkLog2 = options.chunkLog2 ?? DEFAULT_CHUNK_LOG2;
    checkChunkLog2(chunkLog2);
    const dek = keyBytes(options.dek, "data key");
    const streamSalt = options.streamSalt ?? randomBytes(SALT_LEN);
    const body = encodeHeaderBody({
      identity: { kind: options.kind, tenantId: options.tenantId, backupId: options.backupId },
      chunkLog2,
      contentEncoding: options.contentEncoding,
      streamSalt,
      dekId: options.dekId,
      createdAtMs: options.createdAtMs ?? Date.now(),
    });
    const keys = deriveStreamKeys({ dek, streamSalt });
    const prefix = Buffer.allocUnsafe(2 + body.length + MAC_LEN);
    prefix.writeUInt16BE(body.length + MAC_LEN, 0);
    body.copy(prefix, 2);
    headerMac({ key: keys.header, body }).copy(prefix, 2 + body.length);
    this.prefix = prefix;
    this.header = parseHeader(prefix);
    this.#aad = chunkAad(prefix);
    this.#key = createSecretKey(keys.payload);
    keys.payload.fill(0);
    keys.header.fill(0);
    this.#chunkSize = 2 ** chunkLog2;
    this.#index = options.firstChunkIndex ?? 0;
  }

  /** Takes plaintext; returns the ciphertext of every chunk it completed. */
  write(data: Buffer): Buffer[] {
    this.#queue.push(data);
    const out: Buffer[] = [];
    while (this.#queue.length >= this.#chunkSize) out.push(...this.#seal(this.#queue.take(this.#chunkSize), false));
    return out;
  }

  /** The final chunk (possibly empty). */
  finish(): Buffer[] {
    return this.#seal(this.#queue.take(this.#queue.length), true);
  }

  #seal(plaintext: Buffer[], final: boolean): Buffer[] {
    if (this.#index > MAX_CHUNK_INDEX) {
      throw new CryptoError({
        code: CryptoErrorCode.CounterOverflow,
        message: "chunk counter overflow: the stream is too long for one artifact",
        hint: "Split the data into several artifacts or use a larger chunk size",
      });
    }
    const pieces = sealChunk({ key: this.#key, aad: this.#aad, index: this.#index, final, plaintext });
    this.#index++;
    return pieces;
  }
}

/**
 * A Transform that turns plaintext into one BKP1 artifact. Memory stays bounded by about one chunk
 * whatever the stream length; output bytes do not depend on how the input was split into writes.
 * The header is emitted at once; chunks as soon as they are complete; the final chunk (possibly
 * empty) at the end. Errors are {@link CryptoError}s.
 */
export class EncryptStream extends Transform {
  /** The header this stream writes (available immediately). */
  readonly header: ArtifactHeader;
  readonly #sealer: Sealer;

  constructor(options: EncryptOptions & EncryptInternals) {
    super();
    this.#sealer = new Sealer(options);
    this.header = this.#sealer.header;
    this.push(this.#sealer.prefix);
  }

  override _transform(data: Buffer | string, encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      for (const piece of this.#sealer.write(typeof data === "string" ? Buffer.from(data, encoding) : data)) this.push(piece);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      for (const piece of this.#sealer.finish()) this.push(piece);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }
}

/** Creates an {@link EncryptStream}: plaintext in, BKP1 artifact out. */
export function createEncryptStream(options: EncryptOptions): EncryptStream {
  return new EncryptStream(options);
}

/**
 * One whole artifact from plaintext held in memory (a small tenant's backup): the same bytes
 * {@link EncryptStream} writes for it, without a stream's per-chunk callbacks.
 */
export function encryptBuffer(options: EncryptOptions, plaintext: Buffer): Buffer {
  const sealer = new Sealer(options);
  return Buffer.concat([sealer.prefix, ...sealer.write(plaintext), ...sealer.finish()]);
}
