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
  chunkLog2?: number;
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
 * A Transform that turns plaintext into one BKP1 artifact. Memory stays bounded by about one chunk
 * whatever the stream length; output bytes do not depend on how the input was split into writes.
 * The header is emitted at once; chunks as soon as they are complete; the final chunk (possibly
 * empty) at the end. Errors are {@link CryptoError}s.
 */
export class EncryptStream extends Transform {
  /** The header this stream writes (available immediately). */
  readonly header: ArtifactHeader;
  readonly #key: KeyObject;
  readonly #aad: Buffer;
  readonly #chunkSize: number;
  readonly #queue = new ByteQueue();
  #index: number;

  constructor(options: EncryptOptions & EncryptInternals) {
    super();
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
    this.header = parseHeader(prefix);
    this.#aad = chunkAad(prefix);
    this.#key = createSecretKey(keys.payload);
    keys.payload.fill(0);
    keys.header.fill(0);
    this.#chunkSize = 2 ** chunkLog2;
    this.#index = options.firstChunkIndex ?? 0;
    this.push(prefix);
  }

  override _transform(data: Buffer | string, encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#queue.push(typeof data === "string" ? Buffer.from(data, encoding) : data);
      while (this.#queue.length >= this.#chunkSize) this.#seal(this.#queue.take(this.#chunkSize), false);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#seal(this.#queue.take(this.#queue.length), true);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  #seal(plaintext: Buffer[], final: boolean): void {
    if (this.#index > MAX_CHUNK_INDEX) {
      throw new CryptoError({
        code: CryptoErrorCode.CounterOverflow,
        message: "chunk counter overflow: the stream is too long for one artifact",
        hint: "Split the data into several artifacts or use a larger chunk size",
      });
    }
    for (const piece of sealChunk({ key: this.#key, aad: this.#aad, index: this.#index, final, plaintext })) this.push(piece);
    this.#index++;
  }
}

/** Creates an {@link EncryptStream}: plaintext in, BKP1 artifact out. */
export function createEncryptStream(options: EncryptOptions): EncryptStream {
  return new EncryptStream(options);
}
