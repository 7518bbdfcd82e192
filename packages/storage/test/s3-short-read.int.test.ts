// A connection dropped mid-download must surface as a retryable storage_short_read (never as a
// clean, short end of stream), and the retry decorator must resume it.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAll, withRetry } from "../src";
import { expectStorageError } from "./conformance";
import { cuttingProxy, type CuttingProxy } from "./cutting-proxy";
import { deletePrefix, s3Config, s3Test, uniquePrefix } from "./helpers";

describe("s3 backend: a download cut by the network", () => {
  const prefix = uniquePrefix("short-read");
  const key = `${prefix}obj`;
  const data = randomBytes(256 * 1024);
  let proxy: CuttingProxy;

  beforeAll(async () => {
    await s3Test("b2").put(key, data);
    proxy = await cuttingProxy(s3Config("b2").endpoint);
  });
  afterAll(async () => {
    await proxy.close();
    await deletePrefix("b2", prefix);
  });

  it("errors with a retryable storage_short_read naming the provider", async () => {
    const b = s3Test("b2", { endpoint: proxy.url, sdkMaxAttempts: 1 });
    proxy.cutAfter(64 * 1024);
    const stream = await b.get(key);
    const err = await readAll(stream).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "storage_short_read", retryable: true, context: { provider: "b2", expected: data.length } });
    expect((err as { context: { received: number } }).context.received).toBeLessThan(data.length);
  });

  it("the retry decorator resumes from the byte where the connection dropped", async () => {
    const b = withRetry(s3Test("b2", { endpoint: proxy.url, sdkMaxAttempts: 1 }), { attempts: 3, baseDelayMs: 1 });
    proxy.cutAfter(100 * 1024);
    expect((await readAll(await b.get(key))).equals(data)).toBe(true);
  });

  it("without the decorator a range read is cut the same way", async () => {
    const b = s3Test("b2", { endpoint: proxy.url, sdkMaxAttempts: 1 });
    proxy.cutAfter(8 * 1024);
    await expectStorageError(readAll(await b.get(key, { range: { start: 1000, end: 200_000 } })), "storage_short_read", "b2");
  });

  it("a provider that goes silent mid-download is dropped by the idle-socket timeout as a short read", async () => {
    const b = s3Test("b2", { endpoint: proxy.url, sdkMaxAttempts: 1, socketTimeoutMs: 300 });
    proxy.stallAfter(32 * 1024);
    const stream = await b.get(key);
    await expectStorageError(readAll(stream), "storage_short_read", "b2");
  });
});
