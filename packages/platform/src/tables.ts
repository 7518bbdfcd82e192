/**
 * The sample platform's tables, in load order (every table comes after the tables it references,
 * except the one deliberate cycle customers.default_invoice_id → invoices, which is DEFERRABLE).
 *
 * How a table belongs to a tenant (`scope`):
 *  - `global`: shared lookup data, no tenant column (currencies);
 *  - `root`:   the tenants table itself; a tenant's row is `id = <tenant id>`;
 *  - `tenant`: carries `tenant_id`;
 *  - `owned`:  no tenant column; a row belongs to the tenant of the parent row it references
 *              (`via`), so membership is only reachable through the foreign key: one hop
 *              (attachments → invoices) or two (attachment_thumbnails → attachments → invoices).
 */

/** The column that marks a row as a tenant's. */
export const TENANT_COLUMN = "tenant_id";

/** The table whose `id` is the tenant id. */
export const TENANTS_TABLE = "tenants";

export type PlatformTableScope = "global" | "root" | "tenant" | "owned";

export interface PlatformTable {
  name: string;
  scope: PlatformTableScope;
  /** For `owned` tables: `<name>.<column>` references `<table>.<references>`; that table has `tenant_id` or is owned in turn. */
  via?: { column: string; table: string; references: string };
  /** Partitioned tables: how, and the partitions (never read them separately: the parent covers them). */
  partitioned?: { by: "range" | "hash"; partitions: string[] };
  /** Columns computed by PostgreSQL (GENERATED ALWAYS AS … STORED): never listed in COPY FROM. */
  generatedColumns?: string[];
}

export const PLATFORM_TABLES: readonly PlatformTable[] = [
  { name: "currencies", scope: "global" },
  { name: "tenants", scope: "root" },
  { name: "users", scope: "tenant" },
  { name: "accounts", scope: "tenant" },
  { name: "customers", scope: "tenant" },
  { name: "products", scope: "tenant" },
  { name: "invoices", scope: "tenant" },
  { name: "invoice_lines", scope: "tenant", generatedColumns: ["line_total"] },
  { name: "invoice_line_taxes", scope: "owned", via: { column: "line_id", table: "invoice_lines", references: "id" } },
  { name: "attachments", scope: "owned", via: { column: "invoice_id", table: "invoices", references: "id" } },
  { name: "attachment_thumbnails", scope: "owned", via: { column: "attachment_id", table: "attachments", references: "id" } },
  { name: "payments", scope: "tenant" },
  { name: "journal_entries", scope: "tenant" },
  {
    name: "journal_lines",
    scope: "tenant",
    partitioned: { by: "hash", partitions: ["journal_lines_p0", "journal_lines_p1", "journal_lines_p2", "journal_lines_p3"] },
  },
  {
    name: "audit_events",
    scope: "tenant",
    partitioned: { by: "range", partitions: ["audit_events_2023", "audit_events_2024", "audit_events_2025", "audit_events_default"] },
  },
];

/** Names of every sample table, in load order. */
export const PLATFORM_TABLE_NAMES: readonly string[] = PLATFORM_TABLES.map((t) => t.name);

/** Names of the tables holding a tenant's rows (everything but the global ones), in load order. */
export const TENANT_TABLE_NAMES: readonly string[] = PLATFORM_TABLES.filter((t) => t.scope !== "global").map((t) => t.name);

/** The enum types the schema defines. */
export const PLATFORM_ENUMS = ["tenant_status", "user_role", "account_type", "invoice_status", "payment_method"] as const;

export function platformTable(name: string): PlatformTable | undefined {
  return PLATFORM_TABLES.find((t) => t.name === name);
}
