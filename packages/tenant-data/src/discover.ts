/**
 * Discovery: which tables hold a tenant's rows, found from the catalog alone.
 *
 *  [1] root     the root table (default `tenants`); a tenant's row is `<rootKey> = <tenant id>`.
 *  [2] tenant   every table with the tenant column (default `tenant_id`).
 *  [3] owned    every other table with a foreign key to a root/tenant/owned table, at any depth:
 *               breadth first from the tenant tables, first along NOT NULL foreign keys only, then
 *               along nullable ones, so each owned table gets the shortest chain that covers all
 *               its rows when there is one; its rows are selected through joins along that chain.
 *  [4] global   the rest: never exported; named in `dependencies` when an exported table references one.
 *  Partitions are never tables of their own: the partitioned parent covers them. Generated columns are
 *  left out of every column list. include/exclude narrow the exported set (never the ownership chains).
 *
 * Load order is a topological order of the foreign keys between exported tables (parents first):
 *  - a foreign key from a table to itself needs nothing: non-deferrable checks run at the end of the
 *    COPY statement, when all of the table's rows are in;
 *  - a cycle through DEFERRABLE constraints is broken at a deferrable edge: the load transaction runs
 *    `SET CONSTRAINTS ALL DEFERRED`, so those are checked at COMMIT (listed in `deferredConstraints`);
 *  - a cycle of NOT DEFERRABLE constraints across tables cannot be loaded with one COPY per table:
 *    discovery refuses it (`plan_cycle`, naming the tables). Make one of its constraints DEFERRABLE.
 */
import { createHash } from "node:crypto";
import type pg from "pg";
import { type PgCatalog, type CatalogTable, readPgCatalog } from "./pg-catalog";
import { tenantDataError } from "./errors";
import type { DeferredConstraint, ExternalReference, JoinHop, PlanTable, TableScope, TenantFilter, TenantPlan, UnindexedForeignKey } from "./tenant-plan";

export interface DiscoverOptions {
  /** The column marking a tenant's rows. Default `tenant_id`. */
  tenantColumn?: string;
  /** The tenants table, `name` or `schema.name`. Default `tenants`. */
  rootTable?: string;
  /** The root table's key column (the tenant id). Default `id`. */
  rootKey?: string;
  /** Schemas to look in, in order of preference for the root table. Default `["public"]`. */
  schemas?: string[];
  /** Schemas never looked in, whatever `schemas` says. Default `["backup", "pg_catalog", "information_schema"]`. */
  excludeSchemas?: string[];
  /** Export only these tables (`name`, `schema.name`, `*` wildcards). Default: every tenant table. */
  include?: string[];
  /** Never export these tables (same patterns). */
  exclude?: string[];
}

export const DEFAULT_EXCLUDED_SCHEMAS = ["backup", "pg_catalog", "information_schema"];

/** Discover the tenant plan of the database `client` is connected to. */
export async function discoverTenantPlan(opts: DiscoverOptions & { client: pg.ClientBase }): Promise<TenantPlan> {
  const schemas = opts.schemas ?? ["public"];
  const excludeSchemas = opts.excludeSchemas ?? DEFAULT_EXCLUDED_SCHEMAS;
  const catalog = await readPgCatalog({ client: opts.client, schemas, excludeSchemas });
  return buildPlan(catalog, { ...opts, schemas, excludeSchemas });
}

function qualified(t: { schema: string; name: string }): string {
  return `${t.schema}.${t.name}`;
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*");
  return new RegExp(`^${escaped}$`);
}

function matches(patterns: string[], t: CatalogTable): boolean {
  return patterns.some((p) => {
    const re = globToRegExp(p);
    return p.includes(".") ? re.test(qualified(t)) : re.test(t.name);
  });
}

function findRoot(catalog: PgCatalog, rootTable: string, schemas: string[]): CatalogTable {
  const dot = rootTable.indexOf(".");
  const candidates =
    dot >= 0
      ? catalog.tables.filter((t) => qualified(t) === rootTable)
      : schemas.flatMap((s) => catalog.tables.filter((t) => t.schema === s && t.name === rootTable));
  const root = candidates[0];
  if (!root) {
    throw tenantDataError({
      code: "plan_root_missing",
      message: `root table ${rootTable} not found in schemas ${schemas.join(", ")}`,
      hint: "Check the database URL, the schemas, and the rootTable setting",
      context: { rootTable, schemas },
    });
  }
  return root;
}

interface Ownership {
  scope: TableScope;
  filter: TenantFilter;
}

/** [1]–[3]: breadth-first from the root and tenant tables along foreign keys, child ← parent. */
function classify(o: { catalog: PgCatalog; root: CatalogTable; rootKey: string; tenantColumn: string }): Map<number, Ownership> {
  const { catalog, root } = o;
  const byOid = new Map(catalog.tables.map((t) => [t.oid, t]));
  const owned = new Map<number, Ownership>();
  const colSql = (t: CatalogTable, name: string) => t.columns.find((c) => c.name === name)?.sql ?? `"${name.replaceAll('"', '""')}"`;
  const rootKey = root.columns.find((c) => c.name === o.rootKey);
  if (!rootKey) {
    throw tenantDataError({
      code: "plan_root_missing",
      message: `root table ${qualified(root)} has no column ${o.rootKey}`,
      context: { rootTable: qualified(root), rootKey: o.rootKey },
    });
  }
  owned.set(root.oid, { scope: "root", filter: { kind: "column", column: rootKey.sql } });
  let frontier: CatalogTable[] = [];
  for (const t of catalog.tables) {
    if (t.oid === root.oid) continue;
    const col = t.columns.find((c) => c.name === o.tenantColumn && !c.generated);
    if (col) {
      owned.set(t.oid, { scope: "tenant", filter: { kind: "column", column: col.sql } });
      frontier.push(t);
    }
  }
  frontier.push(root);
  // first along NOT NULL foreign keys only (every row then belongs to a tenant), then along any
  const tenantScoped = [...frontier];
  for (const allowNullable of [false, true]) {
    frontier = allowNullable ? catalog.tables.filter((t) => owned.has(t.oid)) : tenantScoped;
    while (frontier.length > 0) {
      const reached = new Set(frontier.map((t) => t.oid));
      const next = new Map<number, { hop: JoinHop; via: Ownership }>();
      const candidates = catalog.foreignKeys
        .filter((fk) => fk.parent !== null && reached.has(fk.parent) && !owned.has(fk.child))
        .sort((a, b) => a.name.localeCompare(b.name));
      for (const fk of candidates) {
        const child = byOid.get(fk.child)!;
        const parent = byOid.get(fk.parent!)!;
        const nullable = fk.columns.some((c) => !child.columns.find((x) => x.name === c)?.notNull);
        if (nullable && !allowNullable) continue;
        if (next.has(child.oid)) continue;
        const hop: JoinHop = {
          constraint: fk.name,
          parent: qualified(parent),
          parentSql: parent.sql,
          columns: fk.columns.map((c) => colSql(child, c)),
          parentColumns: fk.parentColumns.map((c) => colSql(parent, c)),
          nullable,
        };
        next.set(child.oid, { hop, via: owned.get(parent.oid)! });
      }
      frontier = [];
      for (const [oid, { hop, via }] of next) {
        const hops = via.filter.kind === "column" ? [hop] : [hop, ...via.filter.hops];
        owned.set(oid, { scope: "owned", filter: { kind: "join", hops, column: via.filter.column } });
        frontier.push(byOid.get(oid)!);
      }
    }
  }
  return owned;
}

/**
 * Topological order over `edges` (child → parents). Non-deferrable edges must be honoured; deferrable
 * ones are honoured when possible. Ties go by name so the order is stable.
 */
function loadOrder(o: { names: string[]; hard: Map<string, Set<string>>; soft: Map<string, Set<string>> }): string[] {
  const placed = new Set<string>();
  const order: string[] = [];
  const remaining = new Set(o.names);
  while (remaining.size > 0) {
    const ready = [...remaining].filter((n) => [...(o.hard.get(n) ?? [])].every((p) => placed.has(p))).sort();
    if (ready.length === 0) break; // a non-deferrable cycle: checked by the caller
    const best = ready.find((n) => [...(o.soft.get(n) ?? [])].every((p) => placed.has(p))) ?? ready[0]!;
    order.push(best);
    placed.add(best);
    remaining.delete(best);
  }
  return order;
}

/** Strongly connected components with more than one table (Tarjan), each sorted. */
function cycles(names: string[], edges: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const n of names) if (!idx.has(n)) visit(n);
  return out;
}

/**
 * Does an index make the lookup `WHERE <columns> = …` cheap? Its leading columns (as far as they are
 * among `columns`) must cover all of them, or include one besides the tenant column (which alone
 * selects a whole tenant).
 */
function indexSupports(o: { table: CatalogTable; columns: string[]; tenantColumn: string }): boolean {
  const wanted = new Set(o.columns);
  return o.table.indexes.some((index) => {
    const prefix: string[] = [];
    for (const c of index) {
      if (!wanted.has(c)) break;
      prefix.push(c);
    }
    return prefix.length === wanted.size || prefix.some((c) => c !== o.tenantColumn);
  });
}

/** sha256 over `table\n` and `column type\n` lines, tables in load order. */
export function schemaFingerprint(tables: { name: string; columns: { name: string; type: string }[] }[]): string {
  const hash = createHash("sha256");
  for (const t of tables) {
    hash.update(`${t.name}\n`);
    for (const c of t.columns) hash.update(`  ${c.name} ${c.type}\n`);
  }
  return hash.digest("hex");
}

/** The planning logic over a catalog snapshot (pure: no database). */
export function buildPlan(catalog: PgCatalog, opts: DiscoverOptions & { schemas: string[]; excludeSchemas?: string[] }): TenantPlan {
  const tenantColumn = opts.tenantColumn ?? "tenant_id";
  const rootKeyName = opts.rootKey ?? "id";
  const root = findRoot(catalog, opts.rootTable ?? "tenants", opts.schemas);
  const ownership = classify({ catalog, root, rootKey: rootKeyName, tenantColumn });
  const warnings: string[] = [];

  const scoped = catalog.tables.filter((t) => ownership.has(t.oid));
  const selected = scoped.filter((t) => (!opts.include || matches(opts.include, t)) && !(opts.exclude && matches(opts.exclude, t)));
  const selectedOids = new Set(selected.map((t) => t.oid));
  const excluded = scoped
    .filter((t) => !selectedOids.has(t.oid))
    .map(qualified)
    .sort();
  if (selected.length === 0) {
    throw tenantDataError({ code: "plan_empty", message: "no tenant table left to export", hint: "Check include/exclude", context: { excluded } });
  }
  if (!selectedOids.has(root.oid)) warnings.push(`the root table ${qualified(root)} is excluded: a script cannot be loaded where the tenant row is missing`);

  const { hard, soft, parents, dependencies, deferrable, unindexedForeignKeys, externalReferences } = foreignKeyGraph({
    catalog,
    ownership,
    selectedOids,
    tenantColumn,
    warnings,
  });

  for (const r of externalReferences) {
    warnings.push(
      r.onDelete === "cascade" || r.onDelete === "set null" || r.onDelete === "set default"
        ? `${r.table} is not exported but references ${r.references} (ON DELETE ${r.onDelete.toUpperCase()}): a replace restore changes its rows too`
        : `${r.table} is not exported but references ${r.references}: a replace restore fails while it holds rows pointing at the tenant's`,
    );
  }
  const order = loadOrderOf({ selected, hard, soft });
  const position = new Map(order.map((n, i) => [n, i]));
  const deferredConstraints: DeferredConstraint[] = deferrable.filter((d) => position.get(d.table)! < position.get(d.references)!);

  const byName = new Map(selected.map((t) => [qualified(t), t]));
  const tables = planTables({ order, byName, ownership, parents, warnings });

  const rootKey = root.columns.find((c) => c.name === rootKeyName)!;
  const status = root.columns.find((c) => c.name === "status" && !c.generated);
  const globals = catalog.tables
    .filter((t) => !ownership.has(t.oid))
    .map(qualified)
    .sort();
  return {
    version: 1,
    tenantColumn,
    root: { name: qualified(root), sql: root.sql, key: rootKey.name, keySql: rootKey.sql, keyType: rootKey.type, statusColumn: status ? status.sql : null },
    schemas: opts.schemas,
    tables,
    deleteOrder: [...order].reverse(),
    dependencies: [...dependencies].sort(),
    deferredConstraints,
    unindexedForeignKeys: unindexedForeignKeys.sort((a, b) => a.table.localeCompare(b.table) || a.constraint.localeCompare(b.constraint)),
    externalReferences,
    globals,
    excluded,
    warnings,
    fingerprint: schemaFingerprint(tables),
  };
}

/** The foreign keys among the selected tables: the load order's edges (hard, or soft when deferrable), each table's parents, and what a plan reports about them. */
function foreignKeyGraph({
  catalog,
  ownership,
  selectedOids,
  tenantColumn,
  warnings,
}: {
  catalog: PgCatalog;
  ownership: Map<number, Ownership>;
  selectedOids: Set<number>;
  tenantColumn: string;
  warnings: string[];
}) {
  const byOid = new Map(catalog.tables.map((t) => [t.oid, t]));
  const hard = new Map<string, Set<string>>();
  const soft = new Map<string, Set<string>>();
  const parents = new Map<string, Set<string>>();
  const dependencies = new Set<string>();
  const deferrable: { table: string; constraint: string; references: string }[] = [];
  const unindexedForeignKeys: UnindexedForeignKey[] = [];
  const externalReferences: ExternalReference[] = (catalog.externalReferences ?? [])
    .filter((r) => selectedOids.has(r.parent))
    .map((r) => ({ table: r.child, constraint: r.name, references: qualified(byOid.get(r.parent)!), onDelete: r.onDelete }));
  for (const fk of catalog.foreignKeys) {
    if (fk.parent !== null && selectedOids.has(fk.parent) && !selectedOids.has(fk.child)) {
      externalReferences.push({
        table: qualified(byOid.get(fk.child)!),
        constraint: fk.name,
        references: qualified(byOid.get(fk.parent)!),
        onDelete: fk.onDelete,
      });
    }
    if (!selectedOids.has(fk.child)) continue;
    const child = qualified(byOid.get(fk.child)!);
    if (
      fk.parent !== null &&
      selectedOids.has(fk.parent) &&
      !fk.deferrable &&
      !indexSupports({ table: byOid.get(fk.child)!, columns: fk.columns, tenantColumn })
    ) {
      unindexedForeignKeys.push({ table: child, constraint: fk.name, columns: fk.columns, references: qualified(byOid.get(fk.parent)!) });
    }
    if (fk.parent === null || !selectedOids.has(fk.parent)) {
      dependencies.add(fk.parentName);
      if (fk.parent !== null && ownership.has(fk.parent)) {
        warnings.push(`${child} references ${fk.parentName}, which is excluded: load it first where a script is loaded`);
      }
      continue;
    }
    const parent = qualified(byOid.get(fk.parent)!);
    if (parent === child) continue; // self-reference: checked at the end of the COPY statement
    const edges = fk.deferrable ? soft : hard;
    if (!edges.has(child)) edges.set(child, new Set());
    edges.get(child)!.add(parent);
    if (!parents.has(child)) parents.set(child, new Set());
    parents.get(child)!.add(parent);
    if (fk.deferrable) deferrable.push({ table: child, constraint: fk.name, references: parent });
  }
  return { hard, soft, parents, dependencies, deferrable, unindexedForeignKeys, externalReferences };
}

/** The selected tables in load order (parents first); a cycle of foreign keys that are not deferrable is `plan_cycle`. */
function loadOrderOf({ selected, hard, soft }: { selected: CatalogTable[]; hard: Map<string, Set<string>>; soft: Map<string, Set<string>> }): string[] {
  const names = selected.map(qualified);
  const order = loadOrder({ names, hard, soft });
  if (order.length < names.length) {
    const stuck = cycles(
      names.filter((n) => !order.includes(n)),
      hard,
    );
    const tables = stuck.map((c) => c.join(" → ")).join("; ");
    throw tenantDataError({
      code: "plan_cycle",
      message: `foreign keys that are not deferrable form a cycle between ${tables}`,
      hint: "Make one foreign key of the cycle DEFERRABLE (ALTER TABLE … ALTER CONSTRAINT … DEFERRABLE), then plan again",
      context: { cycles: stuck },
    });
  }
  return order;
}

/** Each table of the plan, in load order, with how its rows are found; warns of rows that belong to no tenant. */
function planTables({
  order,
  byName,
  ownership,
  parents,
  warnings,
}: {
  order: string[];
  byName: Map<string, CatalogTable>;
  ownership: Map<number, Ownership>;
  parents: Map<string, Set<string>>;
  warnings: string[];
}): PlanTable[] {
  return order.map((name) => {
    const t = byName.get(name)!;
    const own = ownership.get(t.oid)!;
    if (own.filter.kind === "join" && own.filter.hops.some((h) => h.nullable)) {
      warnings.push(`${name}: rows whose ${own.filter.hops.map((h) => h.columns.join(", ")).join(" / ")} is NULL belong to no tenant and are not exported`);
    }
    const copied = t.columns.filter((c) => !c.generated);
    return {
      name,
      schema: t.schema,
      table: t.name,
      sql: t.sql,
      scope: own.scope,
      columns: copied.map((c) => ({ name: c.name, sql: c.sql, type: c.type, notNull: c.notNull })),
      generatedColumns: t.columns.filter((c) => c.generated).map((c) => c.name),
      partitioned: t.partitioned,
      partitions: t.partitions,
      filter: own.filter,
      parents: [...(parents.get(name) ?? [])].sort(),
      sequences: t.sequences.filter((s) => copied.some((c) => c.name === s.column)),
    };
  });
}
