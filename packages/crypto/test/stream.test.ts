import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { CryptoErrorCode, createEncryptStream, encryptBuffer, encryptedLength, isCryptoError, plaintextLength, readHeader } from "../src";
import { EncryptStream } from "../src/encrypt";
import { DecryptStream } from "../src/decrypt";
import { MAX_CHUNK_INDEX } from "../src/format";
import { C12 as C, IDENTITY, decrypt, decryptAll, encOptions, encrypt, expectCode, flipBit, plaintext, split } from "./helpers";

const FIXED = { streamSalt: Buffer.alloc(32, 3), createdAtMs: 1_767_225_600_000 };
const headerEnd = (artifact: Buffer) => 2 + artifact.readUInt16BE(0);
const chunkAt = (artifact: Buffer, i: number) => headerEnd(artifact) + i * (C + 16);

describe("round trips and exact lengths", () => {
  for (const n of [0, 1, C - 1, C, C + 1, 3 * C, 5 * C + 123]) {
    it(`n = ${n}`, async () => {
      const data = plaintext(n);
      const artifact = await encrypt(data);
      const headerLen = artifact.readUInt16BE(0);
      const expected = 2 + headerLen + Math.floor(n / C) * (C + 16) + (n % C) + 16;
      expect(artifact.length).toBe(expected);
      expect(encryptedLength({ plaintextLength: n, headerLen, chunkLog2: 12 })).toBe(expected);
      expect(plaintextLength({ artifactLength: artifact.length, headerLen, chunkLog2: 12 })).toBe(n);
      expect((await decrypt(artifact)).equals(data)).toBe(true);
    });
  }

  it("platform and customer kinds round-trip with their own identity", async () => {
    const data = plaintext(C + 3);
    const platform = { kind: "platform" as const, tenantId: "", backupId: "dr_2026" };
    expect((await decrypt(await encrypt(data, platform), { expect: platform })).equals(data)).toBe(true);
    const customer = { kind: "customer" as const, tenantId: "tenant-a", backupId: "exp_1" };
    expect((await decrypt(await encrypt(data, customer), { expect: customer })).equals(data)).toBe(true);
  });

  it("the default chunk size is 1 MiB", async () => {
    const artifact = await encrypt(plaintext(10), { chunkLog2: undefined });
    const header = await readHeader(artifact);
    expect(header.chunkLog2).toBe(20);
    expect(header.chunkSize).toBe(1 << 20);
  });
});

describe("independence from write boundaries", () => {
  const data = plaintext(5 * C + 123);
  const splits = [[1], [7, 4096, 13], [C - 1], [C + 1], [100_000], [3, 8191, 16_385, 2]];

  it("encrypt output is the same however the input is split", async () => {
    const reference = await encrypt(data, FIXED);
    for (const sizes of splits) {
      expect((await encrypt(data, FIXED, split(data, sizes))).equals(reference)).toBe(true);
    }
  });

  it("encryptBuffer writes the bytes the stream writes, for every length class", async () => {
    for (const n of [0, 1, C - 1, C, C + 1, 3 * C, 5 * C + 123]) {
      const input = data.subarray(0, n);
      const oneShot = encryptBuffer(encOptions(FIXED), input);
      expect(oneShot.equals(await encrypt(input, FIXED))).toBe(true);
      expect((await decrypt(oneShot)).equals(input)).toBe(true);
    }
  });

  it("decrypt output is the same however the artifact is split", async () => {
    const artifact = await encrypt(data);
    for (const sizes of [...splits, [16], [C + 16]]) {
      const { out, error } = await decryptAll(artifact, {}, split(artifact, sizes));
      expect(error).toBeUndefined();
      expect(out.equals(data)).toBe(true);
    }
  });

  it("a fresh salt makes every artifact different", async () => {
    const [a, b] = [await encrypt(data), await encrypt(data)];
    expect(a.equals(b)).toBe(false);
  });
});

describe("truncation", () => {
  it("at a chunk boundary: emits only whole authentic chunks, then fails", async () => {
    const data = plaintext(5 * C + 123);
    const artifact = await encrypt(data);
    const out = await expectCode(artifact.subarray(0, chunkAt(artifact, 2)), CryptoErrorCode.Truncated);
    expect(out.equals(data.subarray(0, 2 * C))).toBe(true);
  });

  it("mid-chunk", async () => {
    const artifact = await encrypt(plaintext(5 * C + 123));
    await expectCode(artifact.subarray(0, chunkAt(artifact, 2) + 1000), CryptoErrorCode.ChunkAuthFailed);
    await expectCode(artifact.subarray(0, chunkAt(artifact, 2) + 15), CryptoErrorCode.Truncated);
  });

  it("final chunk dropped (short final chunk, and empty final chunk)", async () => {
    const short = await encrypt(plaintext(3 * C + 5));
    await expectCode(short.subarray(0, chunkAt(short, 3)), CryptoErrorCode.Truncated);
    const empty = await encrypt(plaintext(3 * C));
    expect(empty.length - chunkAt(empty, 3)).toBe(16);
    await expectCode(empty.subarray(0, chunkAt(empty, 3)), CryptoErrorCode.Truncated);
  });

  it("header only, part of a header, nothing at all", async () => {
    const artifact = await encrypt(plaintext(100));
    await expectCode(artifact.subarray(0, headerEnd(artifact)), CryptoErrorCode.Truncated);
    await expectCode(artifact.subarray(0, 50), CryptoErrorCode.Truncated);
    await expectCode(artifact.subarray(0, 4), CryptoErrorCode.Truncated);
    await expectCode(Buffer.alloc(0), CryptoErrorCode.Truncated);
  });
});

describe("trailing data", () => {
  for (const n of [0, 100, 3 * C, 5 * C + 123]) {
    it(`after the final chunk (n = ${n})`, async () => {
      const data = plaintext(n);
      const artifact = await encrypt(data);
      for (const extra of [1, 15, 16, 17, 100, C, C + 50, 3 * C]) {
        const out = await expectCode(Buffer.concat([artifact, plaintext(extra)]), CryptoErrorCode.TrailingData);
        expect(out.equals(data.subarray(0, Math.floor(n / C) * C))).toBe(true);
      }
    });
  }

  it("a duplicated final chunk", async () => {
    const artifact = await encrypt(plaintext(2 * C + 10));
    await expectCode(Buffer.concat([artifact, artifact.subarray(chunkAt(artifact, 2))]), CryptoErrorCode.TrailingData);
  });

  it("an appended copy of the whole artifact", async () => {
    const artifact = await encrypt(plaintext(2 * C + 10));
    await expectCode(Buffer.concat([artifact, artifact]), CryptoErrorCode.TrailingData);
  });
});

describe("reordered, duplicated and spliced chunks", () => {
  const data = plaintext(4 * C + 100);
  const chunks = (artifact: Buffer) => {
    const out = [artifact.subarray(0, headerEnd(artifact))];
    for (let at = headerEnd(artifact); at < artifact.length; at += C + 16) out.push(artifact.subarray(at, Math.min(at + C + 16, artifact.length)));
    return out;
  };

  it("two chunks swapped", async () => {
    const [head, c0, c1, c2, ...rest] = chunks(await encrypt(data));
    const out = await expectCode(Buffer.concat([head!, c0!, c2!, c1!, ...rest]), CryptoErrorCode.ChunkAuthFailed);
    expect(out.length).toBe(C);
  });

  it("a chunk duplicated", async () => {
    const [head, c0, c1, ...rest] = chunks(await encrypt(data));
    await expectCode(Buffer.concat([head!, c0!, c1!, c1!, ...rest]), CryptoErrorCode.ChunkAuthFailed);
  });

  it("a chunk dropped from the middle", async () => {
    const [head, c0, , ...rest] = chunks(await encrypt(data));
    await expectCode(Buffer.concat([head!, c0!, ...rest]), CryptoErrorCode.ChunkAuthFailed);
  });

  it("the final chunk moved earlier", async () => {
    const parts = chunks(await encrypt(data));
    const final = parts.pop()!;
    parts.splice(2, 0, final);
    await expectCode(Buffer.concat(parts), CryptoErrorCode.ChunkAuthFailed);
    const [head, c0] = chunks(await encrypt(data));
    await expectCode(Buffer.concat([head!, c0!, final]), CryptoErrorCode.ChunkAuthFailed);
  });

  it("a chunk spliced from another artifact of the same tenant, backup and key", async () => {
    const a = chunks(await encrypt(data));
    const b = chunks(await encrypt(data));
    a[2] = b[2]!;
    await expectCode(Buffer.concat(a), CryptoErrorCode.ChunkAuthFailed);
  });
});

describe("bit flips", () => {
  it("in every header byte", async () => {
    const artifact = await encrypt(plaintext(C + 10), { tenantId: "t-1", backupId: "b-1" });
    const end = headerEnd(artifact);
    const headerLen = artifact.readUInt16BE(0);
    // offsets: 0-1 headerLen, 2-5 magic, 6 version, 7 alg, 8 chunkLog2, 9 encoding, 10-41 salt, 42-57 dekId,
    // 58 kind, 59-60 lp len, 61-63 "t-1", 64-65 lp len, 66-68 "b-1", 69-76 createdAtMs, 77.. MAC
    const expected = (offset: number, bit: number): string[] => {
      if (offset < 2) return ["artifact_header_too_long", "artifact_header_malformed", "artifact_truncated", "artifact_header_mac_mismatch"];
      if (offset < 6) return [CryptoErrorCode.BadMagic];
      if (offset < 8) return [CryptoErrorCode.Unsupported];
      if (offset === 8) return [bit === 7 ? CryptoErrorCode.ChunkSizeInvalid : CryptoErrorCode.HeaderMacMismatch];
      if (offset === 9) return [bit === 7 ? CryptoErrorCode.Unsupported : CryptoErrorCode.HeaderMacMismatch];
      if (offset === 58) return [CryptoErrorCode.HeaderMalformed];
      if (offset === 59 || offset === 60 || offset === 64 || offset === 65) return [CryptoErrorCode.HeaderMalformed];
      // a high bit set in an ASCII id is invalid UTF-8
      if ((offset >= 61 && offset <= 63) || (offset >= 66 && offset <= 68))
        return [bit === 7 ? CryptoErrorCode.HeaderMalformed : CryptoErrorCode.HeaderMacMismatch];
      // createdAtMs above 2^53 does not parse
      if (offset === 69 || (offset === 70 && bit === 7)) return [CryptoErrorCode.HeaderMalformed];
      return [CryptoErrorCode.HeaderMacMismatch];
    };
    expect(headerLen).toBe(77 - 2 + 32);
    for (let offset = 0; offset < end; offset++) {
      for (const bit of [0, 7]) {
        const { out, error } = await decryptAll(flipBit(artifact, offset, bit));
        expect(expected(offset, bit), `offset ${offset} bit ${bit}`).toContain((error as { code?: string }).code);
        expect(out.length, `offset ${offset}`).toBe(0);
      }
    }
  });

  it("in the MAC, a body chunk and a tag", async () => {
    const artifact = await encrypt(plaintext(3 * C + 10));
    await expectCode(flipBit(artifact, headerEnd(artifact) - 1), CryptoErrorCode.HeaderMacMismatch);
    const body = await expectCode(flipBit(artifact, chunkAt(artifact, 1) + 100), CryptoErrorCode.ChunkAuthFailed);
    expect(body.length).toBe(C);
    const tag = await expectCode(flipBit(artifact, chunkAt(artifact, 2) - 1, 3), CryptoErrorCode.ChunkAuthFailed);
    expect(tag.length).toBe(C);
    await expectCode(flipBit(artifact, artifact.length - 1), CryptoErrorCode.ChunkAuthFailed);
    await expectCode(flipBit(artifact, artifact.length - 20), CryptoErrorCode.ChunkAuthFailed);
  });
});

describe("what the caller expects", () => {
  it("refuses another tenant, backup or kind, before any plaintext", async () => {
    const artifact = await encrypt(plaintext(2 * C));
    const cases = [
      [{ ...IDENTITY, tenantId: "tenant-b" }, CryptoErrorCode.WrongTenant],
      [{ ...IDENTITY, backupId: "bkp_two" }, CryptoErrorCode.WrongBackup],
      [{ ...IDENTITY, kind: "customer" }, CryptoErrorCode.WrongKind],
      [{ kind: "platform", tenantId: "", backupId: IDENTITY.backupId }, CryptoErrorCode.WrongKind],
    ] as const;
    for (const [expect_, code] of cases) {
      const out = await expectCode(artifact, code, { expect: expect_ });
      expect(out.length).toBe(0);
    }
  });

  it("names a sidecar for another data key, and a wrong key as a MAC failure", async () => {
    const artifact = await encrypt(plaintext(100));
    await expectCode(artifact, CryptoErrorCode.WrongKey, { dekId: Buffer.alloc(16, 1) });
    expect((await decrypt(artifact, { dekId: Buffer.alloc(16, 9) })).length).toBe(100);
    await expectCode(artifact, CryptoErrorCode.HeaderMacMismatch, { dek: Buffer.alloc(32, 8) });
  });

  it("rejects invalid identities and keys up front", () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return isCryptoError(err) ? err.code : String(err);
      }
      return "no error";
    };
    expect(codeOf(() => createEncryptStream(encOptions({ kind: "platform" })))).toBe(CryptoErrorCode.InvalidArgument);
    expect(codeOf(() => createEncryptStream(encOptions({ tenantId: "" })))).toBe(CryptoErrorCode.InvalidArgument);
    expect(codeOf(() => createEncryptStream(encOptions({ dek: Buffer.alloc(16) })))).toBe(CryptoErrorCode.InvalidArgument);
    expect(codeOf(() => createEncryptStream(encOptions({ backupId: "x".repeat(5000) })))).toBe(CryptoErrorCode.HeaderTooLong);
  });
});

describe("ranges", () => {
  it("chunkLog2 out of range is refused when encrypting", () => {
    for (const chunkLog2 of [0, 11, 25, 255, 20.5]) {
      expect(() => createEncryptStream(encOptions({ chunkLog2 }))).toThrowError(expect.objectContaining({ code: CryptoErrorCode.ChunkSizeInvalid }));
    }
    for (const chunkLog2 of [12, 24]) expect(createEncryptStream(encOptions({ chunkLog2 })).header.chunkLog2).toBe(chunkLog2);
  });

  it("chunkLog2 out of range is refused from the first 10 bytes, before anything is allocated", async () => {
    const artifact = await encrypt(plaintext(10));
    for (const value of [0, 11, 25, 255]) {
      const bad = Buffer.from(artifact);
      bad[8] = value;
      await expectCode(bad, CryptoErrorCode.ChunkSizeInvalid);
      await expectCode(bad.subarray(0, 10), CryptoErrorCode.ChunkSizeInvalid);
    }
  });

  it("a header longer than 4096 bytes is refused", async () => {
    const artifact = Buffer.from(await encrypt(plaintext(10)));
    artifact.writeUInt16BE(5000, 0);
    await expectCode(artifact, CryptoErrorCode.HeaderTooLong);
    await expectCode(artifact.subarray(0, 10), CryptoErrorCode.HeaderTooLong);
  });

  it("the chunk counter may not reach 2^32 - 1", async () => {
    const base = encOptions();
    const encryptFrom = async (first: number, n: number) => {
      const { collect } = await import("./stream-util");
      return collect(new EncryptStream({ ...base, firstChunkIndex: first }), plaintext(n));
    };
    // chunks MAX-1 (full) and MAX (final): fine, and decrypts with the same starting index
    const ok = await encryptFrom(MAX_CHUNK_INDEX - 1, C + 5);
    expect(ok.error).toBeUndefined();
    const { collect } = await import("./stream-util");
    const back = await collect(new DecryptStream({ dek: base.dek, expect: IDENTITY, firstChunkIndex: MAX_CHUNK_INDEX - 1 }), ok.out);
    expect(back.error).toBeUndefined();
    expect(back.out.length).toBe(C + 5);
    // one more chunk would be index 2^32 - 1
    const over = await encryptFrom(MAX_CHUNK_INDEX - 1, 2 * C);
    expect(over.error).toMatchObject({ code: CryptoErrorCode.CounterOverflow });
    const overDecrypt = await collect(new DecryptStream({ dek: base.dek, expect: IDENTITY, firstChunkIndex: MAX_CHUNK_INDEX + 1 }), ok.out);
    expect(overDecrypt.error).toMatchObject({ code: CryptoErrorCode.CounterOverflow });
  });
});

describe("readHeader", () => {
  it("reads every field from a buffer or a stream, without keys", async () => {
    const artifact = await encrypt(plaintext(3 * C), { ...FIXED, contentEncoding: "gzip" });
    const fromBuffer = await readHeader(artifact);
    const fromStream = await readHeader(Readable.from(split(artifact, [5, 3, 100])));
    for (const h of [fromBuffer, fromStream]) {
      expect(h).toMatchObject({
        formatVersion: 1,
        alg: 1,
        chunkLog2: 12,
        contentEncoding: "gzip",
        kind: "tenant",
        tenantId: IDENTITY.tenantId,
        backupId: IDENTITY.backupId,
        createdAtMs: FIXED.createdAtMs,
      });
      expect(h.streamSalt.equals(FIXED.streamSalt)).toBe(true);
      expect(h.dekId.equals(Buffer.alloc(16, 9))).toBe(true);
    }
  });

  it("names a file that is not an artifact", async () => {
    await expect(readHeader(Buffer.from("\x1f\x8b\x08\x00 gzip, not bkp1"))).rejects.toMatchObject({ code: CryptoErrorCode.BadMagic });
    await expect(readHeader(Readable.from([Buffer.from("\x00\x6bBKP", "latin1")]))).rejects.toMatchObject({ code: CryptoErrorCode.Truncated });
  });
});
