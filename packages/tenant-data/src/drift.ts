/**
 * Schema drift between a script (its manifest) and the database it is loaded into. Columns are
 * mapped by name:
 *  - a column added since the backup is left out of the COPY: it takes its default;
 *  - a column dropped since the backup (or now GENERATED) is refused (`restore_dropped_column`), or
 *    with allowDroppedColumns its field is cut out of every row;
 *  - a column whose type changed must have widened (`compatibleType`), else `restore_type_changed`;
 *  - a table that no longer exists (or no longer holds tenant rows) is refused (`restore_table_missing`).
 */
import { tenantDataError } from "./errors";
import type { PlanTable, TenantPlan } from "./tenant-plan";
import type { ManifestTable, ScriptManifest } from "./script";

export interface TableMapping {
  /** The table as the script names it. */
  name: string;
  target: PlanTable;
  /** SQL names of the columns the COPY writes, in the script's field order. */
  columns: string[];
  /** Per field of the script: keep it? All true on the fast path. */
  keep: boolean[];
  /** True when rows pass through untouched. */
  fastPath: boolean;
  /** Columns of the backup no longer in the table (only with allowDroppedColumns). */
  dropped: string[];
  /** Columns of the table the backup did not have (they take their defaults). */
  added: string[];
}

const INTEGER_RANK: Record<string, number> = { smallint: 1, integer: 2, bigint: 3 };
const INTEGER_DIGITS: Record<string, number> = { smallint: 5, integer: 10, bigint: 19 };

function parseNumeric(type: string): { precision: number; scale: number } | "unbounded" | null {
  if (type === "numeric") return "unbounded";
  const m = /^numeric\((\d+),(\d+)\)$/.exec(type);
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : null;
}

function parseVarchar(type: string): number | "unbounded" | null {
  if (type === "text" || type === "character varying") return "unbounded";
  const m = /^character varying\((\d+)\)$/.exec(type);
  return m ? Number(m[1]) : null;
}

/**
 * Can values of type `from` (as COPY text) be loaded into a column of type `to` without loss?
 * Same type; integer widening (smallint → integer → bigint, or into a numeric wide enough);
 * numeric with no fewer integer digits and no fewer decimals; varchar to a longer varchar or text;
 * real → double precision; json → jsonb; timestamp(p)/time(p) precision up; the same rules per
 * element for arrays.
 */
export function compatibleType(from: string, to: string): boolean {
  if (from === to) return true;
  if (from.endsWith("[]") && to.endsWith("[]")) return compatibleType(from.slice(0, -2), to.slice(0, -2));
  if (from.endsWith("[]") || to.endsWith("[]")) return false;
  const fromInt = INTEGER_RANK[from];
  if (fromInt !== undefined) {
    const toInt = INTEGER_RANK[to];
    if (toInt !== undefined) return toInt >= fromInt;
    const n = parseNumeric(to);
    return n === "unbounded" || (n !== null && n.precision - n.scale >= INTEGER_DIGITS[from]!);
  }
  const fromNum = parseNumeric(from);
  if (fromNum !== null) {
    const toNum = parseNumeric(to);
    if (toNum === "unbounded") return true;
    if (fromNum === "unbounded" || toNum === null) return false;
    return toNum.scale >= fromNum.scale && toNum.precision - toNum.scale >= fromNum.precision - fromNum.scale;
  }
  const fromText = parseVarchar(from);
  if (fromText !== null) {
    const toText = parseVarchar(to);
    if (toText === "unbounded") return true;
    return fromText !== "unbounded" && toText !== null && toText >= fromText;
  }
  if (from === "real" && to === "double precision") return true;
  if (from === "json" && to === "jsonb") return true;
  const precision = /^(timestamp|time)\((\d)\)( with(out)? time zone)$/;
  const pf = precision.exec(from);
  if (pf) {
    if (to === `${pf[1]}${pf[3]}`) return true;
    const pt = precision.exec(to);
    return pt !== null && pt[1] === pf[1] && pt[3] === pf[3] && Number(pt[2]) >= Number(pf[2]);
  }
  return false;
}

function mapTable(o: { entry: ManifestTable; target: PlanTable; allowDroppedColumns: boolean }): TableMapping {
  const { entry, target } = o;
  const current = new Map(target.columns.map((c) => [c.name, c]));
  const generated = new Set(target.generatedColumns);
  const keep: boolean[] = [];
  const columns: string[] = [];
  const dropped: string[] = [];
  entry.columns.forEach((name, i) => {
    const column = current.get(name);
    if (!column) {
      if (!o.allowDroppedColumns) {
        throw tenantDataError({
          code: "restore_dropped_column",
          message: `column ${entry.name}.${name} of the backup ${generated.has(name) ? "is now a generated column" : "no longer exists"}`,
          hint: "Restore with allowDroppedColumns (--allow-dropped-columns) to leave its values out",
          context: { table: entry.name, column: name },
        });
      }
      keep.push(false);
      dropped.push(name);
      return;
    }
    const fromType = entry.types[i]!;
    if (!compatibleType(fromType, column.type)) {
      throw tenantDataError({
        code: "restore_type_changed",
        message: `column ${entry.name}.${name} changed type from ${fromType} to ${column.type}, which cannot hold every old value`,
        hint: "Migrate the backup's data by hand, or restore into a database at the backup's schema version",
        context: { table: entry.name, column: name, from: fromType, to: column.type },
      });
    }
    keep.push(true);
    columns.push(column.sql);
  });
  if (columns.length === 0) {
    throw tenantDataError({
      code: "restore_dropped_column",
      message: `no column of ${entry.name} in the backup exists any more`,
      context: { table: entry.name },
    });
  }
  const inBackup = new Set(entry.columns);
  return {
    name: entry.name,
    target,
    columns,
    keep,
    fastPath: dropped.length === 0,
    dropped,
    added: target.columns.filter((c) => !inBackup.has(c.name)).map((c) => c.name),
  };
}

/** Map every table of the manifest onto the current plan; throws before anything is changed. */
export function mapScript(o: { manifest: ScriptManifest; plan: TenantPlan; allowDroppedColumns?: boolean | undefined }): Map<string, TableMapping> {
  const byName = new Map(o.plan.tables.map((t) => [t.name, t]));
  const out = new Map<string, TableMapping>();
  for (const entry of o.manifest.tables) {
    const target = byName.get(entry.name);
    if (!target) {
      throw tenantDataError({
        code: "restore_table_missing",
        message: `table ${entry.name} of the backup is not a tenant table of this database`,
        hint: "The table was dropped or renamed since the backup, or it is excluded from the plan",
        context: { table: entry.name },
      });
    }
    if (out.has(entry.name))
      throw tenantDataError({ code: "restore_bad_script", message: `the manifest lists ${entry.name} twice`, context: { table: entry.name } });
    out.set(entry.name, mapTable({ entry, target, allowDroppedColumns: o.allowDroppedColumns ?? false }));
  }
  return out;
}

const TAB = 0x09;
const LF = 0x0a;

/**
 * Cut the fields whose `keep` is false out of COPY text lines. In COPY text format a tab inside a
 * value is written `\t`, so every raw tab byte is a field separator. `lines` must end with `\n`.
 */
export function stripFields(lines: Buffer, keep: boolean[]): Buffer {
  const out = Buffer.allocUnsafe(lines.length);
  let o = 0;
  let field = 0;
  let start = 0;
  let firstInLine = true;
  for (let i = 0; i < lines.length; i++) {
    const b = lines[i];
    if (b !== TAB && b !== LF) continue;
    if (field >= keep.length) {
      throw tenantDataError({ code: "restore_bad_script", message: "a row of the script has more fields than its COPY header names" });
    }
    if (keep[field]) {
      if (!firstInLine) out[o++] = TAB;
      lines.copy(out, o, start, i);
      o += i - start;
      firstInLine = false;
    }
    if (b === LF) {
      if (field !== keep.length - 1) {
        throw tenantDataError({ code: "restore_bad_script", message: "a row of the script has fewer fields than its COPY header names" });
      }
      out[o++] = LF;
      field = 0;
      firstInLine = true;
    } else {
      field++;
    }
    start = i + 1;
  }
  return out.subarray(0, o);
}

/** The COPY data of a block with some fields cut out, whole lines at a time. */
export async function* stripColumns(data: AsyncIterable<Buffer>, keep: boolean[]): AsyncGenerator<Buffer> {
  let carry: Buffer | null = null;
  for await (const chunk of data) {
    const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    const last = buf.lastIndexOf(LF);
    if (last < 0) {
      carry = buf;
      continue;
    }
    carry = last + 1 < buf.length ? Buffer.from(buf.subarray(last + 1)) : null;
    yield stripFields(buf.subarray(0, last + 1), keep);
  }
  if (carry && carry.length > 0) {
    throw tenantDataError({ code: "restore_bad_script", message: "the last row of a COPY block has no line end" });
  }
}
