import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Secret } from "@hesaab/config";
import { KeyRing, TenantKeyStore, encryptBuffer, isCryptoError, readHeader } from "@hesaab/crypto";
import { keysSidecarKey, metaSidecarKey, openBackend, readAll, readMetaSidecar, StorageError, type OpenedBackend, type StorageBackend } from "@hesaab/storage";
import { freshDatabase, testProviderConfig, uniquePrefix, type FreshDatabase } from "@hesaab/testkit";
import { migrate } from "@hesaab/db";
import { zstdBuffer } from "@hesaab/zstd";
import { decryptArtifact, stageArtifact, storeArtifact, verifyStaged, openStaged } from "../src";

let database: FreshDatabase;
let keys: TenantKeyStore;
let keyRing: KeyRing;
let dir: string;
const prefix = uniquePrefix("artifacts");

function provider(name: "b2" | "r2"): OpenedBackend {
  return openBackend({
    backend: testProviderConfig(name),
    faults: true,
    retry: { attempts: 2, baseDelayMs: 10 },
  });
}
const b2 = provider("b2");
const r2 = provider("r2");
const backends = [b2.backend, r2.backend];

beforeAll(async () => {
  database = await freshDatabase("artifacts");
  await migrate({ url: database.url });
  keys = TenantKeyStore.connect({ url: database.url, masterKeys: new Map([[1, new Secret(randomBytes(32))]]) });
  keyRing = new KeyRing({ tenantKeys: keys });
  dir = await mkdtemp(path.join(os.tmpdir(), "artifacts-"));
});
afterAll(async () => {
  await keys.close();
  await database.drop();
  await rm(dir, { recursive: true, force: true });
});

// 2.2 MB, streamed in 64 KiB pieces as an export writes it: gzipped in three members with libdeflate (1 MiB each).
const plaintext = Buffer.from("-- a tenant's SQL script\n" + "COPY t (a) FROM stdin;\n" + "x\tشرکت\n".repeat(200_000) + "\\.\n");

async function store(tenantId: string, compression: { zstdLevel?: number } = {}) {
  const backupId = `bkp_${randomBytes(8).toString("hex")}`;
  const key = `${prefix}${backupId}.sql.gz.bkp1`;
  const stored = await storeArtifact({
    plaintext: Readable.from(Array.from({ length: Math.ceil(plaintext.length / 65536) }, (_, i) => plaintext.subarray(i * 65536, (i + 1) * 65536))),
    identity: { kind: "tenant", tenantId, backupId },
    keyRing,
    backends,
    key,
    gzipLevel: 6,
    ...compression,
    meta: { type: "tenant", createdAt: new Date(), manifest: { tables: 1, rows: 200_000 } },
  });
  return {
    stored,
    ref: { key, sha256: stored.sha256, size: stored.size, identity: { kind: "tenant" as const, tenantId, backupId } },
  };
}

describe("artifacts", () => {
  it("stores in both providers with self-describing sidecars, and reads back the same plaintext", async () => {
    const { stored, ref } = await store("tenant-a");
    expect(stored.okProviders).toEqual(["b2", "r2"]);
    expect(stored.size).toBeLessThan(plaintext.length); // compressed before encrypted
    for (const b of backends) {
      const meta = await readMetaSidecar({ backend: b, artifactKey: ref.key });
      expect(await b.head(metaSidecarKey(ref.key))).toBeNull(); // the description travels on the key sidecar
      expect(meta).toMatchObject({ backupId: ref.identity.backupId, tenantId: "tenant-a", size: stored.size, sha256: stored.sha256 });
      expect(JSON.parse((await readAll(await b.get(keysSidecarKey(ref.key)))).toString()).dekId).toBe(stored.dekId);
    }
    const staged = await stageArtifact({ ref, backends, dir });
    expect(staged.provider).toBe("b2");
    expect(await verifyStaged({ staged, keyRing })).toBe(plaintext.length);
    expect((await readAll(await openStaged({ staged, keyRing }))).equals(plaintext)).toBe(true);
    await staged.remove();
  });

  it("zstd (BACKUP_COMPRESSION=zstd), streamed and in memory: the header and the meta sidecar say zstd, the read path decodes by the header", async () => {
    const { stored, ref } = await store("tenant-z", { zstdLevel: 3 });
    expect(stored.contentEncoding).toBe("zstd");
    expect(await readMetaSidecar({ backend: b2.backend, artifactKey: ref.key })).toMatchObject({ contentEncoding: "zstd" });
    const staged = await stageArtifact({ ref: { ...ref, plaintextBytes: plaintext.length }, backends, dir });
    expect((await readHeader(createReadStream(staged.file))).contentEncoding).toBe("zstd");
    expect(await verifyStaged({ staged, keyRing })).toBe(plaintext.length);
    await staged.remove();

    const backupId = `bkp_${randomBytes(8).toString("hex")}`;
    const identity = { kind: "tenant" as const, tenantId: "tenant-z", backupId };
    const key = `${prefix}${backupId}.sql.zst.bkp1`;
    const small = plaintext.subarray(0, 100_000);
    const inMemory = await storeArtifact({
      plaintext: small,
      identity,
      keyRing,
      backends,
      key,
      gzipLevel: 6,
      zstdLevel: 3,
      meta: { type: "tenant", createdAt: new Date() },
    });
    const ciphertext = await readAll(await b2.backend.get(key));
    expect((await readHeader(ciphertext)).contentEncoding).toBe("zstd");
    const decrypted = await readAll(
      await decryptArtifact({
        ciphertext: Readable.from([ciphertext]),
        ref: { key, sha256: inMemory.sha256, size: inMemory.size, identity, sidecar: inMemory.sidecar },
        keyRing,
      }),
    );
    expect(decrypted.equals(small)).toBe(true);
  });

  it("a zstd plaintext that does not decode inside an authentic artifact: artifact_content_corrupt", async () => {
    const identity = { kind: "tenant" as const, tenantId: "tenant-y", backupId: `bkp_${randomBytes(8).toString("hex")}` };
    const frames = zstdBuffer(Buffer.from(randomBytes(300_000).toString("base64")), { level: 3 });
    for (const body of [frames.subarray(0, frames.length - 1000), Buffer.concat([frames.subarray(0, 100), Buffer.alloc(64, 0xff), frames.subarray(164)])]) {
      const sealed = await keyRing.sealNewArtifact(identity);
      const artifact = encryptBuffer({ dek: sealed.dek, dekId: sealed.dekId, ...identity, contentEncoding: "zstd" }, body);
      const ref = { key: "damaged.bkp1", sha256: "", size: artifact.length, identity, sidecar: sealed.sidecar };
      await expect(readAll(await decryptArtifact({ ciphertext: Readable.from([artifact]), ref, keyRing }))).rejects.toMatchObject({
        code: "artifact_content_corrupt",
        message: expect.stringMatching(/damaged\.bkp1: the decrypted plaintext is not valid zstd/),
      });
    }
  });

  it("verification checks the plaintext's size against the recorded one", async () => {
    const { ref } = await store("tenant-s");
    const staged = await stageArtifact({ ref: { ...ref, plaintextBytes: plaintext.length }, backends, dir });
    expect(await verifyStaged({ staged, keyRing })).toBe(plaintext.length);
    const wrong = { ...staged, ref: { ...staged.ref, plaintextBytes: plaintext.length - 65536 } }; // a member short
    await expect(verifyStaged({ staged: wrong, keyRing })).rejects.toMatchObject({ code: "artifact_plaintext_mismatch" });
    await staged.remove();
  });

  it("a fresh key is written without an existence check, sidecars included", async () => {
    const heads = [b2.faults!.count("head"), r2.faults!.count("head")];
    const backupId = `bkp_${randomBytes(8).toString("hex")}`;
    const key = `${prefix}${backupId}.sql.gz.bkp1`;
    const stored = await storeArtifact({
      plaintext: Readable.from([plaintext]),
      identity: { kind: "tenant", tenantId: "tenant-f", backupId },
      keyRing,
      backends,
      key,
      gzipLevel: 6,
      meta: { type: "tenant", createdAt: new Date() },
      freshKey: true,
    });
    expect(stored.okProviders).toEqual(["b2", "r2"]);
    expect([b2.faults!.count("head"), r2.faults!.count("head")]).toEqual(heads);
    for (const b of backends) {
      expect(await readMetaSidecar({ backend: b, artifactKey: key })).toMatchObject({ backupId, size: stored.size, sha256: stored.sha256 });
      expect(JSON.parse((await readAll(await b.get(keysSidecarKey(key)))).toString()).dekId).toBe(stored.dekId);
    }
  });

  it("a plaintext in memory, with keys sealed beforehand: the same artifact and sidecars; degraded when a provider is down", async () => {
    const backupId = `bkp_${randomBytes(8).toString("hex")}`;
    const identity = { kind: "tenant" as const, tenantId: "tenant-m", backupId };
    const [sealed] = await keyRing.sealNewArtifacts([identity]);
    if (!sealed || sealed instanceof Error) throw new Error("no keys");
    const key = `${prefix}${backupId}.sql.gz.bkp1`;
    const puts = (backend: "b2" | "r2") => (backend === "b2" ? b2 : r2).faults!.count("put");
    const before = [puts("b2"), puts("r2")];
    const stored = await storeArtifact({
      plaintext,
      identity,
      keyRing,
      sealed,
      backends,
      key,
      gzipLevel: 6,
      meta: { type: "tenant", createdAt: new Date() },
      freshKey: true,
    });
    expect(stored.okProviders).toEqual(["b2", "r2"]);
    expect([puts("b2") - before[0]!, puts("r2") - before[1]!]).toEqual([2, 2]); // the artifact and its key sidecar, one put each
    expect(sealed.dek.reveal().every((b) => b === 0)).toBe(true); // the data key was wiped
    for (const b of backends)
      expect(await readMetaSidecar({ backend: b, artifactKey: key })).toMatchObject({ backupId, size: stored.size, sha256: stored.sha256 });
    const staged = await stageArtifact({ ref: { key, sha256: stored.sha256, size: stored.size, identity }, backends, dir });
    expect((await readAll(await openStaged({ staged, keyRing }))).equals(plaintext)).toBe(true);
    await staged.remove();

    r2.faults!.failAlways("put");
    try {
      const id2 = { ...identity, backupId: `bkp_${randomBytes(8).toString("hex")}` };
      const degraded = await storeArtifact({
        plaintext,
        identity: id2,
        keyRing,
        backends,
        key: `${prefix}${id2.backupId}.sql.gz.bkp1`,
        gzipLevel: 6,
        meta: { type: "tenant", createdAt: new Date() },
        freshKey: true,
      });
      expect(degraded.failedProviders).toEqual(["r2"]);
    } finally {
      r2.faults!.clear();
    }
  });

  it("a provider that took the artifact but not its key sidecar counts as failed", async () => {
    const sidecarRefused = new Proxy(r2.backend, {
      get(target, prop, receiver) {
        if (prop === "put") {
          return (key: string, body: Parameters<StorageBackend["put"]>[1], o?: Parameters<StorageBackend["put"]>[2]) =>
            key.endsWith(".keys.json")
              ? Promise.reject(new StorageError({ code: "storage_unavailable", provider: "r2", key, message: "r2: key sidecar refused (test)" }))
              : target.put(key, body, o);
        }
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const backupId = `bkp_${randomBytes(8).toString("hex")}`;
    const stored = await storeArtifact({
      plaintext: Readable.from([plaintext]),
      identity: { kind: "tenant", tenantId: "tenant-g", backupId },
      keyRing,
      backends: [b2.backend, sidecarRefused],
      key: `${prefix}${backupId}.sql.gz.bkp1`,
      gzipLevel: 6,
      meta: { type: "tenant", createdAt: new Date() },
      freshKey: true,
    });
    expect(stored.okProviders).toEqual(["b2"]);
    expect(stored.outcomes.find((o) => o.provider === "r2")).toMatchObject({ ok: false, error: { code: "storage_unavailable" } });
  });

  it("degrades when one provider is down during the upload", async () => {
    r2.faults!.failAlways("put");
    try {
      const { stored } = await store("tenant-b");
      expect(stored.okProviders).toEqual(["b2"]);
      expect(stored.failedProviders).toEqual(["r2"]);
    } finally {
      r2.faults!.clear();
    }
  });

  it("fails, retryable, when both providers are down", async () => {
    b2.faults!.failAlways("put");
    r2.faults!.failAlways("put");
    try {
      await expect(store("tenant-c")).rejects.toMatchObject({ retryable: true });
    } finally {
      b2.faults!.clear();
      r2.faults!.clear();
    }
  });

  it("stages from R2 when B2 is down, and from R2 when B2's copy is corrupt", async () => {
    const { ref } = await store("tenant-d");
    b2.faults!.failAlways("get");
    b2.faults!.failAlways("head");
    try {
      const staged = await stageArtifact({ ref, backends, dir });
      expect(staged.provider).toBe("r2");
      expect(await verifyStaged({ staged, keyRing })).toBe(plaintext.length);
    } finally {
      b2.faults!.clear();
    }
    // Plant a corrupted copy in B2 (same size, one byte flipped).
    const good = await readAll(await b2.backend.get(ref.key));
    good[good.length - 5]! ^= 1;
    await b2.backend.put(ref.key, good);
    const staged = await stageArtifact({ ref, backends, dir });
    expect(staged.provider).toBe("r2");
    expect(staged.failures.map((f) => f.provider)).toContain("b2");
  });

  it("refuses a tampered staged file and another tenant's artifact", async () => {
    const { ref } = await store("tenant-e");
    const staged = await stageArtifact({ ref, backends, dir });
    const bytes = await readFile(staged.file);
    bytes[bytes.length - 100]! ^= 1;
    await writeFile(staged.file, bytes);
    await expect(verifyStaged({ staged, keyRing })).rejects.toSatisfy((e: unknown) => isCryptoError(e));

    const other = await stageArtifact({ ref, backends, dir: path.join(dir, "other") });
    const asB = { ...other, ref: { ...other.ref, identity: { ...other.ref.identity, tenantId: "tenant-x" } } };
    await expect(verifyStaged({ staged: asB, keyRing })).rejects.toSatisfy((e: unknown) => isCryptoError(e));
  });
});
