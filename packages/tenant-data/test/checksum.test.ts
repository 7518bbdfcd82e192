import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { RowChecksum, rowChecksumOf } from "../src/checksum";

/** The definition, spelled out with BigInt: sum of the first 8 bytes of SHA-256(row) mod 2^64. */
function reference(rows: string[]): string {
  let sum = 0n;
  for (const row of rows) sum += createHash("sha256").update(row, "utf8").digest().readBigUInt64BE(0);
  return (sum % (1n << 64n)).toString(16).padStart(16, "0");
}

describe("row checksums (hesaab-row-sum-v1)", () => {
  const rows = ["1\tacme\t2026-01-01", "2\tشرکت نمونه\t\\N", "3\tx\\ty\t", "", "2\tشرکت نمونه\t\\N"];
  const text = rows.map((r) => `${r}\n`).join("");

  it("matches the documented definition, carries past 2^64 and counts duplicates", () => {
    expect(rowChecksumOf(text)).toBe(reference(rows));
    const many = Array.from({ length: 5000 }, (_, i) => `row ${i}`);
    expect(rowChecksumOf(many.map((r) => `${r}\n`).join(""))).toBe(reference(many));
    expect(rowChecksumOf(text)).not.toBe(
      rowChecksumOf(
        rows
          .slice(0, 4)
          .map((r) => `${r}\n`)
          .join(""),
      ),
    );
  });

  it("does not depend on row order, and an empty table sums to zero", () => {
    const reversed = [...rows]
      .reverse()
      .map((r) => `${r}\n`)
      .join("");
    expect(rowChecksumOf(reversed)).toBe(rowChecksumOf(text));
    expect(rowChecksumOf("")).toBe("0000000000000000");
  });

  it("gives the same digest whatever the chunk boundaries", () => {
    const bytes = Buffer.from(text, "utf8");
    for (let size = 1; size <= bytes.length; size++) {
      const sum = new RowChecksum();
      for (let at = 0; at < bytes.length; at += size) sum.push(bytes.subarray(at, at + size));
      expect(sum.digest(), `size ${size}`).toBe(reference(rows));
      expect(sum.rows).toBe(rows.length);
    }
  });

  it("changes when one value changes, and refuses text cut mid-row", () => {
    expect(rowChecksumOf(text.replace("acme", "acmf"))).not.toBe(rowChecksumOf(text));
    const cut = new RowChecksum();
    cut.push(Buffer.from("1\ta\n2\tb"));
    expect(() => cut.digest()).toThrow(/middle of a row/);
  });
});
