import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readAll, withFaults, withRetry, type FaultyBackend, type RetryInfo, type StorageBackend } from "../src";
import { expectStorageError } from "./conformance";
import { tempFsBackend } from "./helpers";

describe("retry decorator", () => {
  let faulty: FaultyBackend;
  let b: StorageBackend;
  let retries: RetryInfo[];
  let cleanup: () => Promise<void>;
  const data = Buffer.from("abcdefghij".repeat(1000));

  beforeEach(async () => {
    const t = await tempFsBackend();
    cleanup = t.cleanup;
    faulty = withFaults(t.backend);
    retries = [];
    b = withRetry(faulty, { attempts: 4, baseDelayMs: 1, maxDelayMs: 4, onRetry: (i) => retries.push(i) });
    await faulty.put("obj", data);
  });
  afterEach(() => cleanup());

  it("fails 2 times, then succeeds (head, put from a Buffer, delete)", async () => {
    faulty.faults.failNext("head", 2);
    expect((await b.head("obj"))?.size).toBe(data.length);
    expect(faulty.faults.count("head")).toBe(3);
    expect(retries.map((r) => [r.op, r.attempt])).toEqual([
      ["head", 1],
      ["head", 2],
    ]);

    faulty.faults.failNext("put", 2);
    expect((await b.put("p", Buffer.from("x"))).size).toBe(1);
    faulty.faults.failNext("delete", 2);
    await b.delete("p");
    expect(await b.head("p")).toBeNull();
  });

  it("gives up after `attempts` and throws the last error", async () => {
    faulty.faults.failNext("head", 10);
    await expectStorageError(b.head("obj"), "storage_unavailable", "fs");
    expect(faulty.faults.count("head")).toBe(4);
  });

  it("never retries a permanent error", async () => {
    faulty.faults.failNext("head", 1, { code: "storage_auth_failed" });
    await expectStorageError(b.head("obj"), "storage_auth_failed");
    expect(faulty.faults.count("head")).toBe(1);
    await expectStorageError(b.get("missing"), "storage_not_found");
    expect(faulty.faults.count("get")).toBe(1);
  });

  it("retries a put from a factory (a fresh stream per attempt) but not from a bare stream", async () => {
    let opened = 0;
    faulty.faults.failNext("put", 2);
    const r = await b.put("f", () => {
      opened++;
      return Readable.from([Buffer.from("hello")]);
    });
    expect(r.size).toBe(5);
    expect(opened).toBe(1); // the injected failures happen before the body is opened

    // A cut mid-upload consumes the stream: the factory must be called again.
    faulty.faults.cut("put", { afterBytes: 2, times: 1 });
    opened = 0;
    await b.put("f2", () => {
      opened++;
      return Readable.from([Buffer.from("hel"), Buffer.from("lo")]);
    });
    expect(opened).toBe(2);
    expect((await readAll(await b.get("f2"))).toString()).toBe("hello");

    faulty.faults.failNext("put", 1);
    const before = faulty.faults.count("put");
    await expectStorageError(b.put("s", Readable.from([Buffer.from("x")])), "storage_unavailable");
    expect(faulty.faults.count("put") - before).toBe(1);
  });

  it("resumes a broken read stream where it stopped (ranges included)", async () => {
    faulty.faults.cut("get", { afterBytes: 3000, times: 1 });
    expect(await readAll(await b.get("obj"))).toEqual(data);
    expect(faulty.faults.count("get")).toBe(2);

    faulty.faults.cut("get", { afterBytes: 10, times: 1 });
    expect(await readAll(await b.get("obj", { range: { start: 100, end: 199 } }))).toEqual(data.subarray(100, 200));

    // Every attempt makes progress: more cuts than attempts still finish.
    faulty.faults.cut("get", { afterBytes: 1000, times: 6 });
    expect(await readAll(await b.get("obj"))).toEqual(data);
  });

  it("does not resume when told not to", async () => {
    const noResume = withRetry(faulty, { attempts: 3, baseDelayMs: 1, resumeReads: false });
    faulty.faults.cut("get", { afterBytes: 10, times: 1 });
    await expectStorageError(readAll(await noResume.get("obj")), "storage_short_read");
  });

  it("resumes a broken listing after the last key it yielded", async () => {
    const keys = ["l/a", "l/b", "l/c", "l/d"];
    for (const k of keys) await faulty.put(k, Buffer.from(k));
    faulty.faults.breakList({ afterEntries: 2, times: 1 });
    const seen: string[] = [];
    for await (const e of b.list("l/")) seen.push(e.key);
    expect(seen).toEqual(keys);
    expect(faulty.faults.count("list")).toBe(2);
  });

  it("backs off exponentially with jitter, capped", async () => {
    const delays: number[] = [];
    const pinned = withRetry(faulty, { attempts: 6, baseDelayMs: 2, maxDelayMs: 10, random: () => 1, onRetry: (i) => delays.push(i.delayMs) });
    faulty.faults.failNext("head", 5);
    await pinned.head("obj");
    expect(delays).toEqual([2, 4, 8, 10, 10]);
    const low: number[] = [];
    const pinnedLow = withRetry(faulty, { attempts: 3, baseDelayMs: 8, maxDelayMs: 100, random: () => 0, onRetry: (i) => low.push(i.delayMs) });
    faulty.faults.failNext("head", 2);
    await pinnedLow.head("obj");
    expect(low).toEqual([4, 8]); // never less than half the cap
  });

  it("stops waiting when the caller aborts", async () => {
    const slow = withRetry(faulty, { attempts: 5, baseDelayMs: 60_000 });
    faulty.faults.failNext("head", 1);
    const ac = new AbortController();
    const pending = slow.head("obj", { signal: ac.signal });
    setTimeout(() => ac.abort(), 5);
    await expectStorageError(pending, "storage_aborted");
  });
});
