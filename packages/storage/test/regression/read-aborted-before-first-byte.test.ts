// A reader that goes away before its first read (a restore fetching two parts at once stops one
// when the other fails): the stream opened for it was left without a listener, so the abort's
// error crashed the process as an uncaught exception, and its connection stayed open.
import type { Readable } from "node:stream";
import { setImmediate } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readWithFailover, withRetry, type StorageBackend } from "../../src";
import { tempFsBackend } from "../helpers";

describe("a read aborted before its first byte", () => {
  let backend: StorageBackend;
  let opened: Readable[];
  let cleanup: () => Promise<void>;
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);

  beforeEach(async () => {
    const t = await tempFsBackend();
    cleanup = t.cleanup;
    await t.backend.put("obj", Buffer.alloc(1 << 20, 7));
    // The real backend, with every stream it opens kept in sight.
    opened = [];
    const inner = t.backend;
    backend = {
      name: inner.name,
      put: (key, body, opts) => inner.put(key, body, opts),
      get: async (key, opts) => {
        const stream = await inner.get(key, opts);
        opened.push(stream);
        return stream;
      },
      head: (key, opts) => inner.head(key, opts),
      list: (prefix, opts) => inner.list(prefix, opts),
      delete: (key, opts) => inner.delete(key, opts),
    };
    uncaught.length = 0;
    process.on("uncaughtException", onUncaught);
  });
  afterEach(async () => {
    process.off("uncaughtException", onUncaught);
    await cleanup();
  });

  it("through readWithFailover: no uncaught error, the opened copy destroyed, done rejects as aborted", async () => {
    const controller = new AbortController();
    const read = await readWithFailover({ backends: [backend], key: "obj", signal: controller.signal });
    controller.abort();
    await setImmediate();
    read.stream.destroy();
    await expect(read.done).rejects.toMatchObject({ code: "storage_aborted" });
    await setImmediate();
    expect(uncaught).toEqual([]);
    expect(opened.every((s) => s.destroyed)).toBe(true);
  });

  it("through the retry decorator's resuming read: no uncaught error, the opened copy destroyed", async () => {
    const controller = new AbortController();
    const stream = await withRetry(backend, { attempts: 2, baseDelayMs: 1 }).get("obj", { signal: controller.signal });
    controller.abort();
    await setImmediate();
    stream.destroy();
    await setImmediate();
    expect(uncaught).toEqual([]);
    expect(opened).toHaveLength(1);
    expect(opened[0]!.destroyed).toBe(true);
  });
});
