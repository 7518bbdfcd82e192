/**
 * The tenant script format (hesaab-tenant-sql v1): a plain SQL script psql can load on its own.
 *
 *   -- HesaabPlus tenant backup (hesaab-tenant-sql v1). Load with: psql -v ON_ERROR_STOP=1 -f <file>
 *   -- manifest: {"format":"hesaab-tenant-sql","version":1,…}
 *   SET client_encoding = 'UTF8';
 *   SET standard_conforming_strings = on;
 *   BEGIN;
 *   SET CONSTRAINTS ALL DEFERRED;
 *   COPY public.tenants (id, name, …) FROM stdin;
 *   <rows in COPY text format>
 *   \.
 *   …
 *   COMMIT;
 *   -- rows: {"public.tenants":1,…}
 */
import { tenantDataError } from "./errors";

export const SCRIPT_FORMAT = "hesaab-tenant-sql";
export const SCRIPT_VERSION = 1;
export const TITLE_LINE = `-- HesaabPlus tenant backup (${SCRIPT_FORMAT} v${SCRIPT_VERSION}). Load with: psql -v ON_ERROR_STOP=1 -f <file>`;
export const MANIFEST_PREFIX = "-- manifest: ";
export const ROWS_PREFIX = "-- rows: ";
export const PREAMBLE_LINES = ["SET client_encoding = 'UTF8';", "SET standard_conforming_strings = on;", "BEGIN;", "SET CONSTRAINTS ALL DEFERRED;"];
export const COMMIT_LINE = "COMMIT;";
export const END_OF_COPY = "\\.";

export interface ManifestTable {
  name: string;
  columns: string[];
  types: string[];
}

export interface ScriptManifest {
  format: typeof SCRIPT_FORMAT;
  version: typeof SCRIPT_VERSION;
  tenantId: string;
  backupId: string;
  createdAt: string;
  schemaFingerprint: string;
  tenantColumn: string;
  tables: ManifestTable[];
  dependencies: string[];
}

/** The script up to (not including) the first COPY block. */
export function scriptHead(manifest: ScriptManifest): string {
  return [TITLE_LINE, `${MANIFEST_PREFIX}${JSON.stringify(manifest)}`, ...PREAMBLE_LINES, ""].join("\n");
}

/** The script after the last COPY block. */
export function scriptTail(rows: Record<string, number>): string {
  return `${COMMIT_LINE}\n${ROWS_PREFIX}${JSON.stringify(rows)}\n`;
}

function badScript(message: string, context: Record<string, unknown> = {}) {
  return tenantDataError({
    code: "restore_bad_script",
    message,
    hint: "The artifact is not a hesaab tenant script, or it was damaged",
    context,
  });
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");

/** Parse and check the `-- manifest:` line's JSON. */
export function parseManifest(json: string): ScriptManifest {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw badScript("the manifest line is not valid json", { cause: String(err) });
  }
  const m = value as Partial<ScriptManifest> | null;
  if (!m || typeof m !== "object") throw badScript("the manifest is not an object");
  if (m.format !== SCRIPT_FORMAT) throw badScript(`unknown script format ${JSON.stringify(m.format)}`);
  if (m.version !== SCRIPT_VERSION) throw badScript(`unsupported script version ${JSON.stringify(m.version)}`, { version: m.version });
  for (const key of ["tenantId", "backupId", "createdAt", "schemaFingerprint", "tenantColumn"] as const) {
    if (typeof m[key] !== "string") throw badScript(`the manifest has no ${key}`);
  }
  if (!Array.isArray(m.tables) || !isStringArray(m.dependencies ?? [])) throw badScript("the manifest has no table list");
  for (const t of m.tables) {
    if (!t || typeof t.name !== "string" || !isStringArray(t.columns) || !isStringArray(t.types) || t.columns.length !== t.types.length) {
      throw badScript("a manifest table entry is malformed");
    }
  }
  return { ...(m as ScriptManifest), dependencies: m.dependencies ?? [] };
}

/** Parse the `-- rows:` trailer's JSON. */
export function parseRowCounts(json: string): Record<string, number> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw badScript("the row count line is not valid json", { cause: String(err) });
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw badScript("the row count line is not an object");
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw badScript("a row count is not a count", { table: k });
    out[k] = v;
  }
  return out;
}

/**
 * Read one SQL identifier at `pos`: `"quoted"` (with `""` escapes) or unquoted (folded to lower
 * case, as PostgreSQL does). Returns the name and the position after it.
 */
function readIdentifier(text: string, pos: number): { name: string; end: number } | null {
  if (text[pos] === '"') {
    let name = "";
    let i = pos + 1;
    while (i < text.length) {
      if (text[i] === '"') {
        if (text[i + 1] === '"') {
          name += '"';
          i += 2;
          continue;
        }
        return name.length > 0 ? { name, end: i + 1 } : null;
      }
      name += text[i];
      i++;
    }
    return null;
  }
  const m = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/.exec(text.slice(pos));
  return m ? { name: m[0].toLowerCase(), end: pos + m[0].length } : null;
}

export interface CopyHeader {
  /** `schema.table` */
  table: string;
  columns: string[];
}

/** Parse `COPY schema.table (a, b, …) FROM stdin;` (the only statement besides SET/BEGIN/COMMIT a script holds). */
export function parseCopyLine(line: string): CopyHeader | null {
  if (!line.startsWith("COPY ")) return null;
  let pos = 5;
  const schema = readIdentifier(line, pos);
  if (!schema || line[schema.end] !== ".") return null;
  const table = readIdentifier(line, schema.end + 1);
  if (!table || line.slice(table.end, table.end + 2) !== " (") return null;
  pos = table.end + 2;
  const columns: string[] = [];
  for (;;) {
    const col = readIdentifier(line, pos);
    if (!col) return null;
    columns.push(col.name);
    pos = col.end;
    if (line.slice(pos, pos + 2) === ", ") {
      pos += 2;
      continue;
    }
    break;
  }
  if (line.slice(pos) !== ") FROM stdin;") return null;
  return { table: `${schema.name}.${table.name}`, columns };
}
