// Telling "bytes after the final chunk" apart from a damaged chunk.
//
// A decoder cuts chunks by size: C + 16 bytes, or whatever is left at the end. When garbage follows
// the real final chunk, the decoder sees one longer segment whose tag fails. To name that case
// precisely, this module checks, for every shorter length, whether a prefix of the failed segment is
// an authentic *final* chunk at the same index. It computes GCM's GHASH incrementally (one or two
// GF(2^128) multiplications per candidate length instead of a full decryption each), and runs only
// on the failure path. Comparisons are constant-time per candidate; a match is a 128-bit tag match.
import { createCipheriv, type KeyObject } from "node:crypto";
import { chunkNonce } from "./chunk-cipher";
import { TAG_LEN } from "./format";

/** Multiplication by a fixed H in GF(2^128), GCM bit order, with 16 byte-indexed tables. */
class GhashMultiplier {
  readonly #table = new Uint32Array(16 * 256 * 4);

  constructor(h: Buffer) {
    // v[i] = H * x^i: the contribution of bit i (MSB-first) of the other factor.
    const v = new Uint32Array(128 * 4);
    let [a, b, c, d] = [h.readUInt32BE(0), h.readUInt32BE(4), h.readUInt32BE(8), h.readUInt32BE(12)];
    for (let i = 0; i < 128; i++) {
      v.set([a, b, c, d], i * 4);
      const carry = d & 1;
      d = ((d >>> 1) | (c << 31)) >>> 0;
      c = ((c >>> 1) | (b << 31)) >>> 0;
      b = ((b >>> 1) | (a << 31)) >>> 0;
      a = (a >>> 1) ^ (carry ? 0xe1000000 : 0);
      a >>>= 0;
    }
    for (let k = 0; k < 16; k++) {
      for (let byte = 1; byte < 256; byte++) {
        const at = ((k << 8) | byte) << 2;
        for (let j = 0; j < 8; j++) {
          if (byte & (0x80 >> j)) {
            const src = (8 * k + j) * 4;
            for (let w = 0; w < 4; w++) this.#table[at + w]! ^= v[src + w]!;
          }
        }
      }
    }
  }

  /** x = x * H, in place. */
  mul(x: Uint32Array): void {
    let z0 = 0;
    let z1 = 0;
    let z2 = 0;
    let z3 = 0;
    const t = this.#table;
    for (let k = 0; k < 16; k++) {
      const byte = (x[k >> 2]! >>> (24 - 8 * (k & 3))) & 0xff;
      const at = ((k << 8) | byte) << 2;
      z0 ^= t[at]!;
      z1 ^= t[at + 1]!;
      z2 ^= t[at + 2]!;
      z3 ^= t[at + 3]!;
    }
    x[0] = z0;
    x[1] = z1;
    x[2] = z2;
    x[3] = z3;
  }
}

function aesBlock(key: KeyObject, block: Buffer): Buffer {
  const cipher = createCipheriv("aes-256-ecb", key, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]);
}

function xorBlock(x: Uint32Array, bytes: Buffer, at: number): void {
  for (let w = 0; w < 4; w++) x[w] = (x[w]! ^ bytes.readUInt32BE(at + 4 * w)) >>> 0;
}

/**
 * Returns the length of the shortest prefix of `segment` (shorter than the whole) that is an authentic
 * final chunk number `index` holding at most `maxPlaintext` bytes, or `undefined` when there is none.
 */
export function authenticFinalPrefix(params: { key: KeyObject; aad: Buffer; index: number; segment: Buffer; maxPlaintext: number }): number | undefined {
  const { key, aad, index, segment } = params;
  const maxM = Math.min(segment.length - TAG_LEN - 1, params.maxPlaintext);
  if (maxM < 0) return undefined;
  const gf = new GhashMultiplier(aesBlock(key, Buffer.alloc(16)));
  const j0 = Buffer.concat([chunkNonce({ index, final: true }), Buffer.of(0, 0, 0, 1)]);
  const ej0 = aesBlock(key, j0);
  const e = [ej0.readUInt32BE(0), ej0.readUInt32BE(4), ej0.readUInt32BE(8), ej0.readUInt32BE(12)];
  const state = new Uint32Array(4);
  for (let at = 0; at < aad.length; at += 16) {
    const block = Buffer.alloc(16);
    aad.copy(block, 0, at, Math.min(at + 16, aad.length));
    xorBlock(state, block, 0);
    gf.mul(state);
  }
  const aadBits = aad.length * 8;
  const x = new Uint32Array(4);
  for (let blockStart = 0; blockStart <= maxM; blockStart += 16) {
    const partial = new Uint32Array(state);
    for (let j = 0; j < 16 && blockStart + j <= maxM; j++) {
      const m = blockStart + j;
      if (j > 0) {
        const byte = segment[m - 1]!;
        const word = (j - 1) >> 2;
        partial[word] = (partial[word]! ^ (byte << (24 - 8 * ((j - 1) & 3)))) >>> 0;
        x.set(partial);
        gf.mul(x);
      } else {
        x.set(state);
      }
      const bits = m * 8;
      x[0] = x[0]! ^ Math.floor(aadBits / 2 ** 32);
      x[1] = (x[1]! ^ aadBits) >>> 0;
      x[2] = (x[2]! ^ Math.floor(bits / 2 ** 32)) >>> 0;
      x[3] = (x[3]! ^ bits) >>> 0;
      gf.mul(x);
      const diff =
        (x[0] ^ e[0]! ^ segment.readUInt32BE(m)) |
        (x[1] ^ e[1]! ^ segment.readUInt32BE(m + 4)) |
        (x[2] ^ e[2]! ^ segment.readUInt32BE(m + 8)) |
        (x[3] ^ e[3]! ^ segment.readUInt32BE(m + 12));
      if (diff === 0) return m + TAG_LEN;
    }
    if (blockStart + 16 <= maxM) {
      xorBlock(state, segment, blockStart);
      gf.mul(state);
    }
  }
  return undefined;
}
