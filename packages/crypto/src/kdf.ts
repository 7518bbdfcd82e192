// Key derivation and the per-artifact keys (HKDF-SHA256 and HMAC-SHA256 from node:crypto).
import { createHash, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { type Secret } from "@hesaab/config";
import { CryptoError, CryptoErrorCode } from "./errors";
import { KEY_LEN } from "./format";

/** A 32-byte key, either raw or wrapped in a {@link Secret} so that it never prints. */
export type KeyInput = Uint8Array | Secret<Buffer>;

/** The raw bytes of a key, checked to be 32 bytes long. */
export function keyBytes(key: KeyInput, what = "key"): Buffer {
  const raw = key instanceof Uint8Array ? key : key.reveal();
  if (!(raw instanceof Uint8Array) || raw.length !== KEY_LEN) {
    throw new CryptoError({ code: CryptoErrorCode.InvalidArgument, message: `${what} must be ${KEY_LEN} bytes` });
  }
  return Buffer.from(raw.buffer, raw.byteOffset, raw.length);
}

/** HKDF-SHA256 (RFC 5869): extract with `salt`, expand with `info` to `length` bytes (default 32). */
export function hkdf({ ikm, salt, info, length = KEY_LEN }: { ikm: Uint8Array; salt: Uint8Array; info: Uint8Array | string; length?: number }): Buffer {
  const infoBytes = typeof info === "string" ? Buffer.from(info, "utf8") : info;
  return Buffer.from(hkdfSync("sha256", ikm, salt, infoBytes, length));
}

/** `u16(len(utf8(s))) || utf8(s)` */
export function lp(value: string): Buffer {
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length > 0xffff) throw new CryptoError({ code: CryptoErrorCode.InvalidArgument, message: "string too long to encode" });
  const out = Buffer.allocUnsafe(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  bytes.copy(out, 2);
  return out;
}

export function u32(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new CryptoError({ code: CryptoErrorCode.InvalidArgument, message: `${value} is not a u32` });
  }
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(value, 0);
  return out;
}

/** The two keys of one artifact, derived from its data key and stream salt. */
export interface StreamKeys {
  header: Buffer;
  payload: Buffer;
}

export function deriveStreamKeys({ dek, streamSalt }: { dek: Buffer; streamSalt: Uint8Array }): StreamKeys {
  return {
    header: hkdf({ ikm: dek, salt: streamSalt, info: "bkp1/header" }),
    payload: hkdf({ ikm: dek, salt: streamSalt, info: "bkp1/payload" }),
  };
}

export function headerMac({ key, body }: { key: Buffer; body: Uint8Array }): Buffer {
  return createHmac("sha256", key).update(body).digest();
}

/** Constant-time check of the header MAC. */
export function headerMacMatches({ key, body, mac }: { key: Buffer; body: Uint8Array; mac: Buffer }): boolean {
  const expected = headerMac({ key, body });
  return mac.length === expected.length && timingSafeEqual(mac, expected);
}

/** The AAD of every chunk: `SHA-256(u16 headerLen || header)`. */
export function chunkAad(prefix: Uint8Array): Buffer {
  return createHash("sha256").update(prefix).digest();
}
