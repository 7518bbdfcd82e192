// UploadEtags: the ETags a provider may answer, computed over a stream however it was cut into chunks.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { etagProvesCopy, UploadEtags } from "../src";

const md5 = (b: Buffer) => createHash("md5").update(b).digest();

/** AWS's multipart ETag, written out independently: MD5 of the parts' binary MD5s, "-", the part count. */
function multipartEtag(data: Buffer, partSize: number): string {
  const digests: Buffer[] = [];
  for (let at = 0; at < data.length || digests.length === 0; at += partSize) digests.push(md5(data.subarray(at, at + partSize)));
  return `${md5(Buffer.concat(digests)).toString("hex")}-${digests.length}`;
}

describe("UploadEtags", () => {
  const partSize = 1000;
  for (const size of [0, 1, 999, 1000, 1001, 3000, 5123]) {
    it(`${size} bytes in odd chunks: the whole object's MD5 and the multipart form`, async () => {
      const data = randomBytes(size);
      const etags = new UploadEtags(partSize);
      const chunks = [];
      for (let at = 0; at < size; at += 337) chunks.push(data.subarray(at, at + 337));
      await pipeline(Readable.from(chunks), UploadEtags.tap(etags), async (s: AsyncIterable<Buffer>) => {
        for await (const _ of s);
      });
      expect(etags.digests()).toEqual([md5(data).toString("hex"), multipartEtag(data, partSize)]);
    });
  }

  it("a provider's ETag proves the copy only when it is one of them (quotes and case ignored)", () => {
    const etags = new UploadEtags(partSize);
    etags.update(Buffer.from("the artifact"));
    const expected = etags.digests();
    expect(etagProvesCopy(`"${expected[0]!.toUpperCase()}"`, expected)).toBe(true);
    expect(etagProvesCopy(expected[1], expected)).toBe(true);
    expect(etagProvesCopy(md5(Buffer.from("the artifacT")).toString("hex"), expected)).toBe(false);
    expect(etagProvesCopy(undefined, expected)).toBe(false);
    expect(etagProvesCopy("", expected)).toBe(false);
  });
});
