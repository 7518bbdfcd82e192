// One BKP1 chunk: AES-256-GCM under K_payload with nonce `0^7 || u32(index) || u8(final)` and
// AAD `SHA-256(u16 headerLen || header)`. Input and output are lists of pieces, never concatenated.
import { createCipheriv, createDecipheriv, type KeyObject } from "node:crypto";
import { TAG_LEN } from "./format";

/**
 * Largest slice given to one cipher update. Each update allocates its output: slices of this size
 * are recycled by the allocator, while megabyte-sized outputs can be fresh (page-faulted) memory
 * every time. The pieces are subarrays: slicing copies nothing.
 */
const UPDATE_SLICE = 64 * 1024;

function* slices(pieces: Buffer[]): Generator<Buffer> {
  for (const piece of pieces) {
    if (piece.length <= UPDATE_SLICE) yield piece;
    else for (let at = 0; at < piece.length; at += UPDATE_SLICE) yield piece.subarray(at, at + UPDATE_SLICE);
  }
}

export function chunkNonce({ index, final }: { index: number; final: boolean }): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(index, 7);
  nonce[11] = final ? 1 : 0;
  return nonce;
}

export interface ChunkParams {
  key: KeyObject;
  aad: Buffer;
  index: number;
  final: boolean;
}

/** Encrypts one chunk's plaintext pieces; returns the ciphertext pieces followed by the 16-byte tag. */
export function sealChunk(params: ChunkParams & { plaintext: Buffer[] }): Buffer[] {
  const cipher = createCipheriv("aes-256-gcm", params.key, chunkNonce(params), { authTagLength: TAG_LEN });
  cipher.setAAD(params.aad);
  const out: Buffer[] = [];
  for (const piece of slices(params.plaintext)) out.push(cipher.update(piece));
  const last = cipher.final();
  if (last.length > 0) out.push(last);
  out.push(cipher.getAuthTag());
  return out;
}

/** Decrypts one chunk; returns its plaintext pieces, or `undefined` when the tag does not verify (nothing is released). */
export function openChunk(params: ChunkParams & { ciphertext: Buffer[]; tag: Buffer }): Buffer[] | undefined {
  const decipher = createDecipheriv("aes-256-gcm", params.key, chunkNonce(params), { authTagLength: TAG_LEN });
  decipher.setAAD(params.aad);
  decipher.setAuthTag(params.tag);
  const out: Buffer[] = [];
  for (const piece of slices(params.ciphertext)) out.push(decipher.update(piece));
  try {
    const last = decipher.final();
    if (last.length > 0) out.push(last);
  } catch {
    return undefined;
  }
  return out;
}
