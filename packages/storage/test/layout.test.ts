import { describe, expect, it } from "vitest";
import {
  disasterBackupKey,
  encodeMetaSidecar,
  groupArtifacts,
  keysSidecarKey,
  metaMetadata,
  metaSidecarKey,
  parseMetaMetadata,
  parseMetaSidecar,
  parseObjectKey,
  tenantBackupKey,
  tenantPrefix,
  type ListEntry,
} from "../src";
import { expectStorageError } from "./conformance";
import { tempFsBackend } from "./helpers";

const createdAt = new Date("2025-03-09T23:30:00-02:00"); // 2025-03-10 01:30 UTC

describe("object layout", () => {
  it("builds keys with the UTC day", () => {
    expect(tenantBackupKey({ tenantId: "t_42", backupId: "bkp_01J", createdAt })).toBe("tenants/t_42/2025/03/10/bkp_01J.sql.gz.bkp1");
    expect(disasterBackupKey({ backupId: "dr_7", createdAt })).toBe("disaster/2025/03/10/dr_7.pgdump.bkp1");
    expect(disasterBackupKey({ backupId: "dr_7", createdAt, part: "config" })).toBe("disaster/2025/03/10/dr_7.config.bkp1");
    const k = tenantBackupKey({ tenantId: "t", backupId: "b", createdAt });
    expect(keysSidecarKey(k)).toBe(`${k}.keys.json`);
    expect(metaSidecarKey(k)).toBe(`${k}.meta.json`);
    expect(tenantPrefix()).toBe("tenants/");
    expect(tenantPrefix("t")).toBe("tenants/t/");
  });

  it("refuses ids that would break the layout", () => {
    for (const bad of ["", "a/b", "a.b", "..", "x y", "ä", "a".repeat(129)]) {
      expect(() => tenantBackupKey({ tenantId: bad, backupId: "b", createdAt })).toThrow(/tenantId/);
      expect(() => disasterBackupKey({ backupId: bad, createdAt })).toThrow(/backupId/);
    }
    expect(() => tenantBackupKey({ tenantId: "t", backupId: "b", createdAt: new Date("nope") })).toThrow(/date/);
  });

  it("parses every key it builds, and sidecars back to their artifact", () => {
    const t = tenantBackupKey({ tenantId: "550e8400-e29b-41d4-a716-446655440000", backupId: "bkp_1", createdAt });
    expect(parseObjectKey(t)).toEqual({
      type: "tenant",
      part: "data",
      tenantId: "550e8400-e29b-41d4-a716-446655440000",
      backupId: "bkp_1",
      date: "2025-03-10",
      artifactKey: t,
    });
    expect(parseObjectKey(keysSidecarKey(t))).toMatchObject({ type: "tenant", backupId: "bkp_1", artifactKey: t, sidecar: "keys" });
    expect(parseObjectKey(metaSidecarKey(t))).toMatchObject({ sidecar: "meta", artifactKey: t });
    const d = disasterBackupKey({ backupId: "dr_1", createdAt });
    expect(parseObjectKey(d)).toEqual({ type: "disaster", part: "data", backupId: "dr_1", date: "2025-03-10", artifactKey: d });
    expect(parseObjectKey(disasterBackupKey({ backupId: "dr_1", createdAt, part: "config" }))).toMatchObject({ type: "disaster", part: "config" });
  });

  it("returns null for keys outside the layout", () => {
    for (const k of [
      "tenants/t/2025/03/10/b.sql.gz",
      "tenants/t/2025/13/10/b.sql.gz.bkp1",
      "tenants/t/2025/02/30/b.sql.gz.bkp1",
      "tenants/t/x/2025/03/10/b.sql.gz.bkp1",
      "disaster/2025/03/10/b.sql.gz.bkp1",
      "other/b.pgdump.bkp1",
      "tenants/t/2025/03/10/b.sql.gz.bkp1.other.json",
    ]) {
      expect(parseObjectKey(k), k).toBeNull();
    }
  });
});

describe("meta sidecar", () => {
  const input = {
    backupId: "bkp_1",
    type: "tenant" as const,
    tenantId: "t_1",
    createdAt,
    size: 1234,
    sha256: "AB".repeat(32),
    contentEncoding: "gzip",
    manifest: { tables: 12, rows: 3400, schemaVersion: "0007" },
  };

  it("round-trips", () => {
    const bytes = encodeMetaSidecar(input);
    const meta = parseMetaSidecar(bytes);
    expect(meta).toEqual({
      format: "hesaab-backup-meta",
      version: 1,
      backupId: "bkp_1",
      type: "tenant",
      part: "data",
      tenantId: "t_1",
      createdAt: "2025-03-10T01:30:00.000Z",
      size: 1234,
      sha256: "ab".repeat(32),
      contentEncoding: "gzip",
      encryption: "bkp1",
      manifest: { tables: 12, rows: 3400, schemaVersion: "0007" },
    });
    expect(bytes.toString()).toContain("\n  "); // readable by a person
  });

  it("refuses to build an inconsistent one", () => {
    expect(() => encodeMetaSidecar({ ...input, tenantId: null })).toThrow(/tenantId/);
    expect(() => encodeMetaSidecar({ ...input, type: "disaster" })).toThrow(/tenantId/);
    expect(() => encodeMetaSidecar({ ...input, sha256: "xyz" })).toThrow(/sha256/);
    expect(() => encodeMetaSidecar({ ...input, size: -1 })).toThrow(/size/);
    expect(encodeMetaSidecar({ ...input, type: "disaster", tenantId: null, contentEncoding: "pg_dump-custom" })).toBeInstanceOf(Buffer);
  });

  it("reports unreadable sidecars as storage_corrupt naming where they came from", async () => {
    const where = { provider: "r2", key: "tenants/t/2025/03/10/b.sql.gz.bkp1.meta.json" };
    await expectStorageError(
      Promise.resolve().then(() => parseMetaSidecar("{nope", where)),
      "storage_corrupt",
      "r2",
    );
    const tampered = JSON.parse(encodeMetaSidecar(input).toString()) as Record<string, unknown>;
    tampered.version = 2;
    await expectStorageError(
      Promise.resolve().then(() => parseMetaSidecar(JSON.stringify(tampered), where)),
      "storage_corrupt",
      "r2",
    );
    tampered.version = 1;
    tampered.manifest = { nested: { no: true } };
    expect(() => parseMetaSidecar(JSON.stringify(tampered))).toThrow(/flat/);
  });
});

describe("groupArtifacts (catalog rebuild from a listing)", () => {
  it("groups artifacts with their sidecars and reports strays", async () => {
    const { backend, cleanup } = await tempFsBackend();
    try {
      const day1 = new Date("2025-01-01T10:00:00Z");
      const day2 = new Date("2025-01-02T10:00:00Z");
      const a = tenantBackupKey({ tenantId: "t1", backupId: "bkp_a", createdAt: day1 });
      const a2 = tenantBackupKey({ tenantId: "t1", backupId: "bkp_a2", createdAt: day1 });
      const b = tenantBackupKey({ tenantId: "t1", backupId: "bkp_b", createdAt: day2 });
      const c = tenantBackupKey({ tenantId: "t2", backupId: "bkp_c", createdAt: day1 });
      const objects = [a, keysSidecarKey(a), metaSidecarKey(a), a2, keysSidecarKey(a2), metaSidecarKey(b), b, c, keysSidecarKey(c), "tenants/t1/README.txt"];
      for (const k of objects) await backend.put(k, Buffer.from(k));

      const strays: ListEntry[] = [];
      const found = [];
      for await (const g of groupArtifacts(backend.list("tenants/"), { onStray: (e) => strays.push(e) })) found.push(g);

      expect(found.map((g) => [g.parsed.artifactKey, !!g.artifact, !!g.keys, !!g.meta])).toEqual([
        [a, true, true, true],
        [a2, true, true, false],
        [b, true, false, true],
        [c, true, true, false],
      ]);
      expect(found[0]!.parsed).toEqual({ type: "tenant", part: "data", tenantId: "t1", backupId: "bkp_a", date: "2025-01-01", artifactKey: a });
      expect(found[0]!.artifact!.size).toBe(a.length);
      expect(strays.map((s) => s.key)).toEqual(["tenants/t1/README.txt"]);
    } finally {
      await cleanup();
    }
  });
});

describe("the description of an artifact in a bucket", () => {
  it("travels as the key sidecar's metadata, survives a re-wrap, and lets putEverywhere judge an existing copy without downloading it", async () => {
    const { putEverywhere, putKeysSidecar, readAll, readMetaSidecar, rewriteKeysSidecar, checksumFromMetaSidecar, withFaults } = await import("../src");
    const { Readable } = await import("node:stream");
    const { createHash } = await import("node:crypto");
    const { backend, cleanup } = await tempFsBackend("b2");
    try {
      const b = withFaults(backend);
      const key = tenantBackupKey({ tenantId: "t1", backupId: "bkp_m", createdAt });
      const bytes = Buffer.from("ciphertext of a backup");
      const sha = createHash("sha256").update(bytes).digest("hex");
      await b.put(key, bytes);
      expect(await readMetaSidecar({ backend: b, artifactKey: key })).toBeNull();
      const meta = encodeMetaSidecar({
        backupId: "bkp_m",
        type: "tenant",
        tenantId: "t1",
        createdAt,
        size: bytes.length,
        sha256: sha,
        contentEncoding: "gzip",
        manifest: { rows: 3, period: "2025-03-10" },
      });
      await putKeysSidecar({ backend: b, artifactKey: key, keys: Buffer.from('{"v":1}'), meta });
      expect(await readMetaSidecar({ backend: b, artifactKey: key })).toEqual(parseMetaSidecar(meta));
      expect(await b.head(metaSidecarKey(key))).toBeNull();

      await rewriteKeysSidecar({ backend: b, artifactKey: key, keys: Buffer.from('{"v":2}') });
      expect((await readAll(await b.get(keysSidecarKey(key)))).toString()).toBe('{"v":2}');
      expect(await readMetaSidecar({ backend: b, artifactKey: key })).toEqual(parseMetaSidecar(meta));

      const callsBefore = b.faults.calls.length;
      const r = await putEverywhere({ backends: [b], key, source: Readable.from([bytes]), existingChecksum: checksumFromMetaSidecar });
      expect(r.outcomes[0]).toMatchObject({ ok: true, alreadyStored: true });
      expect(b.faults.calls.slice(callsBefore).filter((c) => c.op === "get")).toEqual([]); // no download

      await b.put(keysSidecarKey(key), Buffer.from("{}"), { metadata: { "hesaab-meta": Buffer.from("not json").toString("base64url") } });
      await expectStorageError(readMetaSidecar({ backend: b, artifactKey: key }), "storage_corrupt", "b2");
    } finally {
      await cleanup();
    }
  });

  it("is still read from a `.meta.json` written before it moved onto the key sidecar", async () => {
    const { readMetaSidecar, rewriteKeysSidecar } = await import("../src");
    const { backend, cleanup } = await tempFsBackend("r2");
    try {
      const key = tenantBackupKey({ tenantId: "t1", backupId: "bkp_old", createdAt });
      const meta = encodeMetaSidecar({
        backupId: "bkp_old",
        type: "tenant",
        tenantId: "t1",
        createdAt,
        size: 5,
        sha256: "a".repeat(64),
        contentEncoding: "gzip",
        manifest: {},
      });
      await backend.put(keysSidecarKey(key), Buffer.from("{}"));
      await backend.put(metaSidecarKey(key), meta);
      expect((await readMetaSidecar({ backend, artifactKey: key }))?.backupId).toBe("bkp_old");
      await rewriteKeysSidecar({ backend, artifactKey: key, keys: Buffer.from('{"v":2}') });
      expect((await backend.head(keysSidecarKey(key)))!.metadata).toEqual({});
      await backend.put(metaSidecarKey(key), Buffer.from("not json"));
      await expectStorageError(readMetaSidecar({ backend, artifactKey: key }), "storage_corrupt", "r2");
    } finally {
      await cleanup();
    }
  });

  it("refuses a description too long for object metadata", () => {
    const input = {
      backupId: "bkp_x",
      type: "tenant" as const,
      tenantId: "t1",
      createdAt,
      size: 1,
      sha256: "b".repeat(64),
      contentEncoding: "gzip",
      manifest: { rows: 1 },
    };
    const long = encodeMetaSidecar({ ...input, manifest: { note: "x".repeat(2000) } });
    expect(() => metaMetadata(long)).toThrow(/under 1800 bytes/);
    expect(parseMetaMetadata(metaMetadata(encodeMetaSidecar(input)))).toEqual(parseMetaSidecar(encodeMetaSidecar(input)));
    expect(parseMetaMetadata({})).toBeNull();
  });
});
