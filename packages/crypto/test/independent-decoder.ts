// A minimal BKP1 decoder written from shared/design/bkp1-format.md alone, on @noble/ciphers and
// @noble/hashes, sharing no code with src/. It reads a whole artifact held in memory (fine for tests).
import { gcm } from "@noble/ciphers/aes.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

const te = new TextEncoder();
const td = new TextDecoder("utf-8", { fatal: true });

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function u16(n: number): Uint8Array {
  return new Uint8Array([n >>> 8, n & 0xff]);
}

function u32(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

function lp(s: string): Uint8Array {
  const b = te.encode(s);
  return concat(u16(b.length), b);
}

export interface IndependentHeader {
  chunkLog2: number;
  contentEncoding: number;
  kind: number;
  tenantId: string;
  backupId: string;
  createdAtMs: bigint;
  dekId: Uint8Array;
}

/** Decrypts a complete artifact; throws a plain Error on any check the spec requires. */
export function independentDecrypt(artifact: Uint8Array, dek: Uint8Array): { header: IndependentHeader; plaintext: Uint8Array } {
  const view = new DataView(artifact.buffer, artifact.byteOffset, artifact.byteLength);
  const headerLen = view.getUint16(0);
  if (headerLen > 4096) throw new Error("header too long");
  const header = artifact.subarray(2, 2 + headerLen);
  const body = header.subarray(0, headerLen - 32);
  const mac = header.subarray(headerLen - 32);
  if (td.decode(body.subarray(0, 4)) !== "BKP1") throw new Error("bad magic");
  if (body[4] !== 1 || body[5] !== 1) throw new Error("unsupported");
  const chunkLog2 = body[6]!;
  if (chunkLog2 < 12 || chunkLog2 > 24) throw new Error("chunk size");
  const salt = body.subarray(8, 40);
  const dekId = body.subarray(40, 56);
  const kind = body[56]!;
  const bv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let at = 57;
  const tLen = bv.getUint16(at);
  const tenantId = td.decode(body.subarray(at + 2, at + 2 + tLen));
  at += 2 + tLen;
  const bLen = bv.getUint16(at);
  const backupId = td.decode(body.subarray(at + 2, at + 2 + bLen));
  at += 2 + bLen;
  const createdAtMs = bv.getBigUint64(at);
  if (at + 8 !== body.length) throw new Error("header length");

  const kHeader = hkdf(sha256, dek, salt, te.encode("bkp1/header"), 32);
  const kPayload = hkdf(sha256, dek, salt, te.encode("bkp1/payload"), 32);
  if (!equal(hmac(sha256, kHeader, body), mac)) throw new Error("header mac");
  const aad = sha256(artifact.subarray(0, 2 + headerLen));

  const size = 2 ** chunkLog2;
  const out: Uint8Array[] = [];
  let pos = 2 + headerLen;
  for (let i = 0; ; i++) {
    const rest = artifact.length - pos;
    const final = rest < size + 16;
    if (final && rest < 16) throw new Error("truncated");
    const len = final ? rest : size + 16;
    const nonce = concat(new Uint8Array(7), u32(i), new Uint8Array([final ? 1 : 0]));
    out.push(gcm(kPayload, nonce, aad).decrypt(artifact.subarray(pos, pos + len)));
    pos += len;
    if (final) break;
  }
  return { header: { chunkLog2, contentEncoding: body[7]!, kind, tenantId, backupId, createdAtMs, dekId }, plaintext: concat(...out) };
}

/** The tenant KEK and unwrap of a sidecar slot, from the spec. */
export function independentUnwrap(params: {
  masterKey: Uint8Array;
  seed: Uint8Array;
  sidecar: { kind: number; tenantId: string; backupId: string; dekId: string; slots: { keyVersion: number; nonce: string; wrapped: string }[] };
}): Uint8Array {
  const { sidecar } = params;
  const slot = sidecar.slots[0]!;
  const kek = hkdf(sha256, params.masterKey, params.seed, concat(te.encode("bkp1/tenant-kek"), lp(sidecar.tenantId), u32(slot.keyVersion)), 32);
  const dekId = Uint8Array.from(sidecar.dekId.match(/../g)!.map((h) => parseInt(h, 16)));
  const aad = concat(te.encode("bkp1/wrap"), new Uint8Array([sidecar.kind]), lp(sidecar.tenantId), lp(sidecar.backupId), dekId, u32(slot.keyVersion));
  const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  return gcm(kek, b64(slot.nonce), aad).decrypt(b64(slot.wrapped));
}
