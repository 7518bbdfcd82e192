// Dual write, failover read and verification against a pair of real backends with a fault
// injector in front of each (fs pair in replicated.test.ts, both s3rver endpoints in
// replicated.int.test.ts).
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { putEverywhere, readAll, readWithFailover, verifyObject, withFaults, type FaultyBackend, type StorageBackend } from "../src";
import { expectStorageError, randomStream, sha256 } from "./conformance";

export interface ReplicationTarget {
  b2: StorageBackend;
  r2: StorageBackend;
  prefix: string;
  cleanup?: () => Promise<void>;
}

const MIB = 1024 * 1024;

export function replicationSuite(opts: { label: string; open: () => Promise<ReplicationTarget>; largeBytes?: number }): void {
  describe(`dual write and failover read: ${opts.label}`, () => {
    let b2: FaultyBackend;
    let r2: FaultyBackend;
    let p: string;
    let cleanup: (() => Promise<void>) | undefined;
    let n = 0;
    const key = (): string => `${p}obj-${++n}`;

    beforeAll(async () => {
      const t = await opts.open();
      b2 = withFaults(t.b2);
      r2 = withFaults(t.r2);
      p = t.prefix;
      cleanup = t.cleanup;
    });
    afterAll(async () => {
      await cleanup?.();
    });
    beforeEach(() => {
      b2.faults.clear();
      r2.faults.clear();
    });

    describe("putEverywhere", () => {
      it("writes one multi-MiB stream to both providers, reading it once", async () => {
        const k = key();
        const size = opts.largeBytes ?? 6 * MIB + 99;
        const { stream, sha256: expected } = randomStream(size);
        const r = await putEverywhere({ backends: [b2, r2], key: k, source: stream, contentType: "application/x-bkp1", metadata: { "backup-id": "bkp_1" } });
        expect(r).toMatchObject({ key: k, sha256: expected, size, okProviders: ["b2", "r2"], failedProviders: [] });
        expect(r.outcomes.map((o) => [o.provider, o.ok, o.alreadyStored, o.size, o.sha256])).toEqual([
          ["b2", true, false, size, expected],
          ["r2", true, false, size, expected],
        ]);
        for (const backend of [b2, r2]) {
          const v = await verifyObject({ backend, key: k, expectedSha256: expected, expectedSize: size });
          expect(v).toMatchObject({ ok: true, provider: backend.name });
          expect((await backend.head(k))!.metadata).toEqual({ "backup-id": "bkp_1" });
        }
      });

      it("one provider down: the other gets the object, the outcome names the failed one", async () => {
        const k = key();
        r2.faults.down();
        const data = Buffer.from("degraded but stored");
        const r = await putEverywhere({ backends: [b2, r2], key: k, source: Readable.from([data]) });
        expect(r.okProviders).toEqual(["b2"]);
        expect(r.failedProviders).toEqual(["r2"]);
        const failed = r.outcomes.find((o) => o.provider === "r2")!;
        expect(failed).toMatchObject({ ok: false, error: { code: "storage_unavailable" } });
        r2.faults.up();
        expect(await r2.head(k)).toBeNull();
        expect(await readAll(await b2.get(k))).toEqual(data);
      });

      it("a provider failing mid-upload is dropped from the tee; the other completes", async () => {
        const k = key();
        b2.faults.cut("put", { afterBytes: 64 * 1024, times: 1 });
        const { stream, sha256: expected } = randomStream(1 * MIB);
        const r = await putEverywhere({ backends: [b2, r2], key: k, source: stream });
        expect(r.okProviders).toEqual(["r2"]);
        expect(r.failedProviders).toEqual(["b2"]);
        expect(r.sha256).toBe(expected);
        expect(await b2.head(k)).toBeNull();
        expect((await verifyObject({ backend: r2, key: k, expectedSha256: expected })).ok).toBe(true);
      });

      it("both providers down: throws a retryable storage_all_providers_failed and stops the source", async () => {
        const k = key();
        b2.faults.down();
        r2.faults.down();
        const source = Readable.from([Buffer.from("x")]);
        const err = await putEverywhere({ backends: [b2, r2], key: k, source }).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: "storage_all_providers_failed", retryable: true });
        expect((err as Error).message).toContain("b2");
        expect((err as Error).message).toContain("r2");
        expect((err as Error).message, "each provider named once").not.toMatch(/\b(b2|r2): \1:/);
        expect(source.destroyed).toBe(true);
      });

      it("both failing mid-upload: throws, nothing stored", async () => {
        const k = key();
        b2.faults.cut("put", { afterBytes: 1000, times: 1 });
        r2.faults.cut("put", { afterBytes: 5000, times: 1 });
        const { stream } = randomStream(512 * 1024);
        await expectStorageError(putEverywhere({ backends: [b2, r2], key: k, source: stream }), "storage_all_providers_failed");
        expect(stream.destroyed).toBe(true);
        expect(await b2.head(k)).toBeNull();
        expect(await r2.head(k)).toBeNull();
      });

      it("the same bytes again: already stored, idempotent (checksum learned by hashing the copy)", async () => {
        const k = key();
        const data = Buffer.from("same bytes twice");
        await putEverywhere({ backends: [b2, r2], key: k, source: Readable.from([data]) });
        const putsBefore = b2.faults.count("put");
        const again = await putEverywhere({ backends: [b2, r2], key: k, source: Readable.from([data]) });
        expect(again.outcomes.map((o) => [o.provider, o.ok, o.alreadyStored])).toEqual([
          ["b2", true, true],
          ["r2", true, true],
        ]);
        expect(b2.faults.count("put")).toBe(putsBefore);
      });

      it("heals: writes only to the provider that lacks the object", async () => {
        const k = key();
        const data = Buffer.from("only b2 has me");
        await b2.put(k, data);
        const r = await putEverywhere({ backends: [b2, r2], key: k, source: Readable.from([data]) });
        expect(r.outcomes.map((o) => [o.provider, o.ok, o.alreadyStored])).toEqual([
          ["b2", true, true],
          ["r2", true, false],
        ]);
        expect(await readAll(await r2.get(k))).toEqual(data);
      });

      it("split brain: the key exists with different bytes → storage_split_brain, nothing overwritten", async () => {
        const k = key();
        await b2.put(k, Buffer.from("the first artifact"));
        const source = Readable.from([Buffer.from("a different artifact")]);
        const err = await putEverywhere({ backends: [b2, r2], key: k, source }).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: "storage_split_brain", retryable: false, provider: "b2" });
        expect((await readAll(await b2.get(k))).toString()).toBe("the first artifact");
        expect(await r2.head(k)).toBeNull(); // the other write was aborted before completing
      });

      it("split brain seen up front from sha256 metadata when the checksum is known", async () => {
        const k = key();
        const first = Buffer.from("catalogued bytes");
        await putEverywhere({ backends: [b2], key: k, source: Readable.from([first]), expectedSha256: sha256(first) });
        expect((await b2.head(k))!.metadata.sha256).toBe(sha256(first));
        const other = Buffer.from("other bytes");
        const source = Readable.from([other]);
        await expectStorageError(putEverywhere({ backends: [b2, r2], key: k, source, expectedSha256: sha256(other) }), "storage_split_brain");
        expect(source.destroyed).toBe(true);
        expect(await r2.head(k)).toBeNull();
      });

      it("with a known checksum and every copy present, the source is not read", async () => {
        const k = key();
        const data = Buffer.from("replicated");
        const sum = sha256(data);
        await putEverywhere({ backends: [b2, r2], key: k, source: Readable.from([data]), expectedSha256: sum });
        let pulled = false;
        const source = new Readable({
          read() {
            pulled = true;
            this.push(null);
          },
        });
        const r = await putEverywhere({ backends: [b2, r2], key: k, source, expectedSha256: sum, expectedSize: data.length });
        expect(r.outcomes.every((o) => o.alreadyStored)).toBe(true);
        expect(pulled).toBe(false);
      });

      it("a source that does not match the expected checksum stores nothing", async () => {
        const k = key();
        await expectStorageError(
          putEverywhere({ backends: [b2, r2], key: k, source: Readable.from([Buffer.from("abc")]), expectedSha256: sha256(Buffer.from("abd")) }),
          "storage_corrupt",
        );
        expect(await b2.head(k)).toBeNull();
        expect(await r2.head(k)).toBeNull();
      });

      it("a failing source aborts every write and rethrows its own error", async () => {
        const k = key();
        const boom = new Error("pg connection lost");
        async function* failing(): AsyncGenerator<Buffer> {
          yield Buffer.alloc(64 * 1024, 1);
          yield Buffer.alloc(64 * 1024, 2);
          throw boom;
        }
        await expect(putEverywhere({ backends: [b2, r2], key: k, source: Readable.from(failing()) })).rejects.toBe(boom);
        expect(await b2.head(k)).toBeNull();
        expect(await r2.head(k)).toBeNull();
      });

      it("a stalled provider is dropped after stallTimeoutMs; the other completes", async () => {
        const k = key();
        r2.faults.stall("put", { times: 1 }); // accepts the call, never reads
        const { stream, sha256: expected } = randomStream(4 * MIB);
        const r = await putEverywhere({ backends: [b2, r2], key: k, source: stream, stallTimeoutMs: 50 });
        expect(r.okProviders).toEqual(["b2"]);
        expect(r.outcomes[1]).toMatchObject({ provider: "r2", ok: false, error: { code: "storage_unavailable" } });
        expect(r.sha256).toBe(expected);
        expect(await r2.head(k)).toBeNull();
      });

      it("a slow provider slows the source (bounded memory); an abort stops everything and stores nothing", async () => {
        const k = key();
        r2.faults.stall("put", { times: 1 }); // takes the call, reads nothing, until aborted
        let pulled = 0;
        async function* endless(): AsyncGenerator<Buffer> {
          for (;;) {
            pulled++;
            yield Buffer.alloc(64 * 1024, pulled % 256);
          }
        }
        const ac = new AbortController();
        const pending = putEverywhere({ backends: [b2, r2], key: k, source: Readable.from(endless()), signal: ac.signal }).catch((e: unknown) => e);
        for (let i = 0; i < 100; i++) await new Promise((r) => setImmediate(r));
        await new Promise((r) => setTimeout(r, 50));
        // ~1 MiB buffered for the stalled provider plus the source's read-ahead: then the source waits.
        expect(pulled).toBeLessThan(48);
        ac.abort();
        expect(await pending).toMatchObject({ code: "storage_aborted" });
        expect(await b2.head(k)).toBeNull();
        expect(await r2.head(k)).toBeNull();
      });

      it("overwrites when asked (a re-wrapped key sidecar)", async () => {
        const k = `${key()}.keys.json`;
        await putEverywhere({ backends: [b2, r2], key: k, source: Readable.from([Buffer.from('{"v":1}')]) });
        const r = await putEverywhere({ backends: [b2, r2], key: k, source: Readable.from([Buffer.from('{"v":2}')]), onExisting: "overwrite" });
        expect(r.okProviders).toEqual(["b2", "r2"]);
        expect((await readAll(await r2.get(k))).toString()).toBe('{"v":2}');
      });

      it("knownAbsent (a freshly minted key): no head, both written; a provider down still only degrades", async () => {
        const k = key();
        const heads = [b2.faults.count("head"), r2.faults.count("head")];
        const data = Buffer.from("a fresh artifact");
        const r = await putEverywhere({ backends: [b2, r2], key: k, source: Readable.from([data]), knownAbsent: true });
        expect(r.okProviders).toEqual(["b2", "r2"]);
        expect([b2.faults.count("head"), r2.faults.count("head")]).toEqual(heads);
        expect(await readAll(await r2.get(k))).toEqual(data);

        const k2 = key();
        r2.faults.down();
        const degraded = await putEverywhere({ backends: [b2, r2], key: k2, source: Readable.from([data]), knownAbsent: true });
        expect(degraded.okProviders).toEqual(["b2"]);
        expect(degraded.outcomes.find((o) => o.provider === "r2")).toMatchObject({ ok: false, error: { code: "storage_unavailable" } });
        r2.faults.up();
      });
    });

    describe("putEverywhere from a buffer", () => {
      it("writes the bytes whole to both, with their sha256 as metadata", async () => {
        const k = key();
        const data = Buffer.from("a small artifact built in memory");
        const puts = [b2.faults.count("put"), r2.faults.count("put")];
        const r = await putEverywhere({ backends: [b2, r2], key: k, source: data, metadata: { "backup-id": "bkp_1" } });
        expect(r).toMatchObject({ key: k, sha256: sha256(data), size: data.length, okProviders: ["b2", "r2"], failedProviders: [] });
        expect([b2.faults.count("put") - puts[0]!, r2.faults.count("put") - puts[1]!]).toEqual([1, 1]);
        for (const backend of [b2, r2]) {
          expect(await readAll(await backend.get(k))).toEqual(data);
          expect((await backend.head(k))!.metadata).toEqual({ "backup-id": "bkp_1", sha256: sha256(data) });
        }
      });

      it("one provider down: degraded; both down: a retryable storage_all_providers_failed, nothing stored", async () => {
        const k = key();
        const data = Buffer.from("degraded");
        r2.faults.down();
        const r = await putEverywhere({ backends: [b2, r2], key: k, source: data, knownAbsent: true });
        expect(r.failedProviders).toEqual(["r2"]);
        expect(r.outcomes.find((o) => o.provider === "r2")).toMatchObject({ ok: false, error: { code: "storage_unavailable" } });
        b2.faults.down();
        const k2 = key();
        const err = await putEverywhere({ backends: [b2, r2], key: k2, source: data, knownAbsent: true }).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: "storage_all_providers_failed", retryable: true });
        b2.faults.up();
        r2.faults.up();
        expect(await b2.head(k2)).toBeNull();
        expect(await r2.head(k2)).toBeNull();
      });

      it("the same bytes again: already stored without a put; other bytes: split brain, nothing overwritten", async () => {
        const k = key();
        const data = Buffer.from("written once");
        await putEverywhere({ backends: [b2, r2], key: k, source: data });
        const puts = b2.faults.count("put");
        const again = await putEverywhere({ backends: [b2, r2], key: k, source: data });
        expect(again.outcomes.map((o) => [o.provider, o.ok, o.alreadyStored])).toEqual([
          ["b2", true, true],
          ["r2", true, true],
        ]);
        expect(b2.faults.count("put")).toBe(puts);
        await expectStorageError(putEverywhere({ backends: [b2, r2], key: k, source: Buffer.from("other bytes") }), "storage_split_brain");
        expect(await readAll(await r2.get(k))).toEqual(data);
      });

      it("bytes that do not match the expected checksum store nothing", async () => {
        const k = key();
        await expectStorageError(
          putEverywhere({ backends: [b2, r2], key: k, source: Buffer.from("x"), expectedSha256: sha256(Buffer.from("y")) }),
          "storage_corrupt",
        );
        expect(await b2.head(k)).toBeNull();
      });
    });

    describe("readWithFailover and verifyObject", () => {
      const data = Buffer.from("0123456789abcdef".repeat(8 * 1024)); // 128 KiB
      const sum = createHash("sha256").update(data).digest("hex");
      let k: string;
      beforeAll(async () => {
        k = `${p}read-me`;
        await putEverywhere({ backends: [b2, r2], key: k, source: Readable.from([data]) });
      });

      it("reads from the preferred provider", async () => {
        const r = await readWithFailover({ backends: [b2, r2], key: k, expectedSha256: sum, expectedSize: data.length });
        expect(r.provider).toBe("b2");
        expect(await readAll(r.stream)).toEqual(data);
        expect(await r.done).toMatchObject({ servedBy: ["b2"], failures: [], size: data.length, sha256: sum });
      });

      it("falls back when the preferred provider is down, and says so", async () => {
        b2.faults.down();
        const r = await readWithFailover({ backends: [b2, r2], key: k, expectedSha256: sum });
        expect(r.provider).toBe("r2");
        expect(await readAll(r.stream)).toEqual(data);
        const report = await r.done;
        expect(report.servedBy).toEqual(["r2"]);
        expect(report.failures.map((f) => [f.provider, f.stage])).toEqual([["b2", "head"]]);
      });

      it("falls back when the preferred copy is missing or has the wrong size", async () => {
        const k2 = `${p}only-r2`;
        await r2.put(k2, data);
        const r = await readWithFailover({ backends: [b2, r2], key: k2 });
        expect(r.provider).toBe("r2");
        expect(await readAll(r.stream)).toEqual(data);
        const k3 = `${p}short-in-b2`;
        await b2.put(k3, data.subarray(0, 10));
        await r2.put(k3, data);
        const r3 = await readWithFailover({ backends: [b2, r2], key: k3, expectedSize: data.length });
        expect(r3.provider).toBe("r2");
        expect((await readAll(r3.stream)).length).toBe(data.length);
      });

      it("a corrupt preferred copy: verifyFirst skips it; a plain stream errors at the end", async () => {
        b2.faults.corrupt("get", { offset: 1000 });
        const r = await readWithFailover({ backends: [b2, r2], key: k, expectedSha256: sum, verifyFirst: true });
        expect(r.provider).toBe("r2");
        expect(await readAll(r.stream)).toEqual(data);
        expect((await r.done).failures.map((f) => [f.provider, f.stage, (f.error as { code?: string }).code])).toEqual([["b2", "verify", "storage_corrupt"]]);

        const plain = await readWithFailover({ backends: [b2, r2], key: k, expectedSha256: sum });
        expect(plain.provider).toBe("b2");
        await expectStorageError(readAll(plain.stream), "storage_corrupt");
        await expectStorageError(plain.done, "storage_corrupt");
      });

      it("a stream broken mid-way continues from the next provider at the same byte", async () => {
        b2.faults.cut("get", { afterBytes: 40_000, times: 1 });
        const r = await readWithFailover({ backends: [b2, r2], key: k, expectedSha256: sum, expectedSize: data.length });
        expect(await readAll(r.stream)).toEqual(data);
        const report = await r.done;
        expect(report.servedBy).toEqual(["b2", "r2"]);
        expect(report.failures.map((f) => [f.provider, f.stage])).toEqual([["b2", "stream"]]);
      });

      it("a provider that ends early without an error is caught by the size and finished from the next", async () => {
        b2.faults.cut("get", { afterBytes: 1000, times: 1, mode: "end" });
        const r = await readWithFailover({ backends: [b2, r2], key: k, expectedSha256: sum, expectedSize: data.length });
        expect(await readAll(r.stream)).toEqual(data);
        expect((await r.done).servedBy).toEqual(["b2", "r2"]);
      });

      it("no provider can serve: not_found when all lack it, unavailable when any is down", async () => {
        await expectStorageError(readWithFailover({ backends: [b2, r2], key: `${p}nowhere` }), "storage_not_found");
        b2.faults.down();
        const err = await readWithFailover({ backends: [b2, r2], key: `${p}nowhere` }).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: "storage_unavailable", retryable: true });
      });

      it("verifyObject reports ok, missing, size and checksum mismatches, unreadable", async () => {
        expect(await verifyObject({ backend: r2, key: k, expectedSha256: sum, expectedSize: data.length })).toMatchObject({
          ok: true,
          size: data.length,
          sha256: sum,
        });
        expect(await verifyObject({ backend: r2, key: `${p}nope` })).toMatchObject({ ok: false, problem: "missing" });
        expect(await verifyObject({ backend: r2, key: k, expectedSize: 5 })).toMatchObject({ ok: false, problem: "size_mismatch", size: data.length });
        expect(await verifyObject({ backend: r2, key: k, expectedSha256: "0".repeat(64) })).toMatchObject({
          ok: false,
          problem: "checksum_mismatch",
          sha256: sum,
        });
        r2.faults.corrupt("get", { times: 1, offset: 7 });
        expect(await verifyObject({ backend: r2, key: k, expectedSha256: sum })).toMatchObject({ ok: false, problem: "checksum_mismatch" });
        r2.faults.down();
        const v = await verifyObject({ backend: r2, key: k, expectedSha256: sum });
        expect(v).toMatchObject({ ok: false, problem: "unreadable", error: { code: "storage_unavailable" } });
      });
    });
  });
}
