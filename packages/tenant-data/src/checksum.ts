/**
 * Per-table row checksums over the COPY text (hesaab-row-sum v1), computed while a tenant is exported
 * and again by a restore drill over the restored rows, so the two can be compared table by table.
 *
 * Definition: a row is one line of `COPY … TO STDOUT` text output (without its newline), produced
 * under the export's pinned settings (PIN_SETTINGS: UTF8, ISO dates, UTC, hex bytea, extra_float_digits 3)
 * and column list. Its hash is the first 8 bytes of SHA-256(row) read as a big-endian unsigned 64-bit
 * integer; the table's checksum is the sum of its rows' hashes modulo 2^64, printed as 16 hex digits.
 * A sum does not depend on row order (a restore may return rows in any order) and, unlike XOR,
 * counts duplicate rows; an empty table sums to `0000000000000000`.
 */
import { hash } from "node:crypto";

export const ROW_CHECKSUM_ALGORITHM = "hesaab-row-sum-v1";
const NEWLINE = 0x0a;
const TWO_32 = 0x1_0000_0000;

/** The running checksum of one table: add whole rows, or push COPY chunks that may cut rows anywhere. */
export class RowChecksum {
  #hi = 0;
  #lo = 0;
  #rows = 0;
  #carry: Buffer | undefined;

  /** The row `buf[start, end)`, WITHOUT its newline. */
  addRow(buf: Buffer, start = 0, end = buf.length): void {
    // one-shot `hash`: a small tenant has hundreds of rows, and a Hash object per row cost about twice as much CPU
    const digest = hash("sha256", buf.subarray(start, end), "buffer");
    // two 32-bit halves, carried by hand: exact modulo 2^64 without a BigInt per row
    this.#lo += digest.readUInt32BE(4);
    this.#hi += digest.readUInt32BE(0);
    if (this.#lo >= TWO_32) {
      this.#lo -= TWO_32;
      this.#hi += 1;
    }
    if (this.#hi >= TWO_32) this.#hi -= TWO_32;
    this.#rows++;
  }

  /** A chunk of COPY text output (rows end with a newline; a chunk may cut one in two). */
  push(chunk: Buffer): void {
    let start = 0;
    if (this.#carry) {
      const nl = chunk.indexOf(NEWLINE);
      if (nl < 0) {
        this.#carry = Buffer.concat([this.#carry, chunk]);
        return;
      }
      const row = Buffer.concat([this.#carry, chunk.subarray(0, nl)]);
      this.#carry = undefined;
      this.addRow(row);
      start = nl + 1;
    }
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl < 0) break;
      this.addRow(chunk, start, nl);
      start = nl + 1;
    }
    if (start < chunk.length) this.#carry = Buffer.from(chunk.subarray(start));
  }

  get rows(): number {
    return this.#rows;
  }

  /** 16 hex digits. Throws when the pushed text ended in the middle of a row. */
  digest(): string {
    if (this.#carry) throw new Error("COPY output ended in the middle of a row");
    return this.#hi.toString(16).padStart(8, "0") + this.#lo.toString(16).padStart(8, "0");
  }
}

/** Checksum of a whole text of rows (tests, tools). */
export function rowChecksumOf(text: string | Buffer): string {
  const sum = new RowChecksum();
  sum.push(typeof text === "string" ? Buffer.from(text, "utf8") : text);
  return sum.digest();
}
