/**
 * Encoders for PostgreSQL's COPY text format (the default of `COPY … FROM STDIN`): columns are
 * separated by a tab, rows end with a newline, NULL is `\N`, and a backslash, newline, carriage
 * return or tab inside a value is written as `\\`, `\n`, `\r`, `\t`. Everything else passes
 * through as UTF-8.
 */

export const COPY_NULL = "\\N";

const NEEDS_ESCAPE = /[\\\n\r\t]/;
const ESCAPES: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** One text value as a COPY field (null/undefined → `\N`). */
export function copyText(value: string | null | undefined): string {
  if (value === null || value === undefined) return COPY_NULL;
  return NEEDS_ESCAPE.test(value) ? value.replace(/[\\\n\r\t]/g, (c) => ESCAPES[c]!) : value;
}

/** bytea as a COPY field: hex input format `\x…`, whose backslash COPY needs doubled. */
export function copyBytea(value: Buffer | null | undefined): string {
  if (value === null || value === undefined) return COPY_NULL;
  return `\\\\x${value.toString("hex")}`;
}

/** jsonb as a COPY field. */
export function copyJson(value: unknown): string {
  if (value === null || value === undefined) return COPY_NULL;
  return copyText(JSON.stringify(value));
}

const ARRAY_NEEDS_QUOTES = /[{}",\\\s]/;

/** One element of a PostgreSQL array literal (quoted when it must be). */
function arrayElement(value: string | null): string {
  if (value === null) return "NULL";
  if (value === "" || ARRAY_NEEDS_QUOTES.test(value) || value.toUpperCase() === "NULL") {
    return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  }
  return value;
}

/** text[] as a COPY field: an array literal `{a,"b c",NULL}`, then COPY-escaped. */
export function copyTextArray(values: readonly (string | null)[] | null | undefined): string {
  if (values === null || values === undefined) return COPY_NULL;
  return copyText(`{${values.map(arrayElement).join(",")}}`);
}

type IntArray = readonly (number | null | IntArray)[];

/** int[] (possibly multi-dimensional, e.g. `[[1,2],[3,4]]`) as a COPY field. */
export function copyIntArray(values: IntArray | null | undefined): string {
  if (values === null || values === undefined) return COPY_NULL;
  const literal = (v: IntArray): string => `{${v.map((e) => (e === null ? "NULL" : typeof e === "number" ? String(e) : literal(e))).join(",")}}`;
  return literal(values);
}

/** A fixed-point decimal from an integer count of 10^-scale units: (12345, 2) → "123.45". */
export function fixed(units: number | bigint, scale: number): string {
  const negative = units < 0;
  const abs = typeof units === "bigint" ? (negative ? -units : units) : Math.abs(units);
  const digits = abs.toString().padStart(scale + 1, "0");
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/** A timestamptz field from epoch milliseconds (UTC, millisecond precision). */
export function copyTimestamp(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return COPY_NULL;
  return new Date(ms).toISOString();
}

/** A date field (YYYY-MM-DD, UTC) from epoch milliseconds. */
export function copyDate(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return COPY_NULL;
  return new Date(ms).toISOString().slice(0, 10);
}

/** One COPY row: fields already encoded, joined by tabs, ending with a newline. */
export function copyRow(fields: readonly string[]): string {
  return `${fields.join("\t")}\n`;
}
