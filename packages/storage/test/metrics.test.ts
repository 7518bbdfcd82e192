import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readAll, withFaults, withMetrics, type FaultyBackend, type MeteredBackend, type StorageOpEvent } from "../src";
import { expectStorageError } from "./conformance";
import { tempFsBackend } from "./helpers";

describe("metrics decorator", () => {
  let faulty: FaultyBackend;
  let b: MeteredBackend;
  let events: StorageOpEvent[];
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    const t = await tempFsBackend("b2");
    cleanup = t.cleanup;
    faulty = withFaults(t.backend);
    events = [];
    b = withMetrics(faulty, { log: (e) => events.push(e) });
  });
  afterEach(() => cleanup());

  it("counts calls, errors, bytes and items per operation and logs each", async () => {
    await b.put("a", Buffer.alloc(1000));
    await b.put("b", Buffer.alloc(24));
    expect((await readAll(await b.get("a"))).length).toBe(1000);
    await b.head("a");
    await b.head("missing");
    for await (const _ of b.list("")) {
      /* drain */
    }
    await b.delete("b");
    faulty.faults.failNext("head", 1);
    await expectStorageError(b.head("a"), "storage_unavailable");
    await expectStorageError(b.get("missing"), "storage_not_found");

    const m = b.snapshot();
    expect(m.provider).toBe("b2");
    expect(m.ops.put).toMatchObject({ calls: 2, errors: 0, bytes: 1024 });
    expect(m.ops.get).toMatchObject({ calls: 2, errors: 1, bytes: 1000 });
    expect(m.ops.head).toMatchObject({ calls: 3, errors: 1 });
    expect(m.ops.list).toMatchObject({ calls: 1, errors: 0, items: 2 });
    expect(m.ops.delete).toMatchObject({ calls: 1, errors: 0 });
    expect(m.ops.put.totalMs).toBeGreaterThanOrEqual(0);

    expect(events).toHaveLength(9);
    const failed = events.filter((e) => !e.ok);
    expect(failed.map((e) => [e.op, e.error?.code])).toEqual([
      ["head", "storage_unavailable"],
      ["get", "storage_not_found"],
    ]);
    expect(events.every((e) => e.provider === "b2")).toBe(true);

    b.reset();
    expect(b.snapshot().ops.put.calls).toBe(0);
  });

  it("records a read that breaks mid-stream as a failed get, with the bytes that arrived", async () => {
    await b.put("a", Buffer.alloc(1000));
    faulty.faults.cut("get", { afterBytes: 100, times: 1 });
    await expectStorageError(readAll(await b.get("a")), "storage_short_read");
    const m = b.snapshot();
    expect(m.ops.get).toMatchObject({ calls: 1, errors: 1, bytes: 100 });
  });
});
