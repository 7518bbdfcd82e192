import { spawnSync } from "node:child_process";
import { describe, expect, it, vi } from "vitest";
import { bytesTakenUnread, copyText, failingSourceThrough, pieces, through } from "@hesaab/testkit/streams";
import { createZstdDecompressStream, createZstdStream, defaultZstdEngine, zstdBuffer, zstdBufferAsync, zstdBytes, zstdEngines, type ZstdEngine } from "../src";

/** CI (and anyone who sets it) must run the libzstd engine; elsewhere node:zlib's (Node ≥ 22.15) or none is a supported setup. */
const requireLibzstd = process.env.CI === "true" || process.env.HESAAB_REQUIRE_LIBZSTD === "1";

/** zstd, the command: an independent reader (and writer) of zstd frames. */
function zstdCli(args: string[], data: Buffer): Buffer {
  const r = spawnSync("zstd", ["-q", ...args], { input: data, maxBuffer: 1 << 30 });
  expect(r.status, r.stderr?.toString()).toBe(0);
  return r.stdout;
}

const decompress = (data: Buffer, engine: ZstdEngine, size?: number) => through(data, createZstdDecompressStream({ engine }), size);

describe("@hesaab/zstd", () => {
  it.skipIf(!requireLibzstd && defaultZstdEngine !== "libzstd")(
    "has its libzstd engine built (apt-get install libzstd-dev, then pnpm --filter @hesaab/zstd build:native)",
    () => {
      expect(defaultZstdEngine).toBe("libzstd");
    },
  );

  describe.each(zstdEngines.map((engine) => [engine]))("engine %s", (engine) => {
    it("round-trips buffers, sync and on the pool, at several levels, empty and 1 byte included, readable by zstd -d", async () => {
      const input = copyText(200_000);
      for (const level of [1, 3, 9]) {
        expect(zstdCli(["-d"], zstdBuffer(input, { level, engine })).equals(input)).toBe(true);
        expect(zstdCli(["-d"], await zstdBufferAsync(input, { level, engine })).equals(input)).toBe(true);
      }
      for (const tiny of [Buffer.alloc(0), Buffer.from("x")]) {
        expect(zstdCli(["-d"], zstdBuffer(tiny, { level: 3, engine })).equals(tiny)).toBe(true);
        expect(zstdCli(["-d"], await zstdBufferAsync(tiny, { level: 3, engine })).equals(tiny)).toBe(true);
        expect((await decompress(await zstdBytes(tiny, { level: 3, engine }), engine)).equals(tiny)).toBe(true);
      }
      const view = new Uint8Array(input.buffer, input.byteOffset + 7, 50_000); // not at the start of its memory
      expect((await decompress(zstdBuffer(view, { level: 3, engine }), engine)).equals(Buffer.from(view))).toBe(true);
      const compressed = await zstdBytes(input, { level: 3, engine });
      expect(compressed.length).toBeLessThan(input.length / 2);
      expect((await decompress(compressed, engine)).equals(input)).toBe(true);
    });

    it("streams more than 1 MiB: frames in order, readable by zstd -d and by every engine, several at once", async () => {
      const input = copyText(3 * 1024 * 1024 + 12_345);
      for (const parallel of [1, 4]) {
        const out = await through(input, createZstdStream({ level: 3, engine, chunkSize: 64 * 1024, parallel }));
        expect(zstdCli(["-d"], out).equals(input)).toBe(true);
        for (const reader of zstdEngines) expect((await decompress(out, reader)).equals(input)).toBe(true);
      }
      const empty = await through(Buffer.alloc(0), createZstdStream({ level: 3, engine }));
      expect(zstdCli(["-d"], empty).length).toBe(0);
    });

    it("decompresses concatenated frames the zstd command wrote, fed in pieces of any size", async () => {
      const [a, b] = [copyText(30_000), copyText(70_000)];
      // a skippable frame (RFC 8878 §3.1.2) between them: no content, every reader passes over it
      const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 5, 0, 0, 0]), Buffer.from("hello")]);
      // node:zlib's own decoder reads only the first of these frames (Node 22.23): FramewiseDecompress is what reads them all
      const frames = Buffer.concat([zstdCli(["-3", "-c"], a), skippable, zstdCli(["-19", "-c"], b)]);
      for (const size of [7, 1000, frames.length]) expect((await decompress(frames, engine, size)).equals(Buffer.concat([a, b]))).toBe(true);
    });

    it("fails on a truncated or corrupt input, and on bytes that are not zstd", async () => {
      const frames = await through(copyText(2 * 1024 * 1024), createZstdStream({ level: 3, engine, chunkSize: 1 << 20 }));
      await expect(decompress(frames.subarray(0, frames.length - 100), engine)).rejects.toThrow(/truncated/); // inside the last frame
      await expect(decompress(frames.subarray(0, 5), engine)).rejects.toThrow(/truncated/); // inside the first frame's header
      await expect(decompress(Buffer.alloc(0), engine)).rejects.toThrow(/truncated/); // not even one frame, as `zstd -d` says
      const corrupt = Buffer.from(frames);
      corrupt[Math.floor(corrupt.length / 3)]! ^= 0x40;
      await expect(decompress(corrupt, engine)).rejects.toThrow();
      await expect(decompress(Buffer.from("COPY public.invoices (id) FROM stdin;\n"), engine)).rejects.toThrow();
    });

    it("compresses a copy: the caller may change its buffer at once", async () => {
      const input = copyText(500_000);
      const original = Buffer.from(input);
      const pending = zstdBufferAsync(input, { level: 3, engine });
      input.fill(0);
      expect((await decompress(await pending, engine)).equals(original)).toBe(true);
    });

    it("takes no more input than it can hand on while the reader is slow", async () => {
      const { stalledAt, later } = await bytesTakenUnread(createZstdStream({ level: 1, engine, chunkSize: 256 * 1024 }));
      expect(later).toBe(stalledAt);
      expect(stalledAt).toBeLessThan(8 * 1024 * 1024);
    });

    it("passes a source's failure on", async () => {
      await expect(failingSourceThrough(createZstdStream({ level: 3, engine, chunkSize: 64 * 1024 }), copyText(300_000))).rejects.toThrow("the export failed");
    });
  });

  it.skipIf(!defaultZstdEngine)("refuses a level outside 1-19 and stream settings that would not bound memory, with clear errors", () => {
    for (const level of [0, 20, 1.5, Number.NaN]) {
      expect(() => zstdBuffer(Buffer.from("x"), { level })).toThrow(/zstd level must be an integer from 1 to 19/);
      expect(() => createZstdStream({ level })).toThrow(RangeError);
    }
    for (const parallel of [0, Number.NaN, 1.5]) expect(() => createZstdStream({ level: 3, parallel })).toThrow(/parallel must be a positive integer/);
    expect(() => createZstdStream({ level: 3, chunkSize: 1024 })).toThrow(/chunkSize must be an integer of at least 65536/);
  });

  it("without any engine (HESAAB_ZSTD_DISABLE), says what to do before doing anything", async () => {
    vi.stubEnv("HESAAB_ZSTD_DISABLE", "libzstd,zlib");
    vi.resetModules();
    try {
      const bare = await import("../src");
      expect(bare.zstdEngines).toEqual([]);
      const hint = /libzstd-dev.*build:native.*BACKUP_COMPRESSION=gzip/;
      expect(bare.zstdUnavailable()).toMatch(hint);
      expect(() => bare.assertZstd()).toThrow(hint);
      expect(() => bare.createZstdStream({ level: 3 })).toThrow(hint);
      expect(() => bare.createZstdDecompressStream()).toThrow(hint);
      expect(() => bare.zstdBuffer(Buffer.from("x"), { level: 3 })).toThrow(hint);
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });

  describe.skipIf(defaultZstdEngine !== "libzstd")("libzstd", () => {
    it("writes one frame per chunkSize of input, in order, however the input is written", async () => {
      const chunkSize = 64 * 1024;
      const input = copyText(5 * chunkSize + 1000);
      // libzstd is deterministic: the stream must be exactly the frames of each chunk, concatenated
      const frames = Buffer.concat(pieces(input, chunkSize).map((chunk) => zstdBuffer(chunk, { level: 3, engine: "libzstd" })));
      for (const size of [input.length, 1000, 100_000]) {
        expect((await through(input, createZstdStream({ level: 3, engine: "libzstd", chunkSize, parallel: 3 }), size)).equals(frames)).toBe(true);
      }
    });

    it("refuses node:zlib's engine by name where this Node has none", () => {
      if (zstdEngines.includes("zlib")) return;
      expect(() => zstdBuffer(Buffer.from("x"), { level: 3, engine: "zlib" })).toThrow(/node:zlib has no zstd/);
    });
  });
});
