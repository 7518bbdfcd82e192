// The BKP1 header: constants, encoding and parsing (see shared/design/bkp1-format.md).
//
//   artifact = u16 headerLen || header || chunk_0 || ... || chunk_n
//   header   = body || HMAC-SHA256(K_header, body)
//   body     = "BKP1" || u8 1 || u8 1 || u8 chunkLog2 || u8 contentEncoding || salt[32] || dekId[16]
//              || u8 kind || lp(tenantId) || lp(backupId) || u64 createdAtMs
import { CryptoError, CryptoErrorCode } from "./errors";

export const MAGIC = Buffer.from("BKP1", "latin1");
export const FORMAT_VERSION = 1;
export const ALG_AES256GCM_HKDF_SHA256 = 1;
export const MIN_CHUNK_LOG2 = 12;
export const MAX_CHUNK_LOG2 = 24;
export const DEFAULT_CHUNK_LOG2 = 20;
export const MAX_HEADER_LEN = 4096;
export const TAG_LEN = 16;
export const MAC_LEN = 32;
export const SALT_LEN = 32;
export const DEK_ID_LEN = 16;
export const KEY_LEN = 32;
/** The highest chunk index a stream may use; index 2^32 - 1 is refused. */
export const MAX_CHUNK_INDEX = 0xffff_fffe;
/** Bytes of the fixed part of the body before `kind`: magic, 4 single bytes, salt, dekId. */
const FIXED_PREFIX_LEN = 4 + 4 + SALT_LEN + DEK_ID_LEN;
/** The smallest possible body: fixed prefix, kind, two empty lp strings, createdAtMs. */
const MIN_BODY_LEN = FIXED_PREFIX_LEN + 1 + 2 + 2 + 8;
/** Bytes of an artifact needed to check magic, versions and chunk size: u16 headerLen and 8 body bytes. */
export const PREAMBLE_LEN = 2 + 8;

export type ArtifactKind = "tenant" | "customer" | "platform";
export type ContentEncoding = "none" | "gzip" | "zstd";

export const KIND_CODES: Record<ArtifactKind, number> = { tenant: 1, customer: 2, platform: 3 };
export const ENCODING_CODES: Record<ContentEncoding, number> = { none: 0, gzip: 1, zstd: 2 };

export function kindFromCode(code: number): ArtifactKind | undefined {
  return (Object.keys(KIND_CODES) as ArtifactKind[]).find((k) => KIND_CODES[k] === code);
}

function encodingFromCode(code: number): ContentEncoding | undefined {
  return (Object.keys(ENCODING_CODES) as ContentEncoding[]).find((k) => ENCODING_CODES[k] === code);
}

/**
 * Which artifact the bytes belong to. It is written into the header and checked on every decrypt
 * against what the caller expects (from the catalog or the request, never from the file).
 * `tenantId` is `""` for kind `platform`.
 */
export interface ArtifactIdentity {
  kind: ArtifactKind;
  tenantId: string;
  backupId: string;
}

/** Every field of a BKP1 header, as read from the bytes (nothing here is authenticated until the MAC is checked). */
export interface ArtifactHeader extends ArtifactIdentity {
  /** Length of `header` (body + MAC), the u16 at the start of the artifact. */
  headerLen: number;
  formatVersion: number;
  alg: number;
  chunkLog2: number;
  /** `2 ** chunkLog2`: plaintext bytes per full chunk. */
  chunkSize: number;
  contentEncoding: ContentEncoding;
  streamSalt: Buffer;
  /** 16 bytes naming the data key; the key sidecar carries the same id in hex. */
  dekId: Buffer;
  createdAtMs: number;
  headerMac: Buffer;
  /** `header` without its MAC: the bytes the MAC covers. */
  body: Buffer;
  /** `u16 headerLen || header`: the bytes hashed into every chunk's AAD. */
  prefix: Buffer;
}

function malformed(message: string, context?: Record<string, unknown>): CryptoError {
  return new CryptoError({
    code: CryptoErrorCode.HeaderMalformed,
    message,
    hint: "The artifact header is damaged; use a copy from another provider",
    ...(context ? { context } : {}),
  });
}

export function truncated(message: string, context?: Record<string, unknown>): CryptoError {
  return new CryptoError({
    code: CryptoErrorCode.Truncated,
    message,
    hint: "The artifact is incomplete (an interrupted upload or download); use a complete copy from another provider",
    ...(context ? { context } : {}),
  });
}

export function checkChunkLog2(chunkLog2: number): void {
  if (!Number.isInteger(chunkLog2) || chunkLog2 < MIN_CHUNK_LOG2 || chunkLog2 > MAX_CHUNK_LOG2) {
    throw new CryptoError({
      code: CryptoErrorCode.ChunkSizeInvalid,
      message: `chunk size 2^${chunkLog2} is out of range (2^${MIN_CHUNK_LOG2}..2^${MAX_CHUNK_LOG2})`,
      context: { chunkLog2 },
    });
  }
}

/**
 * Checks the first {@link PREAMBLE_LEN} bytes (headerLen, magic, versions, chunk size) and returns
 * `headerLen`. Runs before the rest of the header is read, so nothing is allocated from untrusted sizes.
 */
export function checkPreamble(bytes: Uint8Array): number {
  if (bytes.length < 2) throw truncated("the artifact ends inside its header");
  const headerLen = (bytes[0]! << 8) | bytes[1]!;
  const magicSeen = bytes.subarray(2, 6);
  if (!MAGIC.subarray(0, magicSeen.length).equals(magicSeen)) {
    throw new CryptoError({
      code: CryptoErrorCode.BadMagic,
      message: "not a bkp1 artifact (bad magic)",
      hint: "This file is not an encrypted backup body, or it was written by something else",
    });
  }
  if (bytes.length < PREAMBLE_LEN) throw truncated("the artifact ends inside its header");
  const [formatVersion, alg, chunkLog2] = [bytes[6]!, bytes[7]!, bytes[8]!];
  if (formatVersion !== FORMAT_VERSION) {
    throw new CryptoError({
      code: CryptoErrorCode.Unsupported,
      message: `unsupported bkp1 format version ${formatVersion}`,
      hint: "The artifact was written by a newer version of this software; upgrade to read it",
      context: { formatVersion },
    });
  }
  if (alg !== ALG_AES256GCM_HKDF_SHA256) {
    throw new CryptoError({ code: CryptoErrorCode.Unsupported, message: `unsupported bkp1 algorithm ${alg}`, context: { alg } });
  }
  checkChunkLog2(chunkLog2);
  if (headerLen > MAX_HEADER_LEN) {
    throw new CryptoError({
      code: CryptoErrorCode.HeaderTooLong,
      message: `header length ${headerLen} exceeds ${MAX_HEADER_LEN} bytes`,
      context: { headerLen },
    });
  }
  if (headerLen < MIN_BODY_LEN + MAC_LEN) throw malformed(`header length ${headerLen} is too short`, { headerLen });
  return headerLen;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses `u16 headerLen || header` from the start of `bytes` (more bytes may follow). Checks structure
 * only: the MAC is checked by the decryptor, which holds the key. Throws {@link CryptoError}.
 */
export function parseHeader(bytes: Uint8Array): ArtifactHeader {
  const headerLen = checkPreamble(bytes);
  if (bytes.length < 2 + headerLen) throw truncated("the artifact ends inside its header");
  const prefix = Buffer.from(bytes.buffer, bytes.byteOffset, 2 + headerLen);
  const body = prefix.subarray(2, 2 + headerLen - MAC_LEN);
  let at = 8;
  const encoding = encodingFromCode(body[7]!);
  if (encoding === undefined) {
    throw new CryptoError({ code: CryptoErrorCode.Unsupported, message: `unsupported content encoding ${body[7]}`, context: { contentEncoding: body[7] } });
  }
  const streamSalt = body.subarray(at, (at += SALT_LEN));
  const dekId = body.subarray(at, (at += DEK_ID_LEN));
  const kindCode = body[at++]!;
  const kind = kindFromCode(kindCode);
  if (kind === undefined) throw malformed(`unknown artifact kind ${kindCode}`, { kind: kindCode });
  const readLp = (field: string): string => {
    if (at + 2 > body.length) throw malformed(`${field} runs past the end of the header`);
    const len = body.readUInt16BE(at);
    at += 2;
    if (at + len > body.length) throw malformed(`${field} runs past the end of the header`);
    try {
      return utf8.decode(body.subarray(at, (at += len)));
    } catch {
      throw malformed(`${field} is not valid utf-8`);
    }
  };
  const tenantId = readLp("tenantId");
  const backupId = readLp("backupId");
  if (at + 8 !== body.length) throw malformed("header length does not match its fields", { headerLen });
  const createdAt = body.readBigUInt64BE(at);
  if (createdAt > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed("createdAtMs is out of range");
  return {
    headerLen,
    formatVersion: body[4]!,
    alg: body[5]!,
    chunkLog2: body[6]!,
    chunkSize: 2 ** body[6]!,
    contentEncoding: encoding,
    streamSalt: Buffer.from(streamSalt),
    dekId: Buffer.from(dekId),
    kind,
    tenantId,
    backupId,
    createdAtMs: Number(createdAt),
    headerMac: Buffer.from(prefix.subarray(2 + headerLen - MAC_LEN)),
    body: Buffer.from(body),
    prefix: Buffer.from(prefix),
  };
}

function lp(value: string, field: string): Buffer {
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length > 0xffff) {
    throw new CryptoError({ code: CryptoErrorCode.HeaderTooLong, message: `${field} is too long for a bkp1 header` });
  }
  const out = Buffer.allocUnsafe(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  bytes.copy(out, 2);
  return out;
}

/** Checks an identity before it is written or compared: platform artifacts have no tenant, others must. */
export function checkIdentity(identity: ArtifactIdentity): void {
  const invalid = (message: string) => new CryptoError({ code: CryptoErrorCode.InvalidArgument, message });
  if (!(identity.kind in KIND_CODES)) throw invalid(`unknown artifact kind ${String(identity.kind)}`);
  if (identity.kind === "platform" ? identity.tenantId !== "" : identity.tenantId === "") {
    throw invalid(identity.kind === "platform" ? "a platform artifact has no tenant id" : `a ${identity.kind} artifact needs a tenant id`);
  }
  if (identity.backupId === "") throw invalid("backup id is empty");
}

/** Builds the header body (everything the MAC covers). */
export function encodeHeaderBody(fields: {
  identity: ArtifactIdentity;
  chunkLog2: number;
  contentEncoding: ContentEncoding;
  streamSalt: Uint8Array;
  dekId: Uint8Array;
  createdAtMs: number;
}): Buffer {
  const { identity, chunkLog2, contentEncoding, streamSalt, dekId, createdAtMs } = fields;
  checkChunkLog2(chunkLog2);
  checkIdentity(identity);
  const invalid = (message: string) => new CryptoError({ code: CryptoErrorCode.InvalidArgument, message });
  if (streamSalt.length !== SALT_LEN) throw invalid(`stream salt must be ${SALT_LEN} bytes`);
  if (dekId.length !== DEK_ID_LEN) throw invalid(`dek id must be ${DEK_ID_LEN} bytes`);
  if (!(contentEncoding in ENCODING_CODES)) throw invalid(`unknown content encoding ${String(contentEncoding)}`);
  if (!Number.isSafeInteger(createdAtMs) || createdAtMs < 0) throw invalid("createdAtMs must be a non-negative integer");
  const fixed = Buffer.allocUnsafe(8);
  MAGIC.copy(fixed, 0);
  fixed[4] = FORMAT_VERSION;
  fixed[5] = ALG_AES256GCM_HKDF_SHA256;
  fixed[6] = chunkLog2;
  fixed[7] = ENCODING_CODES[contentEncoding];
  const created = Buffer.allocUnsafe(8);
  created.writeBigUInt64BE(BigInt(createdAtMs));
  const body = Buffer.concat([
    fixed,
    streamSalt,
    dekId,
    Buffer.of(KIND_CODES[identity.kind]),
    lp(identity.tenantId, "tenantId"),
    lp(identity.backupId, "backupId"),
    created,
  ]);
  if (body.length + MAC_LEN > MAX_HEADER_LEN) {
    throw new CryptoError({
      code: CryptoErrorCode.HeaderTooLong,
      message: `header would be ${body.length + MAC_LEN} bytes, above ${MAX_HEADER_LEN}`,
      hint: "Use shorter tenant and backup ids",
    });
  }
  return body;
}

/** Exact artifact length for `plaintextLength` bytes: `2 + headerLen + floor(n/C)*(C+16) + (n mod C) + 16`. */
export function encryptedLength({ plaintextLength, headerLen, chunkLog2 }: { plaintextLength: number; headerLen: number; chunkLog2: number }): number {
  const size = 2 ** chunkLog2;
  return 2 + headerLen + Math.floor(plaintextLength / size) * (size + TAG_LEN) + (plaintextLength % size) + TAG_LEN;
}

/**
 * Plaintext length of an artifact of `artifactLength` bytes, or `undefined` when no complete BKP1
 * artifact with this header can have that length (it was truncated or has extra bytes).
 */
export function plaintextLength({
  artifactLength,
  headerLen,
  chunkLog2,
}: {
  artifactLength: number;
  headerLen: number;
  chunkLog2: number;
}): number | undefined {
  const size = 2 ** chunkLog2;
  const chunks = artifactLength - 2 - headerLen;
  if (chunks < TAG_LEN) return undefined;
  const full = Math.floor(chunks / (size + TAG_LEN));
  const last = chunks - full * (size + TAG_LEN);
  if (last < TAG_LEN) return undefined;
  return full * size + last - TAG_LEN;
}
