import { createHash, type Hash } from "node:crypto";
import { Transform } from "node:stream";

/**
 * The ETags an S3-compatible provider may answer for an object our s3 backend uploaded in parts of
 * `partSize` bytes (every part that size but the last; a body that fits in one part is one PUT):
 *
 * - the MD5 of the whole object: a single PUT everywhere, and s3rver's multipart objects;
 * - `MD5(MD5(part 1) || … || MD5(part n)) + "-n"` (binary digests): AWS S3's multipart objects, and
 *   Cloudflare R2's since June 2023 (its documentation spells out this formula).
 *
 * A provider's ETag equal to one of them was computed by the provider over the bytes it stored, so
 * it proves the copy without reading it back. Anything else (another part size, a provider whose
 * ETag is opaque, a copy that differs) proves nothing: read the copy back then.
 */
export class UploadEtags {
  readonly #partSize: number;
  readonly #whole = createHash("md5");
  readonly #partDigests: Buffer[] = [];
  #part: Hash = createHash("md5");
  #inPart = 0;

  constructor(partSize: number) {
    this.#partSize = partSize;
  }

  update(bytes: Buffer): void {
    this.#whole.update(bytes);
    for (let at = 0; at < bytes.length; ) {
      const n = Math.min(bytes.length - at, this.#partSize - this.#inPart);
      this.#part.update(bytes.subarray(at, at + n));
      this.#inPart += n;
      at += n;
      if (this.#inPart === this.#partSize) this.#closePart();
    }
  }

  /** Both forms, lowercase hex without quotes. Call once, after the last `update`. */
  digests(): string[] {
    if (this.#inPart > 0 || this.#partDigests.length === 0) this.#closePart();
    const ofParts = createHash("md5").update(Buffer.concat(this.#partDigests)).digest("hex");
    return [this.#whole.digest("hex"), `${ofParts}-${this.#partDigests.length}`];
  }

  #closePart(): void {
    this.#partDigests.push(this.#part.digest());
    this.#part = createHash("md5");
    this.#inPart = 0;
  }

  /** A pass-through stage that feeds every chunk to `etags`. */
  static tap(etags: UploadEtags): Transform {
    return new Transform({
      highWaterMark: 1 << 20,
      transform(chunk: Buffer, _enc, cb) {
        etags.update(chunk);
        cb(null, chunk);
      },
    });
  }
}

/** Whether a provider's ETag (quoted or not) is one of `expected` (see `UploadEtags`). */
export function etagProvesCopy(etag: string | undefined, expected: readonly string[]): boolean {
  if (!etag) return false;
  return expected.includes(etag.replace(/"/g, "").toLowerCase());
}
