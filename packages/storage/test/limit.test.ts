import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readAll, Semaphore, withFaults, withLimit, type FaultyBackend, type StorageBackend } from "../src";
import { expectStorageError } from "./conformance";
import { tempFsBackend } from "./helpers";

/** Let queued promise callbacks and timers of 0 ms run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

describe("limit decorator", () => {
  let faulty: FaultyBackend;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    const t = await tempFsBackend();
    cleanup = t.cleanup;
    faulty = withFaults(t.backend);
    await faulty.put("obj", Buffer.from("hello"));
  });
  afterEach(() => cleanup());

  it("lets at most `concurrency` operations through at once", async () => {
    const b = withLimit(faulty, { concurrency: 2 });
    faulty.faults.stall("head"); // every head hangs until its caller aborts
    const controllers = Array.from({ length: 5 }, () => new AbortController());
    const pending = controllers.map((ac) => b.head("obj", { signal: ac.signal }).catch((e: unknown) => e));
    await settle();
    expect(faulty.faults.count("head")).toBe(2);
    controllers[0]!.abort();
    await settle();
    expect(faulty.faults.count("head")).toBe(3);
    // Aborting a call still waiting for a slot never reaches the backend.
    controllers[4]!.abort();
    await settle();
    expect(faulty.faults.count("head")).toBe(3);
    faulty.faults.clear();
    for (const ac of controllers) ac.abort();
    const results = await Promise.all(pending);
    expect(results.every((r) => (r as { code?: string }).code === "storage_aborted")).toBe(true);
  });

  it("holds a slot for a get until its stream is done", async () => {
    const b: StorageBackend = withLimit(faulty, { concurrency: 1 });
    const stream = await b.get("obj");
    const head = b.head("obj");
    await settle();
    expect(faulty.faults.count("head")).toBe(0);
    expect((await readAll(stream)).toString()).toBe("hello");
    expect(await head).not.toBeNull();
    // A destroyed stream releases too; a failed get releases at once.
    const s2 = await b.get("obj");
    s2.destroy();
    await expectStorageError(b.get("missing"), "storage_not_found");
    expect(await b.head("obj")).not.toBeNull();
  });

  it("passes listings through page by page", async () => {
    const b = withLimit(faulty, { concurrency: 1 });
    for (const k of ["l/1", "l/2", "l/3"]) await b.put(k, Buffer.from(k));
    const keys: string[] = [];
    for await (const e of b.list("l/")) {
      keys.push(e.key);
      expect(await b.head(e.key)).not.toBeNull(); // no slot held between pages: no deadlock
    }
    expect(keys).toEqual(["l/1", "l/2", "l/3"]);
  });
});

describe("Semaphore.run", () => {
  it("runs at most `size` functions at once, the others in their turn", async () => {
    const sem = new Semaphore(2);
    const started: number[] = [];
    const gates = Array.from({ length: 4 }, () => {
      const gate = {} as { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void };
      gate.promise = new Promise<void>((resolve, reject) => Object.assign(gate, { resolve, reject }));
      return gate;
    });
    const runs = gates.map((g, i) =>
      sem.run(async () => {
        started.push(i);
        await g.promise;
        return i;
      }),
    );
    const outcomes = Promise.allSettled(runs);
    await settle();
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve();
    await settle();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.reject(new Error("boom")); // a failure releases its slot too
    await settle();
    expect(started).toEqual([0, 1, 2, 3]);
    gates[2]!.resolve();
    gates[3]!.resolve();
    expect(await outcomes).toMatchObject([{ status: "rejected" }, { value: 1 }, { value: 2 }, { value: 3 }]);
    expect(sem.held).toBe(0);
  });
});
