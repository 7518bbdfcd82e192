import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { guardLength, readAll } from "../src/streams";
import { expectStorageError } from "./conformance";

describe("guardLength (the short-read rule of get)", () => {
  it("passes exactly the expected bytes", async () => {
    const out = guardLength({ source: Readable.from([Buffer.from("abc"), Buffer.from("de")]), expected: 5, provider: "b2", key: "k" });
    expect((await readAll(out)).toString()).toBe("abcde");
  });

  it("errors with a retryable storage_short_read when the source ends early", async () => {
    const out = guardLength({ source: Readable.from([Buffer.from("abc")]), expected: 5, provider: "b2", key: "k" });
    const err = await readAll(out).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "storage_short_read", retryable: true, context: { provider: "b2", key: "k", expected: 5, received: 3 } });
  });

  it("turns a broken source (dropped connection) into storage_short_read", async () => {
    const src = new PassThrough();
    const out = guardLength({ source: src, expected: 10, provider: "r2", key: "k" });
    src.write("abc");
    setTimeout(() => src.destroy(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })), 5);
    await expectStorageError(readAll(out), "storage_short_read", "r2");
  });

  it("refuses more bytes than announced", async () => {
    const out = guardLength({ source: Readable.from([Buffer.from("abcdef")]), expected: 5, provider: "b2", key: "k" });
    await expectStorageError(readAll(out), "storage_corrupt");
  });

  it("destroys the source when the consumer destroys the stream", async () => {
    const src = new PassThrough();
    const out = guardLength({ source: src, expected: 10, provider: "b2", key: "k" });
    out.destroy();
    await new Promise((r) => setImmediate(r));
    expect(src.destroyed).toBe(true);
  });
});
