import { spawnSync } from "node:child_process";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { bytesTakenUnread, copyText, failingSourceThrough, through } from "@hesaab/testkit/streams";
import { createGzipStream, defaultGzipEngine, gzipBuffer, gzipBufferAsync, gzipBytes, gzipEngines } from "../src";

/** CI (and anyone who sets it) must run the libdeflate engine; elsewhere zlib alone is a supported setup. */
const requireLibdeflate = process.env.CI === "true" || process.env.HESAAB_REQUIRE_LIBDEFLATE === "1";

async function gzipThrough(input: Buffer, opts: Parameters<typeof createGzipStream>[0], size = 64 * 1024): Promise<Buffer> {
  return through(input, createGzipStream(opts), size);
}

/** gunzip, the command: an independent reader of multi-member gzip. */
function gunzipCli(data: Buffer): Buffer {
  const r = spawnSync("gzip", ["-dc"], { input: data, maxBuffer: 1 << 30 });
  expect(r.status, r.stderr?.toString()).toBe(0);
  return r.stdout;
}

describe("@hesaab/gzip", () => {
  it.skipIf(!requireLibdeflate && defaultGzipEngine === "zlib")(
    "has its libdeflate engine built (apt-get install libdeflate-dev, then pnpm --filter @hesaab/gzip build:native)",
    () => {
      expect(defaultGzipEngine).toBe("libdeflate");
    },
  );

  describe.each(gzipEngines.map((engine) => [engine]))("engine %s", (engine) => {
    it("round-trips buffers, sync and on the pool, at every level, empty included", async () => {
      const input = copyText(200_000);
      for (const level of [1, 6, 9]) {
        expect(gunzipSync(gzipBuffer(input, { level, engine })).equals(input)).toBe(true);
        expect(gunzipSync(await gzipBufferAsync(input, { level, engine })).equals(input)).toBe(true);
      }
      expect(gunzipSync(gzipBuffer(Buffer.alloc(0), { level: 6, engine })).length).toBe(0);
      expect(gunzipSync(await gzipBufferAsync(Buffer.alloc(0), { level: 6, engine })).length).toBe(0);
      const view = new Uint8Array(input.buffer, input.byteOffset + 7, 50_000); // not at the start of its memory
      expect(gunzipSync(gzipBuffer(view, { level: 6, engine })).equals(Buffer.from(view))).toBe(true);
      expect(gunzipSync(await gzipBytes(input, { level: 6, engine })).equals(input)).toBe(true);
      const compressed = gzipBuffer(input, { level: 6, engine });
      expect(compressed.length).toBeLessThan(input.length / 2);
      expect(gunzipCli(compressed).equals(input)).toBe(true);
    });

    it("streams: members in order, readable by zlib and by gunzip, several at once", async () => {
      const input = copyText(3 * 1024 * 1024 + 12_345);
      for (const parallel of [1, 4]) {
        const out = await gzipThrough(input, { level: 6, engine, chunkSize: 64 * 1024, parallel });
        expect(gunzipSync(out).equals(input)).toBe(true);
        expect(gunzipCli(out).equals(input)).toBe(true);
      }
      expect(gunzipSync(await gzipThrough(Buffer.alloc(0), { level: 6, engine })).length).toBe(0);
    });

    it("compresses a copy: the caller may change its buffer at once", async () => {
      const input = copyText(500_000);
      const original = Buffer.from(input);
      const pending = gzipBufferAsync(input, { level: 6, engine });
      input.fill(0);
      expect(gunzipSync(await pending).equals(original)).toBe(true);
    });

    it("takes no more input than it can hand on while the reader is slow", async () => {
      const { stalledAt, later } = await bytesTakenUnread(createGzipStream({ level: 1, engine, chunkSize: 256 * 1024 }));
      expect(later).toBe(stalledAt);
      expect(stalledAt).toBeLessThan(8 * 1024 * 1024);
    });

    it("passes a source's failure on", async () => {
      await expect(failingSourceThrough(createGzipStream({ level: 6, engine, chunkSize: 64 * 1024 }), copyText(300_000))).rejects.toThrow("the export failed");
    });
  });

  it("refuses a level outside 1-9 and stream settings that would not bound memory, with clear errors", () => {
    for (const level of [0, 10, 1.5, Number.NaN]) {
      expect(() => gzipBuffer(Buffer.from("x"), { level })).toThrow(/gzip level must be an integer from 1 to 9/);
      expect(() => createGzipStream({ level })).toThrow(RangeError);
    }
    for (const parallel of [0, Number.NaN, Number.POSITIVE_INFINITY, 1.5])
      expect(() => createGzipStream({ level: 6, parallel })).toThrow(/parallel must be a positive integer/);
    for (const chunkSize of [1024, Number.NaN])
      expect(() => createGzipStream({ level: 6, chunkSize })).toThrow(/chunkSize must be an integer of at least 65536/);
  });

  describe.skipIf(defaultGzipEngine === "zlib")("libdeflate", () => {
    it("writes one member per chunkSize of input, in order, however the input is written", async () => {
      const chunkSize = 64 * 1024;
      const input = copyText(5 * chunkSize + 1000);
      // libdeflate is deterministic: the stream must be exactly the members of each chunk, concatenated
      const members = Buffer.concat(
        Array.from({ length: Math.ceil(input.length / chunkSize) }, (_, i) =>
          gzipBuffer(input.subarray(i * chunkSize, (i + 1) * chunkSize), { level: 6, engine: "libdeflate" }),
        ),
      );
      for (const pieces of [input.length, 1000, 100_000]) {
        expect((await gzipThrough(input, { level: 6, engine: "libdeflate", chunkSize, parallel: 3 }, pieces)).equals(members)).toBe(true);
      }
    });

    it("writes gzip the stock tools read, smaller than zlib's at the same level", async () => {
      const input = copyText(2 * 1024 * 1024);
      const ours = await gzipThrough(input, { level: 6, engine: "libdeflate" });
      const zlib = gzipBuffer(input, { level: 6, engine: "zlib" });
      expect(gunzipCli(ours).equals(input)).toBe(true);
      expect(ours.length).toBeLessThan(zlib.length);
    });
  });
});
