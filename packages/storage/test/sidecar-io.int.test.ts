import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSidecarBytes, withKeyPrefix, type StorageBackend } from "../src";
import { deletePrefix, s3Test, tempFsBackend, uniquePrefix } from "./helpers";

const prefix = uniquePrefix("sidecar-io");
const cleanups: (() => Promise<void>)[] = [];
const backends: Record<string, StorageBackend> = {};

beforeAll(async () => {
  const fs = await tempFsBackend("fs");
  cleanups.push(fs.cleanup);
  backends.fs = fs.backend;
  backends.s3 = withKeyPrefix(s3Test("b2"), prefix);
  cleanups.push(() => deletePrefix("b2", prefix));
});
afterAll(async () => {
  for (const c of cleanups) await c();
});

describe.each(["fs", "s3"])("readSidecarBytes (%s)", (kind) => {
  it("reads a sidecar, null for a missing one, an empty buffer for an empty one", async () => {
    const backend = backends[kind]!;
    await backend.put("tenants/t/x.meta.json", Buffer.from('{"a":1}'));
    await backend.put("tenants/t/empty.meta.json", Buffer.alloc(0));
    expect((await readSidecarBytes({ backend, key: "tenants/t/x.meta.json" }))?.toString()).toBe('{"a":1}');
    expect(await readSidecarBytes({ backend, key: "tenants/t/none.meta.json" })).toBeNull();
    expect((await readSidecarBytes({ backend, key: "tenants/t/empty.meta.json" }))?.length).toBe(0);
  });
  it("reads at most 1 MiB of an oversized object", async () => {
    const backend = backends[kind]!;
    await backend.put("tenants/t/big.keys.json", Buffer.alloc(3 * 1024 * 1024, 0x20));
    expect((await readSidecarBytes({ backend, key: "tenants/t/big.keys.json" }))?.length).toBe(1024 * 1024);
  });
});
