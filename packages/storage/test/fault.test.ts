import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readAll, withFaults, type FaultyBackend } from "../src";
import { expectStorageError } from "./conformance";
import { tempFsBackend } from "./helpers";

describe("fault decorator", () => {
  let b: FaultyBackend;
  let cleanup: () => Promise<void>;
  const data = Buffer.from("0123456789".repeat(100));

  beforeEach(async () => {
    const t = await tempFsBackend();
    b = withFaults(t.backend);
    cleanup = t.cleanup;
    await b.put("obj", data);
  });
  afterEach(() => cleanup());

  it("fails the next N calls of one operation, then lets calls through", async () => {
    b.faults.failNext("head", 2);
    await expectStorageError(b.head("obj"), "storage_unavailable", "fs");
    await expectStorageError(b.head("obj"), "storage_unavailable", "fs");
    expect((await b.head("obj"))?.size).toBe(data.length);
    expect(await readAll(await b.get("obj"))).toEqual(data); // other ops untouched
    expect(b.faults.count("head")).toBe(3);
    expect(b.faults.calls.filter((c) => c.faults.includes("fail"))).toHaveLength(2);
  });

  it("fails with a chosen code", async () => {
    b.faults.failNext("get", 1, { code: "storage_auth_failed" });
    const err = await b.get("obj").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "storage_auth_failed", retryable: false });
  });

  it("down fails everything until up; a failed put destroys its stream body", async () => {
    b.faults.down();
    await expectStorageError(b.head("obj"), "storage_unavailable");
    await expectStorageError(b.delete("obj"), "storage_unavailable");
    await expectStorageError(
      (async () => {
        for await (const _ of b.list("")) {
          /* nothing */
        }
      })(),
      "storage_unavailable",
    );
    const body = Readable.from([Buffer.from("x")]);
    await expectStorageError(b.put("new", body), "storage_unavailable");
    expect(body.destroyed).toBe(true);
    b.faults.up();
    expect(await b.head("obj")).not.toBeNull();
  });

  it("corrupts one byte of a get at an offset", async () => {
    b.faults.corrupt("get", { times: 1, offset: 5 });
    const bad = await readAll(await b.get("obj"));
    expect(bad.length).toBe(data.length);
    expect(bad[5]).toBe(data[5]! ^ 0xff);
    expect(bad.subarray(6)).toEqual(data.subarray(6));
    expect(await readAll(await b.get("obj"))).toEqual(data); // times: 1
  });

  it("corrupts the bytes of a put (Buffer, stream and factory bodies)", async () => {
    b.faults.corrupt("put", { offset: 0 });
    await b.put("c1", Buffer.from("abc"));
    await b.put("c2", Readable.from([Buffer.from("abc")]));
    await b.put("c3", () => Readable.from([Buffer.from("a"), Buffer.from("bc")]));
    b.faults.clear();
    for (const k of ["c1", "c2", "c3"]) {
      const got = await readAll(await b.get(k));
      expect(got.subarray(1).toString()).toBe("bc");
      expect(got[0]).toBe("a".charCodeAt(0) ^ 0xff);
    }
  });

  it("stalls for a time, or until the caller aborts", async () => {
    b.faults.stall("head", { times: 1, ms: 5 });
    expect(await b.head("obj")).not.toBeNull();
    b.faults.stall("head", { times: 1 });
    const ac = new AbortController();
    const pending = b.head("obj", { signal: ac.signal });
    setTimeout(() => ac.abort(), 5);
    await expectStorageError(pending, "storage_aborted");
  });

  it("cuts a get stream: as a dropped connection (retryable error) or a lying provider (clean early end)", async () => {
    b.faults.cut("get", { afterBytes: 100, times: 1 });
    const s = await b.get("obj");
    let got = 0;
    const err = await (async () => {
      for await (const c of s) got += (c as Buffer).length;
    })().catch((e: unknown) => e);
    expect(got).toBe(100);
    expect(err).toMatchObject({ code: "storage_short_read", retryable: true });

    b.faults.cut("get", { afterBytes: 100, times: 1, mode: "end" });
    expect((await readAll(await b.get("obj"))).length).toBe(100);
  });

  it("cuts a put: a dropped upload stores nothing; a lying one stores the truncated bytes", async () => {
    b.faults.cut("put", { afterBytes: 10, times: 1 });
    await expectStorageError(b.put("cut", Readable.from([data])), "storage_unavailable", "fs");
    expect(await b.head("cut")).toBeNull();
    b.faults.cut("put", { afterBytes: 10, times: 1, mode: "end" });
    const r = await b.put("cut", data);
    expect(r.size).toBe(10);
    expect((await b.head("cut"))?.size).toBe(10);
  });

  it("breaks a listing after some entries", async () => {
    for (const k of ["l/a", "l/b", "l/c"]) await b.put(k, Buffer.from(k));
    b.faults.breakList({ afterEntries: 2, times: 1 });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const e of b.list("l/")) seen.push(e.key);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(["l/a", "l/b"]);
    expect(err).toMatchObject({ code: "storage_unavailable" });
  });
});
