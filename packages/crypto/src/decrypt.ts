// The decrypting side of BKP1: a Transform from artifact bytes to plaintext that releases a chunk's
// plaintext only after its tag verified, and refuses an artifact that is not the one expected.
import { createSecretKey, type KeyObject } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { ByteQueue } from "./byte-queue";
import { openChunk } from "./chunk-cipher";
import { CryptoError, CryptoErrorCode } from "./errors";
import {
  MAX_CHUNK_INDEX,
  PREAMBLE_LEN,
  TAG_LEN,
  checkIdentity,
  checkPreamble,
  parseHeader,
  truncated,
  type ArtifactHeader,
  type ArtifactIdentity,
} from "./format";
import { chunkAad, deriveStreamKeys, headerMacMatches, keyBytes, type KeyInput } from "./kdf";
import { authenticFinalPrefix } from "./trailing";

export interface DecryptOptions {
  /** The artifact's 32-byte data key (from `KeyRing.openArtifact` or `unwrapDek`). Copied at construction: the caller may wipe it afterwards. */
  dek: KeyInput;
  /** What the caller expects the artifact to be, from the catalog or the request, never from the file. */
  expect: ArtifactIdentity;
  /** The data key's id from the sidecar; when given, an artifact naming another key fails with `artifact_wrong_key`. */
  dekId?: Uint8Array;
}

/** @internal Test hook: start the chunk counter elsewhere than 0 (to reach the overflow limit). */
export interface DecryptInternals {
  firstChunkIndex?: number;
}

const REPLACE_HINT = "The artifact was modified, reordered, cut or damaged; use a copy from another provider";

/**
 * A Transform that turns one BKP1 artifact back into plaintext. Order of checks: magic, versions,
 * chunk size and header length (before anything chunk-sized is held); the dek id when given; the
 * header MAC (constant-time); the expected kind, tenant and backup; then chunk by chunk, each tag
 * before its plaintext is released. Memory stays bounded by about one chunk. Errors are {@link CryptoError}s;
 * plaintext already emitted was authentic, but the stream as a whole is only valid when it ends without error.
 */
export class DecryptStream extends Transform {
  /** The verified header, once it has been read (also emitted as a `header` event). */
  header: ArtifactHeader | undefined;
  readonly #dek: Buffer;
  readonly #expect: ArtifactIdentity;
  readonly #dekId: Buffer | undefined;
  readonly #queue = new ByteQueue();
  #key: KeyObject | undefined;
  #aad: Buffer = Buffer.alloc(0);
  #chunkSize = 0;
  #index: number;

  constructor(options: DecryptOptions & DecryptInternals) {
    super();
    checkIdentity(options.expect);
    this.#dek = Buffer.from(keyBytes(options.dek, "data key"));
    this.#expect = { ...options.expect };
    this.#dekId = options.dekId ? Buffer.from(options.dekId) : undefined;
    this.#index = options.firstChunkIndex ?? 0;
  }

  override _transform(data: Buffer | string, encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#queue.push(typeof data === "string" ? Buffer.from(data, encoding) : data);
      if (!this.header && !this.#readHeader()) return callback();
      const segment = this.#chunkSize + TAG_LEN;
      while (this.#queue.length >= segment) {
        const ciphertext = this.#queue.take(this.#chunkSize);
        const tag = this.#queue.takeContiguous(TAG_LEN);
        this.#open({ ciphertext, tag, final: false });
      }
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (!this.header && !this.#readHeader()) {
        checkPreamble(this.#queue.peek(this.#queue.length));
        throw truncated("the artifact ends inside its header");
      }
      const rest = this.#queue.length;
      if (rest < TAG_LEN) {
        throw truncated(rest === 0 ? "the artifact ends without its final chunk" : "the artifact ends inside a chunk", {
          chunk: this.#index,
        });
      }
      const ciphertext = this.#queue.take(rest - TAG_LEN);
      const tag = this.#queue.takeContiguous(TAG_LEN);
      this.#open({ ciphertext, tag, final: true });
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  /** Reads and verifies the header once enough bytes arrived; false while more are needed. */
  #readHeader(): boolean {
    if (this.#queue.length < PREAMBLE_LEN) return false;
    const headerLen = checkPreamble(this.#queue.peek(PREAMBLE_LEN));
    if (this.#queue.length < 2 + headerLen) return false;
    const header = parseHeader(this.#queue.takeContiguous(2 + headerLen));
    if (this.#dekId && !this.#dekId.equals(header.dekId)) {
      throw new CryptoError({
        code: CryptoErrorCode.WrongKey,
        message: "the key sidecar names another data key than this artifact",
        hint: "Use the sidecar stored beside this artifact (<object>.keys.json)",
        context: { artifactDekId: header.dekId.toString("hex"), sidecarDekId: this.#dekId.toString("hex") },
      });
    }
    const keys = deriveStreamKeys({ dek: this.#dek, streamSalt: header.streamSalt });
    this.#dek.fill(0);
    if (!headerMacMatches({ key: keys.header, body: header.body, mac: header.headerMac })) {
      throw new CryptoError({
        code: CryptoErrorCode.HeaderMacMismatch,
        message: "header authentication failed",
        hint: "The header was altered, or the data key belongs to another artifact",
      });
    }
    this.#checkExpected(header);
    this.#key = createSecretKey(keys.payload);
    keys.payload.fill(0);
    keys.header.fill(0);
    this.#aad = chunkAad(header.prefix);
    this.#chunkSize = header.chunkSize;
    this.header = header;
    this.emit("header", header);
    return true;
  }

  #checkExpected(header: ArtifactHeader): void {
    const expect = this.#expect;
    const context = { expected: { ...expect }, found: { kind: header.kind, tenantId: header.tenantId, backupId: header.backupId } };
    if (header.kind !== expect.kind) {
      throw new CryptoError({ code: CryptoErrorCode.WrongKind, message: `artifact is a ${header.kind} artifact, expected ${expect.kind}`, context });
    }
    if (header.tenantId !== expect.tenantId) {
      throw new CryptoError({
        code: CryptoErrorCode.WrongTenant,
        message: "artifact belongs to another tenant",
        hint: "A backup can only be restored to the tenant it was taken from",
        context,
      });
    }
    if (header.backupId !== expect.backupId) {
      throw new CryptoError({ code: CryptoErrorCode.WrongBackup, message: "artifact belongs to another backup", context });
    }
  }

  #open({ ciphertext, tag, final }: { ciphertext: Buffer[]; tag: Buffer; final: boolean }): void {
    const index = this.#index;
    if (index > MAX_CHUNK_INDEX) {
      throw new CryptoError({ code: CryptoErrorCode.CounterOverflow, message: "chunk counter overflow", context: { chunk: index } });
    }
    const plaintext = openChunk({ key: this.#key!, aad: this.#aad, index, final, ciphertext, tag });
    if (!plaintext) throw this.#chunkFailure({ ciphertext, tag, index });
    this.#index++;
    for (const piece of plaintext) this.push(piece);
  }

  #chunkFailure({ ciphertext, tag, index }: { ciphertext: Buffer[]; tag: Buffer; index: number }): CryptoError {
    const segment = Buffer.concat([...ciphertext, tag]);
    const finalLength = authenticFinalPrefix({ key: this.#key!, aad: this.#aad, index, segment, maxPlaintext: this.#chunkSize - 1 });
    if (finalLength !== undefined) {
      return new CryptoError({
        code: CryptoErrorCode.TrailingData,
        message: "bytes follow the final chunk",
        hint: "Something appended data to the artifact; use a copy from another provider",
        context: { chunk: index },
      });
    }
    return new CryptoError({
      code: CryptoErrorCode.ChunkAuthFailed,
      message: `chunk ${index} failed authentication`,
      hint: REPLACE_HINT,
      context: { chunk: index },
    });
  }
}

/** Creates a {@link DecryptStream}: BKP1 artifact in, plaintext out. */
export function createDecryptStream(options: DecryptOptions): DecryptStream {
  return new DecryptStream(options);
}
