import { PREAMBLE_LEN, checkPreamble, parseHeader, type ArtifactHeader } from "./format";

/**
 * Reads the header of an artifact without any key (for `hesaab artifact inspect` and keyless checks).
 * Nothing is authenticated: the MAC is only checked when decrypting. From a stream or async iterable
 * it reads just the header's bytes, then stops (a Node stream is destroyed). Throws {@link CryptoError}
 * (`artifact_bad_magic`, `artifact_truncated`, ...).
 */
export async function readHeader(source: Uint8Array | AsyncIterable<Uint8Array | string>): Promise<ArtifactHeader> {
  if (source instanceof Uint8Array) return parseHeader(source);
  const pieces: Buffer[] = [];
  let length = 0;
  let needed = PREAMBLE_LEN;
  for await (const piece of source) {
    const bytes = typeof piece === "string" ? Buffer.from(piece) : Buffer.from(piece.buffer, piece.byteOffset, piece.length);
    pieces.push(bytes);
    length += bytes.length;
    if (needed === PREAMBLE_LEN && length >= PREAMBLE_LEN) needed = 2 + checkPreamble(Buffer.concat(pieces, length));
    if (length >= needed) break;
  }
  return parseHeader(Buffer.concat(pieces, length));
}
