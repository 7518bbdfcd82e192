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
import { loadAddon } from "@hesaab/native";

export const ROW_CHECKSUM_ALGORITHM = "hesaab-row-sum-v1";
const NEWLINE = 0x0a;
const TWO_32 = 0x1_0000_0000;

/** build/rowsum.node (src/rowsum.c): the rows of a whole chunk summed in one call. */
interface Native {
  version: number;
  /** Every complete row of chunk[from…]: their sum's 32-bit halves, how many, and the offset after the last newline. */
  sumRows(chunk: Uint8Array, from: number): [hi: number, lo: number, rows: number, next: number];
}

const native = loadAddon<Native>({
  from: import.meta.url,
  file: "rowsum.node",
  version: 1,
  pkg: "@hesaab/tenant-data",
  code: "HESAAB_ROWSUM_FALLBACK",
  fallback: "the JavaScript row checksum",
});

/** `native`: one addon call per pushed chunk; `js`: one node:crypto call per row. Same digests. */
export type RowChecksumEngine = "native" | "js";
/** The engines this process has, fastest first. */
export const rowChecksumEngines: readonly RowChecksumEngine[] = native ? ["native", "js"] : ["js"];
export const defaultRowChecksumEngine: RowChecksumEngine = native ? "native" : "js";

/** The running checksum of one table: add whole rows, or push COPY chunks that may cut rows anywhere. */
export class RowChecksum {
  #hi = 0;
  #lo = 0;
  #rows = 0;
  #carry: Buffer | undefined;
  readonly #native: Native | undefined;

  /** `engine` (tests, benchmarks) must be one of rowChecksumEngines. */
  constructor({ engine = defaultRowChecksumEngine }: { engine?: RowChecksumEngine } = {}) {
    if (engine === "native" && !native) throw new Error("the native row checksum is not built: pnpm --filter @hesaab/tenant-data build:native");
    this.#native = engine === "native" ? native : undefined;
  }

  /** The row `buf[start, end)`, WITHOUT its newline. */
  addRow(buf: Buffer, start = 0, end = buf.length): void {
    // one-shot `hash`: a small tenant has hundreds of rows, and a Hash object per row cost about twice as much CPU
    const digest = hash("sha256", buf.subarray(start, end), "buffer");
    this.#add(digest.readUInt32BE(0), digest.readUInt32BE(4), 1);
  }

  /** Adds a sum of `rows` rows given as two 32-bit halves. */
  #add(hi: number, lo: number, rows: number): void {
    // carried by hand: exact modulo 2^64 without a BigInt per row
    this.#lo += lo;
    this.#hi += hi;
    if (this.#lo >= TWO_32) {
      this.#lo -= TWO_32;
      this.#hi += 1;
    }
    if (this.#hi >= TWO_32) this.#hi -= TWO_32;
    this.#rows += rows;
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
    start = this.#native ? this.#addRowsNative(this.#native, chunk, start) : this.#addRowsJs(chunk, start);
    if (start < chunk.length) this.#carry = Buffer.from(chunk.subarray(start));
  }

  /** The complete rows of chunk[start…]; returns the offset after the last one. */
  #addRowsJs(chunk: Buffer, start: number): number {
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl < 0) return start;
      this.addRow(chunk, start, nl);
      start = nl + 1;
    }
  }

  #addRowsNative(addon: Native, chunk: Buffer, start: number): number {
    const [hi, lo, rows, next] = addon.sumRows(chunk, start);
    this.#add(hi, lo, rows);
    return next;
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
