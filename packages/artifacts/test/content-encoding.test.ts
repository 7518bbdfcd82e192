import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it, vi } from "vitest";

describe("decodeContent", () => {
  it("a zstd plaintext where this process has no zstd engine: artifact_codec_unavailable, saying what to do, before any output", async () => {
    vi.stubEnv("HESAAB_ZSTD_DISABLE", "libzstd,zlib"); // a Node 20 machine without libzstd-dev
    vi.resetModules();
    try {
      const { decodeContent } = await import("../src/content-encoding");
      let written = 0;
      const sink = new Writable({ write: (chunk: Buffer, _e, cb) => ((written += chunk.length), cb()) });
      await expect(
        pipeline(Readable.from([Buffer.from("anything")]), decodeContent({ encoding: () => "zstd", key: "t/bkp_1.bkp1" }), sink),
      ).rejects.toMatchObject({
        code: "artifact_codec_unavailable",
        message: "t/bkp_1.bkp1 is compressed with zstd, which this process cannot decode",
        hint: expect.stringMatching(/apt-get install libzstd-dev.*BACKUP_COMPRESSION=gzip/),
      });
      expect(written).toBe(0);
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });
});
