import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { defaultRowChecksumEngine, RowChecksum, rowChecksumEngines, rowChecksumOf, type RowChecksumEngine } from "../src/checksum";

/** CI (and anyone who sets it) must run the native row checksum; elsewhere the JavaScript one alone is a supported setup. */
const requireRowsum = process.env.CI === "true" || process.env.HESAAB_REQUIRE_ROWSUM === "1";

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

  it.skipIf(!requireRowsum && defaultRowChecksumEngine === "js")(
    "has its native engine built (apt-get install gcc libc6-dev, then pnpm --filter @hesaab/tenant-data build:native)",
    () => {
      expect(defaultRowChecksumEngine).toBe("native");
    },
  );

  describe.each(rowChecksumEngines.map((engine) => [engine]))("engine %s", (engine) => {
    /** COPY-like text with the rows that are easy to get wrong: empty, 1 byte, longer than any chunk, non-ASCII and raw bytes. */
    function awkwardRows(): Buffer[] {
      const rows = [Buffer.alloc(0), Buffer.from("x"), Buffer.from("شرکت نمونه\t\\N", "utf8"), Buffer.alloc(0), Buffer.alloc(0)];
      rows.push(Buffer.from(randomBytes(70_000).map((b) => (b === 0x0a ? 0x0b : b)))); // > 64 KiB, every byte value but the newline
      for (let i = 0; i < 300; i++) {
        const row = randomBytes(i % 7 === 0 ? 0 : 1 + (i % 150)).map((b) => (b === 0x0a ? 0xff : b));
        rows.push(Buffer.from(row));
      }
      rows.push(Buffer.from("x"), Buffer.alloc(0));
      return rows;
    }
    const joined = (rows: Buffer[]) => Buffer.concat(rows.flatMap((r) => [r, Buffer.from("\n")]));
    const referenceOf = (rows: Buffer[]) => {
      let sum = 0n;
      for (const row of rows) sum += createHash("sha256").update(row).digest().readBigUInt64BE(0);
      return (sum % (1n << 64n)).toString(16).padStart(16, "0");
    };
    function pushed(bytes: Buffer, cuts: number[], e: RowChecksumEngine): RowChecksum {
      const sum = new RowChecksum({ engine: e });
      let at = 0;
      for (const cut of [...cuts, bytes.length]) {
        sum.push(bytes.subarray(at, cut));
        at = cut;
      }
      return sum;
    }

    it("keeps the known vectors, whatever the chunk size", () => {
      const bytes = Buffer.from(text, "utf8");
      for (let size = 1; size <= bytes.length; size++) {
        const cuts = Array.from({ length: Math.ceil(bytes.length / size) - 1 }, (_, i) => (i + 1) * size);
        const sum = pushed(bytes, cuts, engine);
        expect(sum.digest(), `size ${size}`).toBe(reference(rows));
        expect(sum.rows).toBe(rows.length);
      }
      const many = Array.from({ length: 5000 }, (_, i) => `row ${i}`);
      expect(pushed(Buffer.from(many.map((r) => `${r}\n`).join("")), [], engine).digest()).toBe(reference(many));
    });

    it("sums awkward rows cut at every kind of boundary as the definition says", () => {
      const awkward = awkwardRows();
      const bytes = joined(awkward);
      const newlines = bytes.reduce<number[]>((at, b, i) => (b === 0x0a ? [...at, i] : at), []);
      const long = newlines[5]! - 30_000; // inside the > 64 KiB row
      const cutSets: [string, number[]][] = [
        ["one chunk", []],
        ["right after every newline", newlines.map((nl) => nl + 1).filter((c) => c < bytes.length)],
        ["right before every newline", newlines],
        ["mid-row, chunks with no newline inside the long row", [long - 20_000, long, long + 10_000, long + 25_000]],
        ["every 4096 bytes", Array.from({ length: Math.floor((bytes.length - 1) / 4096) }, (_, i) => (i + 1) * 4096)],
        ["every 7 bytes", Array.from({ length: Math.floor((bytes.length - 1) / 7) }, (_, i) => (i + 1) * 7)],
        ["empty chunks between", [3, 3, 3, 70_010, 70_010]],
      ];
      for (const [what, cuts] of cutSets) {
        const sum = pushed(bytes, cuts, engine);
        expect(sum.digest(), what).toBe(referenceOf(awkward));
        expect(sum.rows, what).toBe(awkward.length);
      }
    });

    it("mixes pushed chunks with single rows, and refuses text cut mid-row", () => {
      const sum = new RowChecksum({ engine });
      sum.push(Buffer.from("1\ta\n2\t"));
      sum.push(Buffer.from("b\n"));
      sum.addRow(Buffer.from("xx3\tcyy"), 2, 5);
      expect(sum.digest()).toBe(reference(["1\ta", "2\tb", "3\tc"]));
      sum.push(Buffer.from("4\td"));
      expect(() => sum.digest()).toThrow(/middle of a row/);
      expect(sum.rows).toBe(3);
    });
  });
});
