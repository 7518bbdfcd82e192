import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keysSidecarKey, openSpool, readAll, type LocalSpool } from "../src";

let dir: string;
let spool: LocalSpool;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "spool-"));
  spool = openSpool({ dir, maxBytes: 64 * 1024 });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const entry = (backupId: string, key: string) => ({ backupId, key, sha256: "a".repeat(64), size: 3, tenantId: "t1", spooledAt: new Date().toISOString() });

describe("local spool", () => {
  it("keeps an artifact, its key sidecar and its entry, and discards all three", async () => {
    await spool.backend.put("tenants/t1/x.bkp1", Readable.from([Buffer.from("abc")]));
    await spool.backend.put(keysSidecarKey("tenants/t1/x.bkp1"), Buffer.from("{}"), { metadata: { a: "b" } });
    await spool.record(entry("bkp_1", "tenants/t1/x.bkp1"));
    expect((await readAll(await spool.backend.get("tenants/t1/x.bkp1"))).toString()).toBe("abc");
    expect(await spool.entries()).toEqual([expect.objectContaining({ backupId: "bkp_1", key: "tenants/t1/x.bkp1" })]);
    expect(await spool.usedBytes()).toBeGreaterThan(0);
    await spool.discard({ backupId: "bkp_1", key: "tenants/t1/x.bkp1" });
    await spool.discard({ backupId: "bkp_1", key: "tenants/t1/x.bkp1" }); // idempotent
    expect(await spool.entries()).toEqual([]);
    expect(await spool.backend.head("tenants/t1/x.bkp1")).toBeNull();
    expect(await spool.backend.head(keysSidecarKey("tenants/t1/x.bkp1"))).toBeNull();
  });

  it("refuses a streamed artifact past the cap with storage_spool_full, keeping nothing of it", async () => {
    const big = Readable.from(Array.from({ length: 100 }, () => Buffer.alloc(1024, 7)));
    await expect(spool.backend.put("tenants/t1/big.bkp1", big)).rejects.toMatchObject({ code: "storage_spool_full", retryable: true });
    expect(big.destroyed).toBe(true);
    expect(await spool.backend.head("tenants/t1/big.bkp1")).toBeNull();
    expect(await readdir(path.join(dir, "store", "tmp"))).toEqual([]);
    await expect(spool.backend.put("tenants/t1/b.bkp1", Buffer.alloc(65 * 1024))).rejects.toMatchObject({ code: "storage_spool_full" });
    // what fits still goes in
    await spool.backend.put("tenants/t1/small.bkp1", Buffer.alloc(1024));
  });

  it("counts what it already holds against the cap", async () => {
    await spool.backend.put("tenants/t1/a.bkp1", Buffer.alloc(40 * 1024));
    await expect(spool.backend.put("tenants/t1/b.bkp1", Readable.from([Buffer.alloc(30 * 1024)]))).rejects.toMatchObject({ code: "storage_spool_full" });
  });

  it("skips an entry that does not parse (a foreign or damaged file) and says so", async () => {
    await spool.record(entry("bkp_2", "tenants/t1/y.bkp1"));
    const { writeFile } = await import("node:fs/promises");
    await writeFile(path.join(dir, "entries", "junk.json"), "{nope");
    const bad: string[] = [];
    expect((await spool.entries({ onBadEntry: (f) => bad.push(f) })).map((e) => e.backupId)).toEqual(["bkp_2"]);
    expect(bad).toEqual(["junk.json"]);
  });
});
