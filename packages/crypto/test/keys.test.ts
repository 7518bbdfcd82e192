import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Secret, masterKeySet } from "@hesaab/config";
import {
  CryptoErrorCode,
  KeyRing,
  buildKeySidecar,
  derivePlatformKek,
  deriveTenantKek,
  generateDek,
  hkdf,
  newDekId,
  parseKeySidecar,
  rewrapSidecar,
  serializeKeySidecar,
  unwrapDek,
  unwrapSidecar,
  wrapDek,
  type ArtifactIdentity,
} from "../src";
import { decrypt, encrypt, expectCode, plaintext } from "./helpers";

const tenant: ArtifactIdentity = { kind: "tenant", tenantId: "tenant-a", backupId: "bkp_one" };
const platform: ArtifactIdentity = { kind: "platform", tenantId: "", backupId: "dr_2026_01_01" };
const keySet = (versions: number[]) => masterKeySet.parse(versions.map((v) => `${v}:${Buffer.alloc(32, v).toString("base64")}`).join(","));

describe("HKDF-SHA256", () => {
  it("matches RFC 5869 test case 1", () => {
    const okm = hkdf({
      ikm: Buffer.alloc(22, 0x0b),
      salt: Buffer.from("000102030405060708090a0b0c", "hex"),
      info: Buffer.from("f0f1f2f3f4f5f6f7f8f9", "hex"),
      length: 42,
    });
    expect(okm.toString("hex")).toBe("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  });
});

describe("KEK derivation", () => {
  it("binds the tenant KEK to master key, seed, tenant and version", () => {
    const base = { masterKey: Buffer.alloc(32, 1), seed: Buffer.alloc(32, 2), tenantId: "t", keyVersion: 1 };
    const kek = deriveTenantKek(base).reveal();
    expect(kek.length).toBe(32);
    for (const change of [{ masterKey: Buffer.alloc(32, 9) }, { seed: Buffer.alloc(32, 9) }, { tenantId: "u" }, { keyVersion: 2 }]) {
      expect(
        deriveTenantKek({ ...base, ...change })
          .reveal()
          .equals(kek),
      ).toBe(false);
    }
    // the spec's info string, computed by hand
    const info = Buffer.concat([Buffer.from("bkp1/tenant-kek"), Buffer.from([0, 1]), Buffer.from("t"), Buffer.from([0, 0, 0, 1])]);
    expect(hkdf({ ikm: base.masterKey, salt: base.seed, info }).equals(kek)).toBe(true);
  });

  it("derives the platform KEK with a zero salt and the version", () => {
    const kek = derivePlatformKek({ drMasterKey: Buffer.alloc(32, 5), version: 7 }).reveal();
    const info = Buffer.concat([Buffer.from("bkp1/platform-kek"), Buffer.from([0, 0, 0, 7])]);
    expect(hkdf({ ikm: Buffer.alloc(32, 5), salt: Buffer.alloc(32), info }).equals(kek)).toBe(true);
  });

  it("never prints keys", () => {
    const dek = generateDek();
    expect(String(dek)).toBe("**redacted**");
    expect(JSON.stringify({ dek })).not.toContain(dek.reveal().toString("base64"));
  });
});

describe("wrapping", () => {
  const kek = Buffer.alloc(32, 4);
  const dek = Buffer.alloc(32, 6);
  const context = { ...tenant, dekId: Buffer.alloc(16, 1), keyVersion: 3 };

  it("round-trips and is bound to identity, dek id and key version", () => {
    const { nonce, wrapped } = wrapDek({ kek, dek, context });
    expect(nonce.length).toBe(12);
    expect(wrapped.length).toBe(48);
    expect(unwrapDek({ kek, nonce, wrapped, context }).reveal().equals(dek)).toBe(true);
    const changes = [{ tenantId: "tenant-b" }, { backupId: "bkp_two" }, { kind: "customer" as const }, { dekId: Buffer.alloc(16, 2) }, { keyVersion: 4 }];
    for (const change of changes) {
      expect(() => unwrapDek({ kek, nonce, wrapped, context: { ...context, ...change } })).toThrowError(
        expect.objectContaining({ code: CryptoErrorCode.UnwrapFailed }),
      );
    }
    expect(() => unwrapDek({ kek: Buffer.alloc(32, 5), nonce, wrapped, context })).toThrowError(
      expect.objectContaining({ code: CryptoErrorCode.UnwrapFailed }),
    );
  });
});

describe("key sidecar", () => {
  const dekId = Buffer.from("00112233445566778899aabbccddeeff", "hex");

  it("is the JSON of the format doc, field for field", () => {
    const sidecar = buildKeySidecar({ identity: tenant, dekId, dek: Buffer.alloc(32, 6), kek: Buffer.alloc(32, 4), keyVersion: 3 });
    const json = JSON.parse(serializeKeySidecar(sidecar)) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(["format", "version", "kind", "tenantId", "backupId", "dekId", "slots"]);
    expect(json).toMatchObject({
      format: "bkp1-keys",
      version: 1,
      kind: 1,
      tenantId: "tenant-a",
      backupId: "bkp_one",
      dekId: "00112233445566778899aabbccddeeff",
    });
    const [slot] = json.slots as Record<string, unknown>[];
    expect(Object.keys(slot!)).toEqual(["type", "keyVersion", "nonce", "wrapped"]);
    expect(slot).toMatchObject({ type: "tenant", keyVersion: 3 });
    expect(Buffer.from(slot!.nonce as string, "base64").length).toBe(12);
    expect(Buffer.from(slot!.wrapped as string, "base64").length).toBe(48);
    expect(parseKeySidecar(serializeKeySidecar(sidecar))).toEqual(sidecar);
    const dr = buildKeySidecar({ identity: platform, dekId, dek: Buffer.alloc(32, 6), kek: Buffer.alloc(32, 4), keyVersion: 2 });
    expect(dr).toMatchObject({ kind: 3, tenantId: "", slots: [{ type: "platform", keyVersion: 2 }] });
  });

  it("refuses malformed sidecars", () => {
    const good = buildKeySidecar({ identity: tenant, dekId, dek: Buffer.alloc(32, 6), kek: Buffer.alloc(32, 4), keyVersion: 3 });
    const slot = good.slots[0]!;
    const bad: unknown[] = [
      "{not json",
      { ...good, format: "bkp2-keys" },
      { ...good, version: 2 },
      { ...good, kind: 4 },
      { ...good, dekId: "abcd" },
      { ...good, tenantId: "" },
      { ...good, slots: [] },
      { ...good, slots: [{ ...slot, type: "platform" }] },
      { ...good, slots: [{ ...slot, keyVersion: -1 }] },
      { ...good, slots: [{ ...slot, nonce: Buffer.alloc(11).toString("base64") }] },
      { ...good, slots: [{ ...slot, wrapped: Buffer.alloc(32).toString("base64") }] },
    ];
    for (const input of bad) expect(() => parseKeySidecar(input)).toThrowError(expect.objectContaining({ code: CryptoErrorCode.SidecarInvalid }));
    // uppercase hex from another writer is accepted and normalized
    expect(parseKeySidecar({ ...good, dekId: good.dekId.toUpperCase() })).toEqual(good);
  });

  it("re-wrap: the artifact bytes stay the same and still decrypt through the new sidecar", async () => {
    const dek = generateDek();
    const data = plaintext(3 * 4096 + 7);
    const artifact = await encrypt(data, { dek, dekId });
    const digest = createHash("sha256").update(artifact).digest("hex");
    const v1 = { keyVersion: 1, kek: Buffer.alloc(32, 11) };
    const v2 = { keyVersion: 2, kek: Buffer.alloc(32, 12) };
    const sidecar = buildKeySidecar({ identity: tenant, dekId, dek, ...v1 });
    const rewrapped = rewrapSidecar({ sidecar, current: v1, next: v2 });
    expect(rewrapped).toMatchObject({ tenantId: sidecar.tenantId, backupId: sidecar.backupId, dekId: sidecar.dekId, slots: [{ keyVersion: 2 }] });
    expect(rewrapped.slots[0]!.wrapped).not.toBe(sidecar.slots[0]!.wrapped);
    expect(sidecar.slots[0]!.keyVersion).toBe(1);
    const unwrapped = unwrapSidecar({ sidecar: rewrapped, ...v2 });
    expect((await decrypt(artifact, { dek: unwrapped, dekId })).equals(data)).toBe(true);
    expect(createHash("sha256").update(artifact).digest("hex")).toBe(digest);
    // the old version is gone from the new sidecar; the new one is idempotent
    expect(() => unwrapSidecar({ sidecar: rewrapped, ...v1 })).toThrowError(expect.objectContaining({ code: CryptoErrorCode.KeyVersionUnknown }));
    expect(rewrapSidecar({ sidecar: rewrapped, current: v1, next: v2 })).toEqual(rewrapped);
    // the wrong current KEK cannot re-wrap
    expect(() => rewrapSidecar({ sidecar, current: { keyVersion: 1, kek: v2.kek }, next: v2 })).toThrowError(
      expect.objectContaining({ code: CryptoErrorCode.UnwrapFailed }),
    );
  });
});

describe("KeyRing with disaster-recovery keys only", () => {
  it("seals under the highest DR version, opens, re-wraps after a new DR version, refuses unknown versions", async () => {
    const ring = new KeyRing({ drMasterKeys: keySet([1, 2]) });
    const sealed = await ring.sealNewArtifact(platform);
    expect(sealed.sidecar.slots).toMatchObject([{ type: "platform", keyVersion: 2 }]);
    const data = plaintext(5000);
    const artifact = await encrypt(data, { ...platform, dek: sealed.dek, dekId: sealed.dekId });

    const opened = await ring.openArtifact({ sidecar: serializeKeySidecar(sealed.sidecar), expect: platform });
    expect(opened.dekId.equals(sealed.dekId)).toBe(true);
    expect((await decrypt(artifact, { dek: opened.dek, dekId: opened.dekId, expect: platform })).equals(data)).toBe(true);

    const rotated = new KeyRing({ drMasterKeys: keySet([1, 2, 3]) });
    const rewrapped = await rotated.rewrap({ sidecar: sealed.sidecar });
    expect(rewrapped.slots).toMatchObject([{ type: "platform", keyVersion: 3 }]);
    expect(await rotated.rewrap({ sidecar: rewrapped })).toEqual(rewrapped);
    const withoutOld = new KeyRing({ drMasterKeys: keySet([3]) });
    const reopened = await withoutOld.openArtifact({ sidecar: rewrapped, expect: platform });
    expect((await decrypt(artifact, { dek: reopened.dek, expect: platform })).equals(data)).toBe(true);

    await expect(withoutOld.openArtifact({ sidecar: sealed.sidecar, expect: platform })).rejects.toMatchObject({ code: CryptoErrorCode.KeyVersionUnknown });
    await expect(ring.openArtifact({ sidecar: sealed.sidecar, expect: { ...platform, backupId: "dr_other" } })).rejects.toMatchObject({
      code: CryptoErrorCode.WrongBackup,
    });
    await expect(ring.openArtifact({ sidecar: sealed.sidecar, expect: tenant })).rejects.toMatchObject({ code: CryptoErrorCode.WrongKind });
  });

  it("a wrong DR key of the right version fails to unwrap", async () => {
    const sealed = await new KeyRing({ drMasterKeys: keySet([1]) }).sealNewArtifact(platform);
    const other = new KeyRing({ drMasterKeys: new Map([[1, new Secret(randomBytes(32))]]) });
    await expect(other.openArtifact({ sidecar: sealed.sidecar, expect: platform })).rejects.toMatchObject({ code: CryptoErrorCode.UnwrapFailed });
  });

  it("has no tenant keys to offer", async () => {
    const ring = new KeyRing({ drMasterKeys: keySet([1]) });
    await expect(ring.sealNewArtifact(tenant)).rejects.toMatchObject({ code: CryptoErrorCode.InvalidArgument });
  });

  it("a sidecar for another artifact's key is refused by the decryptor", async () => {
    const ring = new KeyRing({ drMasterKeys: keySet([1]) });
    const a = await ring.sealNewArtifact(platform);
    const b = await ring.sealNewArtifact(platform);
    const artifact = await encrypt(plaintext(10), { ...platform, dek: a.dek, dekId: a.dekId });
    const openedB = await ring.openArtifact({ sidecar: b.sidecar, expect: platform });
    await expectCode(artifact, CryptoErrorCode.WrongKey, { dek: openedB.dek, dekId: openedB.dekId, expect: platform });
    await expectCode(artifact, CryptoErrorCode.HeaderMacMismatch, { dek: openedB.dek, expect: platform });
    expect(newDekId().length).toBe(16);
  });
});
