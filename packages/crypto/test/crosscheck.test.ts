import { describe, expect, it } from "vitest";
import { KeyRing, generateDek, newDekId, serializeKeySidecar } from "../src";
import { masterKeySet } from "@hesaab/config";
import { C12 as C, encrypt, flipBit, plaintext } from "./helpers";
import { independentDecrypt } from "./independent-decoder";

describe("an independent implementation (@noble/ciphers + @noble/hashes) decrypts our output", () => {
  for (const n of [0, 1, C - 1, C, C + 1, 3 * C, 5 * C + 123]) {
    it(`n = ${n}`, async () => {
      const dek = generateDek();
      const dekId = newDekId();
      const data = plaintext(n);
      const artifact = await encrypt(data, { dek, dekId, contentEncoding: "gzip" });
      const { header, plaintext: out } = independentDecrypt(artifact, dek.reveal());
      expect(Buffer.from(out).equals(data)).toBe(true);
      expect(header).toMatchObject({ chunkLog2: 12, contentEncoding: 1, kind: 1, tenantId: "tenant-a", backupId: "bkp_one" });
      expect(Buffer.from(header.dekId).equals(dekId)).toBe(true);
    });
  }

  it("with 1 MiB chunks and a platform key from the key ring", async () => {
    const ring = new KeyRing({ drMasterKeys: masterKeySet.parse(`4:${Buffer.alloc(32, 4).toString("base64")}`) });
    const identity = { kind: "platform" as const, tenantId: "", backupId: "dr_x" };
    const sealed = await ring.sealNewArtifact(identity);
    const data = plaintext(2 * (1 << 20) + 77);
    const artifact = await encrypt(data, { ...identity, dek: sealed.dek, dekId: sealed.dekId, chunkLog2: 20 });
    const { dek } = await ring.openArtifact({ sidecar: serializeKeySidecar(sealed.sidecar), expect: identity });
    const { header, plaintext: out } = independentDecrypt(artifact, dek.reveal());
    expect(Buffer.from(out).equals(data)).toBe(true);
    expect(header).toMatchObject({ kind: 3, tenantId: "", chunkLog2: 20 });
  });

  it("and rejects what ours rejects (sanity of the independent decoder)", async () => {
    const dek = generateDek();
    const artifact = await encrypt(plaintext(2 * C + 5), { dek });
    expect(() => independentDecrypt(flipBit(artifact, artifact.length - 1), dek.reveal())).toThrow();
    expect(() => independentDecrypt(flipBit(artifact, 30), dek.reveal())).toThrow(/header mac/);
  });
});
