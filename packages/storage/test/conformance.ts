// The one suite every StorageBackend passes (restic's backend/test.Suite). Run it with a factory:
//   storageConformance({ label: "fs", open: async () => ({ backend, prefix, cleanup }) })
// Every test writes under its own prefix, so suites can share a bucket and run in parallel.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareKeys, isStorageError, readAll, type StorageBackend, type StorageErrorCode } from "../src";

export interface ConformanceTarget {
  backend: StorageBackend;
  /** Every key the suite writes starts with this (unique per run; ends with "/"). */
  prefix: string;
  cleanup?: () => Promise<void>;
}

export interface ConformanceOptions {
  label: string;
  open: () => Promise<ConformanceTarget>;
  /** Size of the "multi-MiB" round trip; large enough to need several multipart parts. Default 11 MiB. */
  largeBytes?: number;
  /**
   * Check list order for keys where one key is another plus a character below "." (`a`, `a-c`).
   * Default true. s3rver lists its files' names (`a._S3rver_object` sorts after `a-c._S3rver_object`),
   * so it fails exactly this case; our layout never produces such keys.
   */
  strictByteOrder?: boolean;
}

const MIB = 1024 * 1024;

export async function expectStorageError(promise: Promise<unknown>, code: StorageErrorCode, provider?: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeDefined();
  if (!isStorageError(err)) throw err;
  expect(err.code).toBe(code);
  if (provider) expect(err.context.provider).toBe(provider);
}

/** A stream of `size` pseudo-random bytes in uneven chunks, and their SHA-256. */
export function randomStream(size: number, chunk = 64 * 1024 + 7): { stream: Readable; sha256: string } {
  const hash = createHash("sha256");
  const parts: Buffer[] = [];
  const block = randomBytes(Math.min(size, 1 * MIB));
  for (let pos = 0; pos < size; pos += chunk) {
    const n = Math.min(chunk, size - pos);
    const start = pos % Math.max(1, block.length - n);
    const part = block.subarray(start, start + n);
    hash.update(part);
    parts.push(part);
  }
  return { stream: Readable.from(parts), sha256: hash.digest("hex") };
}

export function sha256(buf: Buffer): string {
  return createHash("sha256").update(buf).digest("hex");
}

async function collect(iter: AsyncIterable<{ key: string }>): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of iter) keys.push(e.key);
  return keys;
}

export function storageConformance(opts: ConformanceOptions): void {
  describe(`StorageBackend conformance: ${opts.label}`, () => {
    let b: StorageBackend;
    let p: string;
    let cleanup: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      const t = await opts.open();
      b = t.backend;
      p = t.prefix;
      cleanup = t.cleanup;
    });
    afterAll(async () => {
      await cleanup?.();
    });

    it("has a name", () => {
      expect(b.name).toMatch(/^[a-z0-9-]+$/);
    });

    it("round-trips an empty object, from a Buffer and from a stream", async () => {
      const r1 = await b.put(`${p}empty-buf`, Buffer.alloc(0));
      expect(r1).toMatchObject({ key: `${p}empty-buf`, size: 0 });
      const r2 = await b.put(`${p}empty-stream`, Readable.from([]));
      expect(r2.size).toBe(0);
      expect((await readAll(await b.get(`${p}empty-buf`))).length).toBe(0);
      expect((await readAll(await b.get(`${p}empty-stream`))).length).toBe(0);
      expect((await b.head(`${p}empty-stream`))?.size).toBe(0);
    });

    it("round-trips a small object and a factory body", async () => {
      const data = Buffer.from("سلام، hesaab ✓\n".repeat(50));
      const r = await b.put(`${p}small`, data, { contentType: "text/plain" });
      expect(r.size).toBe(data.length);
      expect((await readAll(await b.get(`${p}small`))).equals(data)).toBe(true);
      const r2 = await b.put(`${p}factory`, () => Readable.from([data.subarray(0, 10), data.subarray(10)]));
      expect(r2.size).toBe(data.length);
      expect((await readAll(await b.get(`${p}factory`))).equals(data)).toBe(true);
    });

    it("round-trips a multi-MiB stream of unknown length (multipart)", async () => {
      const size = opts.largeBytes ?? 11 * MIB + 12345;
      const { stream, sha256: expected } = randomStream(size);
      const r = await b.put(`${p}large`, stream);
      expect(r.size).toBe(size);
      expect((await b.head(`${p}large`))?.size).toBe(size);
      const hash = createHash("sha256");
      let n = 0;
      for await (const chunk of await b.get(`${p}large`)) {
        hash.update(chunk as Buffer);
        n += (chunk as Buffer).length;
      }
      expect(n).toBe(size);
      expect(hash.digest("hex")).toBe(expected);
    });

    it("reads byte ranges (inclusive end, open end, clamped end)", async () => {
      const data = Buffer.from("0123456789abcdefghij");
      await b.put(`${p}ranges`, data);
      const read = async (range: { start: number; end?: number }): Promise<string> => (await readAll(await b.get(`${p}ranges`, { range }))).toString();
      expect(await read({ start: 0, end: 0 })).toBe("0");
      expect(await read({ start: 2, end: 5 })).toBe("2345");
      expect(await read({ start: 15 })).toBe("fghij");
      expect(await read({ start: 18, end: 1000 })).toBe("ij");
      expect(await read({ start: 19, end: 19 })).toBe("j");
      await expectStorageError(b.get(`${p}ranges`, { range: { start: 20 } }), "storage_invalid_range", b.name);
      await expectStorageError(b.get(`${p}ranges`, { range: { start: 5, end: 2 } }), "storage_invalid_argument", b.name);
      await b.put(`${p}ranges-empty`, Buffer.alloc(0));
      await expectStorageError(b.get(`${p}ranges-empty`, { range: { start: 0 } }), "storage_invalid_range", b.name);
    });

    it("head of a missing key is null; get of a missing key is storage_not_found", async () => {
      expect(await b.head(`${p}missing`)).toBeNull();
      await expectStorageError(b.get(`${p}missing`), "storage_not_found", b.name);
      await expectStorageError(b.get(`${p}missing`, { range: { start: 0 } }), "storage_not_found", b.name);
    });

    it("round-trips metadata and content type", async () => {
      const metadata = { sha256: "a".repeat(64), "backup-id": "bkp_01h", tenant: "t-42" };
      await b.put(`${p}meta`, Buffer.from("x"), { metadata, contentType: "application/x-bkp1" });
      const info = await b.head(`${p}meta`);
      expect(info).not.toBeNull();
      expect(info!.metadata).toEqual(metadata);
      expect(info!.contentType).toBe("application/x-bkp1");
      expect(info!.size).toBe(1);
      expect(info!.lastModified).toBeInstanceOf(Date);
      expect(Math.abs(info!.lastModified.getTime() - Date.now())).toBeLessThan(24 * 3600 * 1000);
      const none = await b.put(`${p}meta-none`, Buffer.from("y"));
      expect(none.size).toBe(1);
      expect((await b.head(`${p}meta-none`))!.metadata).toEqual({});
    });

    it("rejects invalid keys and metadata with storage_invalid_argument", async () => {
      for (const key of ["", "/abs", "a//b", "a/../b", "a\\b", "./a", "x\u0001"]) {
        await expectStorageError(b.put(key, Buffer.from("x")), "storage_invalid_argument", b.name);
      }
      await expectStorageError(b.put(`${p}bad-meta`, Buffer.from("x"), { metadata: { Upper: "x" } }), "storage_invalid_argument", b.name);
      await expectStorageError(b.put(`${p}bad-meta`, Buffer.from("x"), { metadata: { ok: "non-ascii ✓" } }), "storage_invalid_argument", b.name);
    });

    it("overwrites an existing key", async () => {
      await b.put(`${p}over`, Buffer.from("first version, longer"), { metadata: { v: "1" } });
      await b.put(`${p}over`, Buffer.from("second"), { metadata: { v: "2" } });
      expect((await readAll(await b.get(`${p}over`))).toString()).toBe("second");
      const info = await b.head(`${p}over`);
      expect(info!.size).toBe(6);
      expect(info!.metadata).toEqual({ v: "2" });
    });

    it("deletes idempotently", async () => {
      await b.put(`${p}del`, Buffer.from("x"));
      await b.delete(`${p}del`);
      expect(await b.head(`${p}del`)).toBeNull();
      await b.delete(`${p}del`);
      await b.delete(`${p}never-existed/deep/key`);
    });

    it("lists by prefix, recursively, in key order, across pages", async () => {
      const base = `${p}list/`;
      const keys = [`${base}a`, `${base}a.x`, `${base}a_y`, `${base}b/1`, `${base}b/2/deep`, `${base}b0`, `${base}c`];
      for (const k of [...keys].reverse()) await b.put(k, Buffer.from(k));
      await b.put(`${p}listx`, Buffer.from("outside"));
      const all = await collect(b.list(base));
      expect(all).toEqual(keys); // byte order: "." < "/" < "0" < "_"
      const paged = await collect(b.list(base, { pageSize: 2 }));
      expect(paged).toEqual(keys);
      expect(await collect(b.list(`${base}b`, { pageSize: 1 }))).toEqual([`${base}b/1`, `${base}b/2/deep`, `${base}b0`]);
      expect(await collect(b.list(`${base}b/`))).toEqual([`${base}b/1`, `${base}b/2/deep`]);
      expect(await collect(b.list(`${base}zzz`))).toEqual([]);
      expect(await collect(b.list(base, { startAfter: `${base}b/1`, pageSize: 2 }))).toEqual(keys.slice(4));
      const entries = [];
      for await (const e of b.list(`${base}b/1`)) entries.push(e);
      expect(entries).toHaveLength(1);
      expect(entries[0]!.size).toBe(`${base}b/1`.length);
      expect(entries[0]!.lastModified).toBeInstanceOf(Date);
    });

    it("lists in UTF-8 byte order, also where a key continues with a character below '.'", async () => {
      const base = `${p}order/`;
      const keys = [`${base}a`, `${base}a-c`, `${base}a.x`, `${base}z`, `${base}ä`, `${base}日本`];
      for (const k of [...keys].reverse()) await b.put(k, Buffer.from("x"));
      const listed = await collect(b.list(base));
      if (opts.strictByteOrder ?? true) expect(listed).toEqual(keys);
      else expect([...listed].sort(compareKeys)).toEqual(keys); // same keys, each once; order is the endpoint's
    });

    it("a failing body stream stores nothing and rejects with the stream's error", async () => {
      const boom = new Error("source failed");
      async function* failing(): AsyncGenerator<Buffer> {
        yield Buffer.alloc(1024, 1);
        throw boom;
      }
      await expect(b.put(`${p}failed-body`, Readable.from(failing()))).rejects.toBe(boom);
      expect(await b.head(`${p}failed-body`)).toBeNull();
    });

    it("an aborted put stores nothing", async () => {
      const ac = new AbortController();
      async function* slow(): AsyncGenerator<Buffer> {
        yield Buffer.alloc(1024, 2);
        ac.abort();
        await new Promise((r) => setTimeout(r, 20));
        yield Buffer.alloc(1024, 3);
      }
      await expectStorageError(b.put(`${p}aborted`, Readable.from(slow()), { signal: ac.signal }), "storage_aborted", b.name);
      expect(await b.head(`${p}aborted`)).toBeNull();
    });

    it("a consumer may stop reading early (destroy) without leaking", async () => {
      const { stream } = randomStream(2 * MIB);
      await b.put(`${p}early`, stream);
      const s = await b.get(`${p}early`);
      for await (const _chunk of s) break;
      expect(s.destroyed).toBe(true);
    });
  });
}
