/**
 * The tenant plan: which tables hold a tenant's rows, how to select them, in which order to load and
 * delete them. Discovered from the PostgreSQL catalog (./discover), plain JSON (it travels to the CLI
 * and into logs), and turned into SQL only here.
 */

/** How a table belongs to a tenant. */
export type TableScope =
  /** the tenants table itself: the tenant's row is `<key> = <tenant id>` */
  | "root"
  /** carries the tenant column */
  | "tenant"
  /** no tenant column: its rows belong to the tenant of the row a foreign-key chain leads to */
  | "owned";

export interface PlanColumn {
  /** The column's name as stored in the catalog. */
  name: string;
  /** The name as SQL (quoted when needed). */
  sql: string;
  /** `format_type` of the column, qualified with its schema for types outside pg_catalog. */
  type: string;
  notNull: boolean;
}

/** One step of an ownership chain: the current table's `columns` reference `parent (parentColumns)`. */
export interface JoinHop {
  constraint: string;
  parent: string;
  parentSql: string;
  /** SQL names, in the order of the constraint. */
  columns: string[];
  parentColumns: string[];
  /** True when one of `columns` may be NULL: such rows belong to no tenant and are never exported. */
  nullable: boolean;
}

/** How to find a tenant's rows in a table. */
export type TenantFilter = { kind: "column"; column: string } | { kind: "join"; hops: JoinHop[]; column: string };

export interface PlanTable {
  /** `schema.table`, unquoted: the name used in manifests, logs and options. */
  name: string;
  schema: string;
  table: string;
  /** The qualified name as SQL. */
  sql: string;
  scope: TableScope;
  /** Columns copied, in table order; generated columns are left out (PostgreSQL computes them). */
  columns: PlanColumn[];
  generatedColumns: string[];
  /** Partitioned table: its rows are read and written through the parent only; these are its partitions. */
  partitioned: boolean;
  partitions: string[];
  filter: TenantFilter;
  /** Exported tables this one references (it is loaded after them unless the constraint is deferrable). */
  parents: string[];
  /** Sequences behind serial and identity columns (SQL names), moved past the restored ids after a load. */
  sequences: { column: string; sequence: string }[];
}

export interface DeferredConstraint {
  table: string;
  constraint: string;
  references: string;
}

/**
 * A foreign key between exported tables whose referencing columns no index starts with. Deleting a
 * tenant's parent rows (replace restore) checks each one against the child table; without such an
 * index each check reads all of the tenant's child rows: O(parents × children). Deferrable
 * constraints are exempt (checked at COMMIT, when the re-loaded parent row satisfies them).
 */
export interface UnindexedForeignKey {
  table: string;
  constraint: string;
  columns: string[];
  references: string;
}

/** A foreign key from a table outside the plan (another schema, or excluded) into a tenant table. */
export interface ExternalReference {
  table: string;
  constraint: string;
  references: string;
  onDelete: string;
}

export interface TenantPlan {
  version: 1;
  tenantColumn: string;
  root: { name: string; sql: string; key: string; keySql: string; keyType: string; statusColumn: string | null };
  schemas: string[];
  /** Exported tables, in load order (parents first). Delete in `deleteOrder`. */
  tables: PlanTable[];
  /** Reverse load order: children first, the root table last. */
  deleteOrder: string[];
  /** Tables outside the export that exported tables reference: they must exist (with the rows) where a script is loaded. */
  dependencies: string[];
  /** Deferrable foreign keys whose child comes before its parent in load order: checked at COMMIT. */
  deferredConstraints: DeferredConstraint[];
  /** Non-deferrable foreign keys without an index on their columns: replace restores of big tenants are slow. */
  unindexedForeignKeys: UnindexedForeignKey[];
  /** Tables outside the plan that reference tenant tables: a replace restore's deletes reach them (or fail on them). */
  externalReferences: ExternalReference[];
  /** Tables holding no tenant rows (no tenant column, not reachable through a foreign key). */
  globals: string[];
  /** Tenant tables left out by include/exclude. */
  excluded: string[];
  warnings: string[];
  /** sha256 over tables, columns and types in load order. */
  fingerprint: string;
}

/** The alias of the table itself in the SQL below; parents of an ownership chain are t1, t2, … */
const SELF = "t0";

interface Selection {
  /** FROM clause for SELECT: the table and JOIN … ON its chain of parents */
  from: string;
  /** the chain's parents, for DELETE … USING */
  using: string[];
  /** the chain's join conditions (for DELETE … USING) */
  joinConditions: string[];
  /** `<alias>.<column> = <tenant>` */
  tenantCondition: string;
  /** `<alias>.<column>`: the tenant key of the row */
  tenantKey: string;
}

/**
 * Where a tenant's rows are, as SQL. `tenant` is an SQL expression (a `$1` parameter or a quoted
 * literal). A chain whose last hop points at the root table's key compares the column directly.
 */
export function tenantSelection(o: { table: PlanTable; tenant: string; rootSql?: string }): Selection {
  const { table, tenant } = o;
  if (table.filter.kind === "column") {
    const tenantKey = `${SELF}.${table.filter.column}`;
    return { from: `${table.sql} ${SELF}`, using: [], joinConditions: [], tenantCondition: `${tenantKey} = ${tenant}`, tenantKey };
  }
  const hops = [...table.filter.hops];
  let column = table.filter.column;
  const last = hops[hops.length - 1];
  if (last && o.rootSql && last.parentSql === o.rootSql && last.columns.length === 1 && last.parentColumns[0] === column) {
    hops.pop();
    column = last.columns[0]!;
  }
  const joins: string[] = [];
  const using: string[] = [];
  const joinConditions: string[] = [];
  hops.forEach((hop, i) => {
    const child = `t${i}`;
    const parent = `t${i + 1}`;
    const on = hop.columns.map((c, k) => `${parent}.${hop.parentColumns[k]} = ${child}.${c}`).join(" AND ");
    joins.push(`JOIN ${hop.parentSql} ${parent} ON ${on}`);
    using.push(`${hop.parentSql} ${parent}`);
    joinConditions.push(on);
  });
  return {
    from: [`${table.sql} ${SELF}`, ...joins].join(" "),
    using,
    joinConditions,
    tenantCondition: `t${hops.length}.${column} = ${tenant}`,
    tenantKey: `t${hops.length}.${column}`,
  };
}

function selection(plan: TenantPlan, table: PlanTable, tenant: string): Selection {
  return tenantSelection({ table, tenant, rootSql: plan.root.sql });
}

/**
 * `SELECT <columns> FROM … WHERE <tenant>`: the query an export COPYs out. `column` turns a column
 * (`ref` is its qualified SQL name) into the output expression, named as the column (CSV headers).
 */
export function selectSql(o: { plan: TenantPlan; table: PlanTable; tenant: string; column?: (c: PlanColumn, ref: string) => string }): string {
  const s = selection(o.plan, o.table, o.tenant);
  const column = o.column;
  const columns = o.table.columns.map((c) => (column ? `${column(c, `${SELF}.${c.sql}`)} AS ${c.sql}` : `${SELF}.${c.sql}`)).join(", ");
  return `SELECT ${columns} FROM ${s.from} WHERE ${s.tenantCondition}`;
}

/**
 * One keyset page of a tenant's rows (bounded exports): `selectSql` restricted to the rows whose `key`
 * (SQL names of the table's primary key, in key order) comes after `after` (SQL literals, already
 * typed; none for the first page), in key order, at most `limit` of them.
 */
export function pageSelectSql(o: {
  plan: TenantPlan;
  table: PlanTable;
  tenant: string;
  key: PlanColumn[];
  after: string[] | undefined;
  limit: number;
}): string {
  const keyRefs = o.key.map((c) => `${SELF}.${c.sql}`);
  const after = o.after ? ` AND (${keyRefs.join(", ")}) > (${o.after.join(", ")})` : "";
  return `${selectSql(o)}${after} ORDER BY ${keyRefs.join(", ")} LIMIT ${Math.max(1, Math.floor(o.limit))}`;
}

/**
 * The rows of many tenants at once, each led by its tenant key as the root table prints it:
 * `SELECT <key>::<root key type>::text, <columns> FROM … WHERE <key> = ANY(<tenants>)`. `tenants`
 * is an untyped array literal (`'{"a","b"}'`), which takes the type of this table's tenant column
 * (it may differ from the root key's: text against uuid). A batch export splits the output by the
 * first field.
 */
export function batchSelectSql(o: { plan: TenantPlan; table: PlanTable; tenants: string }): string {
  const s = selection(o.plan, o.table, "NULL");
  const columns = o.table.columns.map((c) => `${SELF}.${c.sql}`).join(", ");
  return `SELECT (${s.tenantKey})::${o.plan.root.keyType}::text, ${columns} FROM ${s.from} WHERE ${s.tenantKey} = ANY(${o.tenants})`;
}

/** `DELETE FROM … WHERE <tenant>`: removes a tenant's rows from one table. */
export function deleteSql(o: { plan: TenantPlan; table: PlanTable; tenant: string }): string {
  const s = selection(o.plan, o.table, o.tenant);
  const using = s.using.length > 0 ? ` USING ${s.using.join(", ")}` : "";
  return `DELETE FROM ${o.table.sql} ${SELF}${using} WHERE ${[...s.joinConditions, s.tenantCondition].join(" AND ")}`;
}

/** `SELECT <expression> FROM … WHERE <tenant>` (count(*), max(id), …); `$self` in it names the table's alias. */
export function aggregateSql(o: { plan: TenantPlan; table: PlanTable; tenant: string; expression: string }): string {
  const s = selection(o.plan, o.table, o.tenant);
  return `SELECT ${o.expression.replaceAll("$self", SELF)} FROM ${s.from} WHERE ${s.tenantCondition}`;
}

/** `COPY <table> (<columns>) FROM stdin;` as written in scripts. */
export function copyFromStdinLine(table: { sql: string; columns: { sql: string }[] }): string {
  return `COPY ${table.sql} (${table.columns.map((c) => c.sql).join(", ")}) FROM stdin;`;
}

/** How a table's rows are found, in words. */
export function describeFilter(table: PlanTable): string {
  if (table.filter.kind === "column") return `${table.filter.column} = <tenant>`;
  const chain = table.filter.hops.map((h) => `${h.columns.join(", ")} → ${h.parent} (${h.parentColumns.join(", ")})`).join(", ");
  return `via ${chain}; ${table.filter.column} = <tenant>`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

/**
 * The plan for people: one line per table in load order, then what is deferred, what is left out.
 * `rows` (per table name) adds a column, e.g. a tenant's row counts.
 */
export function formatPlan(plan: TenantPlan, rows?: Record<string, number>): string {
  const lines: string[] = [];
  lines.push(
    `tenant plan: ${plan.tables.length} tables, tenant column "${plan.tenantColumn}", root ${plan.root.name} (${plan.root.key}), fingerprint ${plan.fingerprint.slice(0, 16)}`,
  );
  const header = ["#", "table", "scope", ...(rows ? ["rows"] : []), "cols", "tenant rows found by"];
  const body = plan.tables.map((t, i) => {
    const notes: string[] = [describeFilter(t)];
    if (t.partitioned) notes.push(`partitioned (${t.partitions.length} partitions)`);
    if (t.generatedColumns.length > 0) notes.push(`generated: ${t.generatedColumns.join(", ")}`);
    return [String(i + 1), t.name, t.scope, ...(rows ? [String(rows[t.name] ?? 0)] : []), String(t.columns.length), notes.join("; ")];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((r) => r[c]!.length)));
  const render = (cells: string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : pad(cell, widths[c]!)))
      .join("  ")
      .trimEnd();
  lines.push(render(header));
  for (const r of body) lines.push(render(r));
  lines.push(`delete order: ${plan.deleteOrder.join(", ")}`);
  if (plan.deferredConstraints.length > 0) {
    lines.push(`deferred until commit: ${plan.deferredConstraints.map((d) => `${d.table}.${d.constraint} → ${d.references}`).join(", ")}`);
  }
  lines.push(`dependencies (not exported, must exist where a script is loaded): ${plan.dependencies.join(", ") || "none"}`);
  if (plan.globals.length > 0) lines.push(`global tables (no tenant rows): ${plan.globals.join(", ")}`);
  for (const f of plan.unindexedForeignKeys) {
    lines.push(`slow replace: no index on ${f.table} (${f.columns.join(", ")}) for ${f.constraint} → ${f.references}`);
  }
  if (plan.excluded.length > 0) lines.push(`excluded: ${plan.excluded.join(", ")}`);
  for (const w of plan.warnings) lines.push(`warning: ${w}`);
  return lines.join("\n");
}
