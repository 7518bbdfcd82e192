import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Secret } from "@hesaab/config";
import { canonicalJson, compareTables, signDrill, signingKeyVersion, verifyDrill, type AttestedFields } from "../src";

const keys = new Map([
  [1, new Secret(randomBytes(32))],
  [2, new Secret(randomBytes(32))],
]);

const fields: AttestedFields = {
  id: "drl_x",
  kind: "tenant",
  backupId: "bkp_x",
  tenantId: "7f1c1f9e-8a53-4c1e-9f0e-0a2b3c4d5e6f",
  outcome: "match",
  providerUsed: "b2",
  startedAt: new Date("2026-03-01T02:00:00Z"),
  finishedAt: new Date("2026-03-01T02:00:03Z"),
  durations: { restoreMs: 1200, totalMs: 3000 },
  tables: { "public.invoices": { expectedRows: 3, rows: 3, expectedChecksum: "00000000000000aa", checksum: "00000000000000aa", match: true } },
  error: null,
  restoredByVersion: "0.0.0",
  restoredByCommit: "abc123",
  keyVersion: 2,
};

describe("drill attestation", () => {
  it("signs under the newest key version and verifies what it signed, whatever the key order", () => {
    expect(signingKeyVersion(keys)).toBe(2);
    const signature = signDrill(keys, fields);
    expect(verifyDrill(keys, { ...fields, signature })).toBe("valid");
    const reordered = Object.fromEntries(Object.entries(fields).reverse()) as unknown as AttestedFields;
    expect(verifyDrill(keys, { ...reordered, signature })).toBe("valid");
  });

  it("reports an edited record as tampered, and a record of a key version not configured as unverifiable", () => {
    const signature = signDrill(keys, fields);
    expect(verifyDrill(keys, { ...fields, outcome: "mismatch", signature })).toBe("tampered");
    expect(verifyDrill(keys, { ...fields, tables: { "public.invoices": { ...fields.tables["public.invoices"], rows: 4 } }, signature })).toBe("tampered");
    expect(verifyDrill(keys, { ...fields, signature: signature.replace(/^./, (c) => (c === "0" ? "1" : "0")) })).toBe("tampered");
    expect(verifyDrill(new Map([[1, keys.get(1)!]]), { ...fields, signature })).toBe("unverifiable");
    expect(verifyDrill(new Map([[2, new Secret(randomBytes(32))]]), { ...fields, signature })).toBe("tampered");
  });

  it("refuses to sign without a key", () => {
    expect(() => signingKeyVersion(new Map())).toThrow(expect.objectContaining({ code: "drill_key_missing" }));
  });

  it("canonical JSON sorts keys at every depth", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}');
  });
});

describe("table comparison", () => {
  const actual = { "public.a": { rows: 2, checksum: "0000000000000001" }, "public.b": { rows: 0, checksum: "0000000000000000" } };
  it("matches equal counts and checksums, a table absent from the record only when the restore has no rows of it", () => {
    const t = compareTables({ expectedRows: { "public.a": 2 }, expectedChecksums: { "public.a": "0000000000000001", "public.b": "0000000000000000" }, actual });
    expect(Object.values(t).every((x) => x.match)).toBe(true);
  });
  it("fails an edited count, an edited checksum and a missing table", () => {
    expect(compareTables({ expectedRows: { "public.a": 3 }, expectedChecksums: undefined, actual })["public.a"]!.match).toBe(false);
    expect(compareTables({ expectedRows: { "public.a": 2 }, expectedChecksums: { "public.a": "0000000000000002" }, actual })["public.a"]!.match).toBe(false);
    expect(compareTables({ expectedRows: { "public.c": 1 }, expectedChecksums: undefined, actual })["public.c"]!.match).toBe(false);
  });
});
