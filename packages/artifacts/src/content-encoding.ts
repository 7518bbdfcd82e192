import { pipeline } from "node:stream";
import type { Transform } from "node:stream";
import { createGunzip } from "node:zlib";
import type { ContentEncoding } from "@hesaab/crypto";
import { createGzipStream, gzipBytes } from "@hesaab/gzip";
import { createZstdDecompressStream, createZstdStream, zstdBytes, zstdUnavailable } from "@hesaab/zstd";
import { ArtifactsError } from "./errors";

/**
 * How a plaintext is compressed before it is encrypted: gzip (the default) or zstd
 * (BACKUP_COMPRESSION). The BKP1 header records which (its contentEncoding), and the read path
 * decodes by the header alone, so backups of either kind restore side by side.
 */
export type Compression = { codec: "gzip" | "zstd"; level: number };

export function compressStream(c: Compression): Transform {
  return c.codec === "zstd" ? createZstdStream({ level: c.level }) : createGzipStream({ level: c.level });
}

export function compressBytes(c: Compression, plaintext: Buffer): Promise<Buffer> {
  return c.codec === "zstd" ? zstdBytes(plaintext, { level: c.level }) : gzipBytes(plaintext, { level: c.level });
}

/** The decoder of a content encoding; undefined for "none". Throws when this process cannot decode it. */
function decoderFor(encoding: ContentEncoding, key: string): Transform | undefined {
  if (encoding === "none") return undefined;
  if (encoding === "gzip") return createGunzip();
  const why = zstdUnavailable();
  if (why) {
    throw new ArtifactsError({
      code: "artifact_codec_unavailable",
      message: `${key} is compressed with zstd, which this process cannot decode`,
      hint: why,
      context: { key, contentEncoding: encoding },
    });
  }
  return createZstdDecompressStream();
}

/**
 * A pipeline stage after BKP1 decryption that decodes the plaintext as the artifact's header says
 * (`encoding()`, asked once the first plaintext or its end arrives: the header is verified by then).
 * A decoder's failure (a truncated or corrupt stream inside an authentic artifact: written damaged)
 * becomes `artifact_content_corrupt`; the decryption's own errors pass as they are.
 */
export function decodeContent({ encoding, key }: { encoding: () => ContentEncoding; key: string }) {
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    const chunks = source[Symbol.asyncIterator]();
    const first = await chunks.next();
    const rest = (async function* () {
      if (!first.done) yield first.value;
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
    })();
    const contentEncoding = encoding();
    const decoder = decoderFor(contentEncoding, key);
    if (!decoder) return yield* rest;
    let failed: Error | undefined;
    decoder.once("error", (err) => (failed = err));
    try {
      yield* pipeline(rest, decoder, () => {}); // a failure anywhere destroys `decoder` with it, ending this loop
    } catch (err) {
      if (!failed || err !== failed) throw err;
      throw new ArtifactsError({
        code: "artifact_content_corrupt",
        message: `${key}: the decrypted plaintext is not valid ${contentEncoding} (${failed.message})`,
        hint: "The backup was written damaged (its encryption is intact): restore another backup",
        context: { key, contentEncoding },
        cause: err,
      });
    }
  };
}
