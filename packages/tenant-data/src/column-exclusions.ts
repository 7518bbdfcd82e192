/**
 * Columns a customer export leaves out: credentials (password hashes, secrets, tokens, API keys,
 * one-time-password seeds) never leave in the copy a tenant's users download, neither in its CSV
 * files nor in its SQL script. The tenant backup (the encrypted artifact a restore loads) keeps them:
 * a restore must bring the users back able to sign in.
 *
 * A pattern names a column by its name, `table.column` or `schema.table.column`; `*` matches any
 * run of characters; case is ignored (a quoted "ApiKey" is matched by `apikey`).
 */
import { schemaFingerprint } from "./discover";
import type { PlanTable, TenantPlan } from "./tenant-plan";

/**
 * Credential columns by name, in any table: what every customer export leaves out unless told
 * otherwise (`{ defaults: false }`). Generous on purpose: a checksum column named `content_hash`
 * is left out too; a leak of a credential cannot be taken back, a missing checksum can.
 */
export const CREDENTIAL_COLUMN_PATTERNS: readonly string[] = [
  "*password*",
  "*passwd*",
  "*passphrase*",
  "pwd",
  "*_pwd",
  "hash",
  "*_hash",
  "hashed_*",
  "salt",
  "*_salt",
  "*secret*",
  "*token*",
  "*api_key*",
  "*apikey*",
  "*access_key*",
  "*private_key*",
  "otp",
  "otp_*",
  "*_otp",
  "*_otp_*",
  "totp*",
  "hotp*",
  "*credential*",
  "*recovery_code*",
  "pin",
  "pin_code",
];

/** Which columns a customer export leaves out: the built-in credential patterns (unless `defaults` is false) and `patterns`. */
export interface ColumnExclusions {
  defaults: boolean;
  patterns: readonly string[];
}

/** The credential patterns alone: what a customer export leaves out when nothing is configured. */
export const DEFAULT_COLUMN_EXCLUSIONS: ColumnExclusions = { defaults: true, patterns: [] };

export interface ExcludedColumn {
  /** `schema.table` */
  table: string;
  column: string;
  /** The first pattern that matched it. */
  pattern: string;
  /** True when the column is NOT NULL: the customer script cannot load its table as it is. */
  notNull: boolean;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*");
  return new RegExp(`^${escaped}$`, "i");
}

/** `column`, `table.column` or `schema.table.column` against one column of a table. */
function matcher(pattern: string): (table: PlanTable, column: string) => boolean {
  const parts = pattern.split(".").map(globToRegExp);
  const [a, b, c] = parts;
  if (parts.length === 1) return (_t, column) => a!.test(column);
  if (parts.length === 2) return (t, column) => a!.test(t.table) && b!.test(column);
  return (t, column) => a!.test(t.schema) && b!.test(t.table) && c!.test(column);
}

/** The columns of `plan` a customer export leaves out, in load order, each with the pattern that matched. */
export function excludedColumns(plan: Pick<TenantPlan, "tables">, exclusions: ColumnExclusions = DEFAULT_COLUMN_EXCLUSIONS): ExcludedColumn[] {
  const patterns = [...(exclusions.defaults ? CREDENTIAL_COLUMN_PATTERNS : []), ...exclusions.patterns].map((p) => ({ pattern: p, test: matcher(p) }));
  const out: ExcludedColumn[] = [];
  for (const table of plan.tables) {
    for (const column of table.columns) {
      const hit = patterns.find((p) => p.test(table, column.name));
      if (hit) out.push({ table: table.name, column: column.name, pattern: hit.pattern, notNull: column.notNull });
    }
  }
  return out;
}

/**
 * The plan of a customer export: `plan` without `excluded`'s columns (every file of the ZIP follows
 * it). Its fingerprint describes the columns it holds. A table with no column left is left out
 * whole (a COPY needs a column). The tenant column and the keys of ownership chains are read through
 * the table's alias in the WHERE clause, so leaving them out of the output is harmless.
 */
export function withoutColumns(plan: TenantPlan, excluded: readonly Pick<ExcludedColumn, "table" | "column">[]): TenantPlan {
  if (excluded.length === 0) return plan;
  const gone = new Set(excluded.map((e) => `${e.table}\u0000${e.column}`));
  const tables = plan.tables
    .map((t) => ({ ...t, columns: t.columns.filter((c) => !gone.has(`${t.name}\u0000${c.name}`)) }))
    .filter((t) => t.columns.length > 0);
  return { ...plan, tables, fingerprint: schemaFingerprint(tables) };
}

/** What a customer export leaves out, for people: one line per table, then which tables the script cannot load as they are. */
export function formatExcludedColumns(excluded: readonly ExcludedColumn[], exclusions: ColumnExclusions = DEFAULT_COLUMN_EXCLUSIONS): string {
  const source = `${exclusions.defaults ? "the built-in credential patterns" : "no built-in patterns (!defaults)"}${exclusions.patterns.length > 0 ? ` and ${exclusions.patterns.join(", ")}` : ""}`;
  const lines = [`customer export leaves out ${excluded.length} column(s), matched by ${source}:`];
  const byTable = new Map<string, ExcludedColumn[]>();
  for (const e of excluded) byTable.set(e.table, [...(byTable.get(e.table) ?? []), e]);
  const width = Math.max(0, ...[...byTable.keys()].map((t) => t.length));
  for (const [table, columns] of byTable)
    lines.push(`  ${table.padEnd(width)}  ${columns.map((c) => `${c.column} (${c.pattern}${c.notNull ? ", NOT NULL" : ""})`).join(", ")}`);
  if (excluded.length === 0) lines.push("  none");
  const required = excluded.filter((e) => e.notNull);
  if (required.length > 0) {
    lines.push(`the ZIP's backup.sql loads ${[...new Set(required.map((e) => e.table))].join(", ")} only where the NOT NULL columns left out have a default`);
  }
  return lines.join("\n");
}
