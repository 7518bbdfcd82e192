// A 4 GiB stream through encrypt → decrypt with flat memory. This asserts memory, not time: the
// plaintext is generated lazily (one 1 MiB block, sliced), nothing is stored, and the resident set
// must not grow by more than 200 MB while 4 GiB pass through both transforms.
import { randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { createDecryptStream, createEncryptStream, generateDek, newDekId } from "../src";

const GiB = 1024 ** 3;
const TOTAL = 4 * GiB;
const BLOCK = 1 << 20;
const PIECE = 256 * 1024;

describe("a 4 GiB stream", () => {
  it("encrypts and decrypts back with flat memory", async () => {
    const block = randomBytes(BLOCK);
    function* source() {
      for (let at = 0; at < TOTAL; at += PIECE) yield block.subarray(at % BLOCK, (at % BLOCK) + PIECE);
    }
    const identity = { kind: "tenant" as const, tenantId: "tenant-big", backupId: "bkp_4gib" };
    const dek = generateDek();
    const dekId = newDekId();

    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sample = () => {
      peak = Math.max(peak, process.memoryUsage().rss);
    };
    const timer = setInterval(sample, 25);

    let count = 0;
    let mismatches = 0;
    let pieces = 0;
    const sink = new Writable({
      highWaterMark: 1 << 20,
      write(chunk: Buffer, _enc, cb) {
        let done = 0;
        while (done < chunk.length) {
          const offset = (count + done) % BLOCK;
          const n = Math.min(chunk.length - done, BLOCK - offset);
          if (block.compare(chunk, done, done + n, offset, offset + n) !== 0) mismatches++;
          done += n;
        }
        count += chunk.length;
        if (++pieces % 64 === 0) sample();
        cb();
      },
    });
    try {
      await pipeline(
        Readable.from(source()),
        createEncryptStream({ dek, dekId, ...identity, contentEncoding: "none" }),
        createDecryptStream({ dek, dekId, expect: identity }),
        sink,
      );
    } finally {
      clearInterval(timer);
    }
    sample();
    expect(count).toBe(TOTAL);
    expect(mismatches).toBe(0);
    const growthMb = (peak - baseline) / 1e6;
    expect(growthMb, `rss grew by ${growthMb.toFixed(0)} MB`).toBeLessThan(200);
  });
});
