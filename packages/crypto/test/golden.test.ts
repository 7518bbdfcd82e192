import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseKeySidecar, readHeader, unwrapSidecar, deriveTenantKek } from "../src";
import { fixture, golden, goldenArtifact, goldenIdentity, goldenPlaintext, goldenSidecarJson, hex } from "./fixtures/golden";
import { decrypt } from "./helpers";
import { independentDecrypt, independentUnwrap } from "./independent-decoder";

const committed = {
  plaintext: readFileSync(fixture(golden.files.plaintext)),
  artifact: readFileSync(fixture(golden.files.artifact)),
  sidecar: readFileSync(fixture(golden.files.sidecar), "utf8").trim(),
};

describe("golden artifact (known answer)", () => {
  it("the committed plaintext is the generator's", () => {
    expect(committed.plaintext.equals(goldenPlaintext())).toBe(true);
    expect(committed.plaintext.length % 4096).not.toBe(0);
    expect(committed.plaintext.length).toBeGreaterThan(2 * 4096);
  });

  it("re-encrypting with the fixed DEK, salt and dekId gives the committed bytes", async () => {
    const artifact = await goldenArtifact();
    expect(artifact.length).toBe(committed.artifact.length);
    expect(artifact.equals(committed.artifact)).toBe(true);
  });

  it("the committed artifact decrypts to the committed plaintext", async () => {
    const plaintext = await decrypt(committed.artifact, { dek: hex(golden.dek), dekId: hex(golden.dekId), expect: goldenIdentity });
    expect(plaintext.equals(committed.plaintext)).toBe(true);
    const header = await readHeader(committed.artifact);
    expect(header).toMatchObject({ ...goldenIdentity, chunkLog2: golden.chunkLog2, createdAtMs: golden.createdAtMs, contentEncoding: "none" });
  });

  it("the committed sidecar is reproduced and unwraps to the fixed DEK", () => {
    expect(goldenSidecarJson()).toBe(committed.sidecar);
    const kek = deriveTenantKek({ masterKey: hex(golden.masterKey), seed: hex(golden.seed), tenantId: golden.tenantId, keyVersion: golden.keyVersion });
    const dek = unwrapSidecar({ sidecar: parseKeySidecar(committed.sidecar), kek, keyVersion: golden.keyVersion });
    expect(dek.reveal().toString("hex")).toBe(golden.dek);
  });

  it("an independent decoder (noble) reads the committed artifact and sidecar", () => {
    const { header, plaintext } = independentDecrypt(committed.artifact, hex(golden.dek));
    expect(Buffer.from(plaintext).equals(committed.plaintext)).toBe(true);
    expect(header).toMatchObject({ kind: 1, tenantId: golden.tenantId, backupId: golden.backupId, createdAtMs: BigInt(golden.createdAtMs) });
    const dek = independentUnwrap({ masterKey: hex(golden.masterKey), seed: hex(golden.seed), sidecar: JSON.parse(committed.sidecar) });
    expect(Buffer.from(dek).toString("hex")).toBe(golden.dek);
  });
});
