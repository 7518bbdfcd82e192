// Tenant key records, rotation and crypto-shredding end to end on a real PostgreSQL catalog.
import { createHash } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { masterKeySet } from "@hesaab/config";
import { migrate } from "@hesaab/db";
import { freshDatabase, type FreshDatabase } from "@hesaab/testkit";
import { CryptoErrorCode, KeyRing, TenantKeyStore, type ArtifactIdentity, type KeySidecar } from "../src";
import { decrypt, encrypt, expectCode, plaintext } from "./helpers";

const masters = (versions: number[]) => masterKeySet.parse(versions.map((v) => `${v}:${Buffer.alloc(32, 100 + v).toString("base64")}`).join(","));

let database: FreshDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  database = await freshDatabase("crypto_test");
  await migrate({ url: database.url });
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  pool.on("error", () => {}); // the database is dropped with force at the end
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

const ringWith = (versions: number[]) => {
  const store = new TenantKeyStore({ pool, masterKeys: masters(versions) });
  return { store, ring: new KeyRing({ tenantKeys: store }) };
};

async function backup(ring: KeyRing, identity: ArtifactIdentity) {
  const sealed = await ring.sealNewArtifact(identity);
  const data = plaintext(3 * 4096 + 11);
  const artifact = await encrypt(data, { ...identity, dek: sealed.dek, dekId: sealed.dekId });
  return { data, artifact, sidecar: sealed.sidecar, digest: createHash("sha256").update(artifact).digest("hex") };
}

async function restore(ring: KeyRing, { artifact, sidecar, identity }: { artifact: Buffer; sidecar: KeySidecar; identity: ArtifactIdentity }) {
  const { dek, dekId } = await ring.openArtifact({ sidecar, expect: identity });
  return decrypt(artifact, { dek, dekId, expect: identity });
}

describe("tenant key store", () => {
  it("creates version 1 on first use, once, even when asked concurrently", async () => {
    const { store } = ringWith([1]);
    const keys = await Promise.all(Array.from({ length: 5 }, () => store.currentKey("t-first")));
    expect(keys.map((k) => k.keyVersion)).toEqual([1, 1, 1, 1, 1]);
    expect(await store.listKeys("t-first")).toMatchObject([{ keyVersion: 1, masterVersion: 1, retiredAt: null, shredded: false }]);
    const { rows } = await pool.query("select octet_length(seed) as n from backup.tenant_keys where tenant_id = 't-first'");
    expect(rows).toEqual([{ n: 32 }]);
  });

  it("seals and opens tenant backups and customer exports", async () => {
    const { ring } = ringWith([1]);
    for (const kind of ["tenant", "customer"] as const) {
      const identity = { kind, tenantId: "t-seal", backupId: `b-${kind}` };
      const b = await backup(ring, identity);
      expect(b.sidecar).toMatchObject({ kind: kind === "tenant" ? 1 : 2, tenantId: "t-seal", slots: [{ type: "tenant", keyVersion: 1 }] });
      expect((await restore(ring, { ...b, identity })).equals(b.data)).toBe(true);
      await expect(ring.openArtifact({ sidecar: b.sidecar, expect: { ...identity, tenantId: "t-other" } })).rejects.toMatchObject({
        code: CryptoErrorCode.WrongTenant,
      });
    }
  });

  it("seals many artifacts at once: new tenants get version 1, each uses its current version, a shredded tenant fails alone", async () => {
    const { store, ring } = ringWith([1]);
    await store.currentKey("t-many-rotated");
    await store.rotateTenantKey("t-many-rotated");
    await store.currentKey("t-many-shredded");
    await store.shredTenant("t-many-shredded");
    const ids = ["t-many-new-a", "t-many-rotated", "t-many-shredded", "t-many-new-b"].map((tenantId, i) => ({
      kind: "tenant" as const,
      tenantId,
      backupId: `b-many-${i}`,
    }));
    const sealed = await ring.sealNewArtifacts([...ids, { ...ids[0]!, backupId: "b-many-again" }]);
    expect(sealed[2]).toMatchObject({ code: CryptoErrorCode.KeyShredded });
    for (const [i, version] of [
      [0, 1],
      [1, 2],
      [3, 1],
      [4, 1],
    ] as const) {
      const s = sealed[i]!;
      if (s instanceof Error) throw s;
      expect(s.sidecar.slots[0]!.keyVersion).toBe(version);
      const identity = i === 4 ? { ...ids[0]!, backupId: "b-many-again" } : ids[i]!;
      // what was sealed in a batch opens like any other artifact
      const data = plaintext(100);
      const artifact = await encrypt(data, { ...identity, dek: s.dek, dekId: s.dekId });
      expect((await restore(ring, { artifact, sidecar: s.sidecar, identity })).equals(data)).toBe(true);
    }
    expect(await store.listKeys("t-many-new-a")).toHaveLength(1);
  });

  it("rotation: a new tenant key version re-wraps sidecars; artifact bytes never change; old version retired", async () => {
    const { store, ring } = ringWith([1]);
    const identity = { kind: "tenant" as const, tenantId: "t-rotate", backupId: "b-1" };
    const b = await backup(ring, identity);

    const v2 = await store.rotateTenantKey("t-rotate");
    expect(v2.keyVersion).toBe(2);
    // before re-wrapping, the old sidecar still opens
    expect((await restore(ring, { ...b, identity })).equals(b.data)).toBe(true);

    const rewrapped = await ring.rewrap({ sidecar: b.sidecar });
    expect(rewrapped.slots).toMatchObject([{ type: "tenant", keyVersion: 2 }]);
    expect(rewrapped.dekId).toBe(b.sidecar.dekId);
    expect(await ring.rewrap({ sidecar: rewrapped })).toEqual(rewrapped);

    await store.retireKeyVersion({ tenantId: "t-rotate", keyVersion: 1 });
    await store.retireKeyVersion({ tenantId: "t-rotate", keyVersion: 1 });
    expect(createHash("sha256").update(b.artifact).digest("hex")).toBe(b.digest);
    expect((await restore(ring, { ...b, sidecar: rewrapped, identity })).equals(b.data)).toBe(true);
    await expect(ring.openArtifact({ sidecar: b.sidecar, expect: identity })).rejects.toMatchObject({ code: CryptoErrorCode.KeyRetired });

    // new backups use version 2; the newest version and unknown versions cannot be retired
    expect((await ring.sealNewArtifact({ ...identity, backupId: "b-2" })).sidecar.slots[0]!.keyVersion).toBe(2);
    await expect(store.retireKeyVersion({ tenantId: "t-rotate", keyVersion: 2 })).rejects.toMatchObject({ code: CryptoErrorCode.KeyVersionCurrent });
    await expect(store.retireKeyVersion({ tenantId: "t-rotate", keyVersion: 9 })).rejects.toMatchObject({ code: CryptoErrorCode.KeyVersionUnknown });
  });

  it("concurrent rotations get distinct versions", async () => {
    const { store } = ringWith([1]);
    await store.currentKey("t-race");
    const rotated = await Promise.all(Array.from({ length: 5 }, () => store.rotateTenantKey("t-race")));
    expect(rotated.map((k) => k.keyVersion).sort()).toEqual([2, 3, 4, 5, 6]);
  });

  it("master key rotation: rotate tenants behind the new master, re-wrap, retire, then drop the old master", async () => {
    const tenant = "t-master";
    const identity = { kind: "tenant" as const, tenantId: tenant, backupId: "b-m" };
    const old = ringWith([1]);
    const b = await backup(old.ring, identity);

    const both = ringWith([1, 2]);
    expect(await both.store.tenantsBehindMaster()).toContain(tenant);
    const v2 = await both.store.rotateTenantKey(tenant);
    expect(v2).toMatchObject({ keyVersion: 2, masterVersion: 2 });
    const rewrapped = await both.ring.rewrap({ sidecar: b.sidecar });
    await both.store.retireKeyVersion({ tenantId: tenant, keyVersion: 1 });
    expect(await both.store.tenantsBehindMaster()).not.toContain(tenant);

    const onlyNew = ringWith([2]);
    expect((await restore(onlyNew.ring, { ...b, sidecar: rewrapped, identity })).equals(b.data)).toBe(true);
    expect(createHash("sha256").update(b.artifact).digest("hex")).toBe(b.digest);
  });

  it("refuses a key version it does not have (tenant version or master version)", async () => {
    const tenant = "t-versions";
    const identity = { kind: "tenant" as const, tenantId: tenant, backupId: "b-v" };
    const { ring, store } = ringWith([1]);
    const b = await backup(ring, identity);
    const edited = (keyVersion: number): KeySidecar => ({ ...b.sidecar, slots: [{ ...b.sidecar.slots[0]!, keyVersion }] });
    await expect(ring.openArtifact({ sidecar: edited(7), expect: identity })).rejects.toMatchObject({ code: CryptoErrorCode.KeyVersionUnknown });
    await store.rotateTenantKey(tenant);
    // an existing but different version: the KEK and the wrap binding differ
    await expect(ring.openArtifact({ sidecar: edited(2), expect: identity })).rejects.toMatchObject({ code: CryptoErrorCode.UnwrapFailed });
    // the master version this key was made under is not configured
    const withoutMaster1 = ringWith([2]);
    await expect(withoutMaster1.ring.openArtifact({ sidecar: b.sidecar, expect: identity })).rejects.toMatchObject({
      code: CryptoErrorCode.KeyVersionUnknown,
      context: expect.objectContaining({ masterVersion: 1 }),
    });
  });

  it("crypto-shredding: the tenant's backups become unreadable, with their own error", async () => {
    const { store, ring } = ringWith([1]);
    const victim = { kind: "tenant" as const, tenantId: "t-shred", backupId: "b-s1" };
    const bystander = { kind: "tenant" as const, tenantId: "t-keep", backupId: "b-k1" };
    const first = await backup(ring, victim);
    await store.rotateTenantKey("t-shred");
    const second = await backup(ring, { ...victim, backupId: "b-s2" });
    const export_ = await backup(ring, { ...victim, kind: "customer", backupId: "e-s1" });
    const kept = await backup(ring, bystander);
    // the DEK of a shredded artifact was known before: keep one to show the artifact itself is intact
    const opened = await ring.openArtifact({ sidecar: first.sidecar, expect: victim });

    expect(await store.shredTenant("t-shred")).toEqual({ versions: 2 });
    expect(await store.shredTenant("t-shred")).toEqual({ versions: 0 });

    const { rows } = await pool.query("select key_version, octet_length(seed) as n from backup.tenant_keys where tenant_id = 't-shred' order by 1");
    expect(rows).toEqual([
      { key_version: 1, n: 0 },
      { key_version: 2, n: 0 },
    ]);
    for (const [b, identity] of [
      [first, victim],
      [second, { ...victim, backupId: "b-s2" }],
      [export_, { ...victim, kind: "customer", backupId: "e-s1" }],
    ] as const) {
      await expect(ring.openArtifact({ sidecar: b.sidecar, expect: identity })).rejects.toMatchObject({ code: CryptoErrorCode.KeyShredded });
    }
    await expect(ring.sealNewArtifact({ ...victim, backupId: "b-s3" })).rejects.toMatchObject({ code: CryptoErrorCode.KeyShredded });
    await expect(ring.rewrap({ sidecar: first.sidecar })).rejects.toMatchObject({ code: CryptoErrorCode.KeyShredded });
    expect((await restore(ring, { ...kept, identity: bystander })).equals(kept.data)).toBe(true);
    // (the bytes are still a valid artifact: only the key is gone)
    expect((await decrypt(first.artifact, { dek: opened.dek, expect: victim })).equals(first.data)).toBe(true);
    await expectCode(first.artifact, CryptoErrorCode.HeaderMacMismatch, { expect: victim });

    // re-keying an erased tenant serves new data only
    const v3 = await store.rotateTenantKey("t-shred");
    expect(v3.keyVersion).toBe(3);
    const fresh = await backup(ring, { ...victim, backupId: "b-s4" });
    expect((await restore(ring, { ...fresh, identity: { ...victim, backupId: "b-s4" } })).equals(fresh.data)).toBe(true);
    await expect(ring.openArtifact({ sidecar: second.sidecar, expect: { ...victim, backupId: "b-s2" } })).rejects.toMatchObject({
      code: CryptoErrorCode.KeyShredded,
    });
  });

  it("reports master versions in use and closes only a pool it opened", async () => {
    const { store } = ringWith([1, 2]);
    expect(await store.masterVersionsInUse()).toEqual(expect.arrayContaining([1, 2]));
    await store.close();
    expect((await pool.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
    const own = TenantKeyStore.connect({ url: database.url, masterKeys: masters([1]) });
    expect((await own.currentKey("t-own")).keyVersion).toBe(1);
    await own.close();
  });
});
