/**
 * A streaming reader of tenant scripts. Outside COPY blocks it reads lines (short: headers,
 * statements, comments); inside a block it hands out the COPY data as slices of the chunks it
 * received, untouched, until the `\.` line. Chunk boundaries may fall anywhere (inside `\.`, inside a
 * COPY header, inside a UTF-8 character): only a few bytes are ever held back.
 *
 * Why `\n\.\n` always ends a block: in COPY text format a backslash inside a value is written `\\`,
 * so no data line can begin with `\.`.
 */
import { tenantDataError } from "./errors";
import { COMMIT_LINE, type CopyHeader, MANIFEST_PREFIX, ROWS_PREFIX, type ScriptManifest, parseCopyLine, parseManifest, parseRowCounts } from "./script";

export type ScriptEvent =
  | { kind: "manifest"; manifest: ScriptManifest }
  | { kind: "copy"; header: CopyHeader; line: number; data: AsyncGenerator<Buffer> }
  | { kind: "commit" }
  | { kind: "rows"; rows: Record<string, number> };

const LF = 0x0a;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
const TERMINATOR = Buffer.from("\n\\.\n");
const MAX_LINE = 16 * 1024 * 1024;
const SET_LINE = /^SET [a-z_]+ = [^;]*;$/;

function truncated(context: Record<string, unknown>) {
  return tenantDataError({
    code: "restore_truncated",
    message: "the script ends before its end (truncated)",
    hint: "The artifact is incomplete: use another copy or another backup",
    context,
  });
}

function bad(message: string, context: Record<string, unknown>) {
  return tenantDataError({ code: "restore_bad_script", message, hint: "The artifact is not a hesaab tenant script, or it was damaged", context });
}

/** How many bytes at the end of `buf` may be the start of a `\.` line (held back until the next chunk). */
function partialTerminator(buf: Buffer, atLineStart: boolean): number {
  const n = buf.length;
  if (n >= 1 && buf[n - 1] === BACKSLASH && (n >= 2 ? buf[n - 2] === LF : atLineStart)) return 1;
  if (n >= 2 && buf[n - 2] === BACKSLASH && buf[n - 1] === DOT && (n >= 3 ? buf[n - 3] === LF : atLineStart)) return 2;
  return 0;
}

export class ScriptReader {
  /** Bytes read from the source so far. */
  bytes = 0;
  private readonly source: AsyncIterator<Buffer | string> | Iterator<Buffer | string>;
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;
  private lineNo = 0;
  private inCopy = false;

  constructor(source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>) {
    this.source = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  }

  private async pull(): Promise<Buffer | null> {
    if (this.ended) return null;
    const { value, done } = await this.source.next();
    if (done) {
      this.ended = true;
      return null;
    }
    const chunk = typeof value === "string" ? Buffer.from(value, "utf8") : value;
    this.bytes += chunk.length;
    return chunk;
  }

  /** The next line without its `\n`, or null at the end of the source (a last line without `\n` is returned). */
  private async readLine(): Promise<string | null> {
    const parts: Buffer[] = [];
    let length = 0;
    for (;;) {
      const nl = this.pending.indexOf(LF);
      if (nl >= 0) {
        parts.push(this.pending.subarray(0, nl));
        this.pending = this.pending.subarray(nl + 1);
        this.lineNo++;
        return Buffer.concat(parts).toString("utf8");
      }
      if (this.pending.length > 0) {
        parts.push(this.pending);
        length += this.pending.length;
        this.pending = Buffer.alloc(0);
        if (length > MAX_LINE) throw bad("a line of the script is too long", { line: this.lineNo + 1 });
      }
      const chunk = await this.pull();
      if (chunk === null) {
        if (length === 0) return null;
        this.lineNo++;
        return Buffer.concat(parts).toString("utf8");
      }
      this.pending = chunk;
    }
  }

  /** The data of the current COPY block, up to (not including) its `\.` line. */
  private async *copyData(header: CopyHeader): AsyncGenerator<Buffer> {
    let atLineStart = true;
    let buf = this.pending;
    this.pending = Buffer.alloc(0);
    for (;;) {
      if (buf.length > 0) {
        let end = -1;
        if (atLineStart && buf.length >= 3 && buf[0] === BACKSLASH && buf[1] === DOT && buf[2] === LF) end = 0;
        else {
          const at = buf.indexOf(TERMINATOR);
          if (at >= 0) end = at + 1;
        }
        if (end >= 0) {
          this.pending = buf.subarray(end + 3);
          this.inCopy = false;
          this.lineNo++; // the `\.` line; data lines are not counted
          if (end > 0) yield buf.subarray(0, end);
          return;
        }
        const hold = partialTerminator(buf, atLineStart);
        const out = hold > 0 ? buf.subarray(0, buf.length - hold) : buf;
        const held = hold > 0 ? buf.subarray(buf.length - hold) : null;
        if (out.length > 0) {
          atLineStart = out[out.length - 1] === LF;
          yield out;
        }
        if (held) {
          // the held bytes start a line: glue them to the next chunk (a copy of one chunk, rarely)
          const next = await this.pull();
          if (next === null) throw truncated({ table: header.table });
          buf = Buffer.concat([held, next]);
          atLineStart = true;
          continue;
        }
      }
      const next = await this.pull();
      if (next === null) throw truncated({ table: header.table });
      buf = next;
    }
  }

  /**
   * The script's events in order. A `copy` event's `data` must be read to its end (or abandoned by
   * ending the whole read) before asking for the next event.
   */
  async *events(): AsyncGenerator<ScriptEvent> {
    let sawManifest = false;
    let first = true;
    for (;;) {
      if (this.inCopy) throw new Error("read the COPY data before the next event");
      const line = await this.readLine();
      if (line === null) return;
      if (first && !line.startsWith("-- ")) throw bad("the script does not start with a hesaab header", { line: 1 });
      first = false;
      if (line.startsWith(MANIFEST_PREFIX)) {
        if (sawManifest) throw bad("the script has two manifests", { line: this.lineNo });
        sawManifest = true;
        yield { kind: "manifest", manifest: parseManifest(line.slice(MANIFEST_PREFIX.length)) };
      } else if (line.startsWith(ROWS_PREFIX)) {
        yield { kind: "rows", rows: parseRowCounts(line.slice(ROWS_PREFIX.length)) };
      } else if (line.startsWith("--") || line === "") {
        continue;
      } else if (line.startsWith("COPY ")) {
        if (!sawManifest) throw bad("a COPY block comes before the manifest", { line: this.lineNo });
        const header = parseCopyLine(line);
        if (!header) throw bad("a COPY line is malformed", { line: this.lineNo });
        this.inCopy = true;
        const data = this.copyData(header);
        yield { kind: "copy", header, line: this.lineNo, data };
        if (this.inCopy) {
          // the consumer did not read the block: skip it so the next event is found
          for await (const _ of data) void _;
        }
      } else if (line === COMMIT_LINE) {
        yield { kind: "commit" };
      } else if (line === "BEGIN;" || line === "SET CONSTRAINTS ALL DEFERRED;" || SET_LINE.test(line)) {
        continue;
      } else {
        throw bad("the script holds a statement a tenant script never holds", { line: this.lineNo, statement: line.slice(0, 80) });
      }
    }
  }
}
