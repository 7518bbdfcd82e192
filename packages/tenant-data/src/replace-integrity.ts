/**
 * Referential integrity of a replace restore, checked set-based instead of row by row.
 *
 * A replace restore deletes a tenant's rows and loads them again. With PostgreSQL's foreign-key
 * triggers on, every deleted parent row makes PostgreSQL look for children, and a child table without
 * an index on its key is read in full each time: O(parents × children), hours for a big tenant. So
 * the restore's transaction turns those triggers off for itself alone
 * (`SET LOCAL session_replication_role = replica`, allowed to a non-superuser after
 * `GRANT SET ON PARAMETER session_replication_role TO <role>`, PostgreSQL 15+) and checks instead:
 *
 *  [1] before deleting: for each foreign key pointing INTO a tenant table, one semi-join finding a
 *      row the restore keeps (another tenant's, or a table outside the plan) that references one of
 *      this tenant's rows. Found → refused, naming the constraint and the row's key, nothing changed;
 *  [2] after loading: for each foreign key OF a tenant table, one anti-join finding a row of this
 *      tenant whose key has no parent row; parents outside the plan (global tables) are first locked
 *      `FOR KEY SHARE`, as the triggers would have, so no other session deletes them before COMMIT;
 *      a table owned through a foreign key (no tenant column) must also find, through its chain, as
 *      many rows as were loaded: a loaded row whose chain is broken is invisible to the anti-join.
 *      Found → an error, and the whole transaction rolls back.
 *
 * Other sessions keep their own triggers: what they write is checked as always. With the triggers off
 * the tenant tables' own user triggers do not fire during the restore either (as `pg_restore
 * --disable-triggers`), and ON DELETE actions of keys pointing into the tenant do not run: [1]
 * refuses instead of cascading.
 */
import type pg from "pg";
import { tenantDataError } from "./errors";
import { type PlanTable, type TenantPlan, aggregateSql, tenantSelection } from "./tenant-plan";

/** A foreign key touching the plan's tables, read from the catalog inside the restore's transaction. */
export interface PlanForeignKey {
  constraint: string;
  /** `schema.table` of the referencing table, unquoted. */
  table: string;
  tableSql: string;
  parent: string;
  parentSql: string;
  /** SQL names, in the constraint's order. */
  columns: string[];
  parentColumns: string[];
}

/** Every foreign key (not the per-partition clones) whose table or referenced table is one of the plan's. */
export async function planForeignKeys(client: pg.ClientBase, plan: TenantPlan): Promise<PlanForeignKey[]> {
  const { rows } = await client.query<PlanForeignKey>(
    `WITH planned AS (SELECT to_regclass(t) AS rel FROM unnest($1::text[]) AS t)
     SELECT c.conname AS constraint,
            cn.nspname || '.' || cr.relname AS table, quote_ident(cn.nspname) || '.' || quote_ident(cr.relname) AS "tableSql",
            pn.nspname || '.' || pr.relname AS parent, quote_ident(pn.nspname) || '.' || quote_ident(pr.relname) AS "parentSql",
            ARRAY(SELECT quote_ident(a.attname) FROM unnest(c.conkey) WITH ORDINALITY AS k(n, i)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) AS columns,
            ARRAY(SELECT quote_ident(a.attname) FROM unnest(c.confkey) WITH ORDINALITY AS k(n, i)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i) AS "parentColumns"
       FROM pg_catalog.pg_constraint c
       JOIN pg_catalog.pg_class cr ON cr.oid = c.conrelid JOIN pg_catalog.pg_namespace cn ON cn.oid = cr.relnamespace
       JOIN pg_catalog.pg_class pr ON pr.oid = c.confrelid JOIN pg_catalog.pg_namespace pn ON pn.oid = pr.relnamespace
      WHERE c.contype = 'f' AND c.conparentid = 0
        AND (c.conrelid IN (SELECT rel FROM planned) OR c.confrelid IN (SELECT rel FROM planned))
      ORDER BY 2, 1`,
    [plan.tables.map((t) => t.sql)],
  );
  return rows;
}

const tuple = (alias: string, columns: string[]) => `(${columns.map((c) => `${alias}.${c}`).join(", ")})`;

/** The tenant's rows of `table` as `FROM … WHERE …` (alias t0), for a subquery. */
function tenantRows(plan: TenantPlan, table: PlanTable, select: string): string {
  const s = tenantSelection({ table, tenant: "$1", rootSql: plan.root.sql });
  return `SELECT ${select} FROM ${s.from} WHERE ${s.tenantCondition}`;
}

/** True when `table`'s rows belong to a tenant through `constraint` itself: a child row then always has its parent's tenant. */
function ownedThrough(table: PlanTable, constraint: string): boolean {
  return table.filter.kind === "join" && table.filter.hops[0]?.constraint === constraint;
}

/**
 * True when the key carries the tenant: the child's tenant column references the parent's (a
 * composite `(tenant_id, x)` key, or `tenant_id → tenants(id)`). Such a row can only reference its own
 * tenant's rows, so there is nothing to look for, and looking would read every other tenant's rows.
 */
function carriesTenant(fk: PlanForeignKey, child: PlanTable, parent: PlanTable): boolean {
  if (child.filter.kind !== "column" || parent.filter.kind !== "column") return false;
  const at = fk.columns.indexOf(child.filter.column);
  return at >= 0 && fk.parentColumns[at] === parent.filter.column;
}

/**
 * [1] Refuses (restore_referenced_elsewhere) when a row the restore keeps references one of the
 * tenant's rows: deleting them with the triggers off would leave it dangling.
 */
export async function checkKeptReferences(o: { client: pg.ClientBase; plan: TenantPlan; keys: PlanForeignKey[]; tenantId: string }): Promise<void> {
  const byName = new Map(o.plan.tables.map((t) => [t.name, t]));
  for (const fk of o.keys) {
    const parent = byName.get(fk.parent);
    if (!parent) continue;
    const child = byName.get(fk.table);
    if (child && (ownedThrough(child, fk.constraint) || carriesTenant(fk, child, parent))) continue;
    // a row of the child is kept when it is not this tenant's (any row of a table outside the plan)
    let kept = "true";
    if (child?.filter.kind === "column") kept = `k.${child.filter.column} IS DISTINCT FROM $1`;
    else if (child) kept = `(k.tableoid, k.ctid) NOT IN (${tenantRows(o.plan, child, "t0.tableoid, t0.ctid")})`;
    const { rows } = await o.client.query<{ key: string }>(
      `SELECT ROW${tuple("k", fk.columns)}::text AS key FROM ${fk.tableSql} k
        WHERE ${tuple("k", fk.columns)} IN (${tenantRows(o.plan, parent, fk.parentColumns.map((c) => `t0.${c}`).join(", "))}) AND ${kept}
        LIMIT 1`,
      [o.tenantId],
    );
    if (rows.length > 0) {
      throw tenantDataError({
        code: "restore_referenced_elsewhere",
        message: `a row the restore keeps references tenant ${o.tenantId}'s rows: ${fk.table} (${fk.columns.join(", ")}) = ${rows[0]!.key}, constraint ${fk.constraint} → ${fk.parent}`,
        hint: "That row belongs to another tenant or a global table; remove the reference first. Nothing was changed",
        context: { tenantId: o.tenantId, constraint: fk.constraint, table: fk.table, references: fk.parent, key: rows[0]!.key },
      });
    }
  }
}

/**
 * [2] After the load: every foreign key of the tenant's rows finds its parent (restore_integrity_violated
 * otherwise, naming the constraint and the row's key). `loaded` gives the rows loaded per table.
 */
export async function checkLoadedReferences(o: {
  client: pg.ClientBase;
  plan: TenantPlan;
  keys: PlanForeignKey[];
  tenantId: string;
  loaded: Map<string, number>;
}): Promise<void> {
  const byName = new Map(o.plan.tables.map((t) => [t.name, t]));
  const violated = (fk: { constraint: string; table: string; parent: string }, key: string) =>
    tenantDataError({
      code: "restore_integrity_violated",
      message: `the restored rows break foreign key ${fk.constraint}: ${fk.table} ${key} has no row in ${fk.parent}`,
      hint: "The restore was rolled back: load the global rows it needs first, or restore a backup taken with the current schema",
      context: { tenantId: o.tenantId, constraint: fk.constraint, table: fk.table, references: fk.parent, key },
    });
  for (const fk of o.keys) {
    const child = byName.get(fk.table);
    if (!child) continue;
    const notNull = fk.columns.map((c) => `t0.${c} IS NOT NULL`).join(" AND ");
    if (!byName.has(fk.parent)) {
      // what the triggers would have done: keep the global parent rows from being deleted under us
      await o.client.query(
        `SELECT 1 FROM ${fk.parentSql} p WHERE ${tuple("p", fk.parentColumns)} IN (${tenantRows(o.plan, child, fk.columns.map((c) => `t0.${c}`).join(", "))} AND ${notNull}) FOR KEY SHARE OF p`,
        [o.tenantId],
      );
    }
    const match = fk.columns.map((c, i) => `p.${fk.parentColumns[i]} = t0.${c}`).join(" AND ");
    const { rows } = await o.client.query<{ key: string }>(
      `${tenantRows(o.plan, child, `ROW${tuple("t0", fk.columns)}::text AS key`)} AND ${notNull}
         AND NOT EXISTS (SELECT 1 FROM ${fk.parentSql} p WHERE ${match}) LIMIT 1`,
      [o.tenantId],
    );
    if (rows.length > 0) throw violated(fk, `(${fk.columns.join(", ")}) = ${rows[0]!.key}`);
  }
  // rows owned through a chain: one whose chain is broken is not found by the anti-joins above
  for (const table of o.plan.tables) {
    if (table.filter.kind !== "join") continue;
    const loaded = o.loaded.get(table.name) ?? 0;
    const { rows } = await o.client.query<{ n: string }>(aggregateSql({ plan: o.plan, table, tenant: "$1", expression: "count(*) AS n" }), [o.tenantId]);
    const found = Number(rows[0]!.n);
    if (found !== loaded) {
      const hop = table.filter.hops[0]!;
      throw violated(
        { constraint: hop.constraint, table: table.name, parent: hop.parent },
        `(${loaded - found} of ${loaded} loaded rows, by ${hop.columns.join(", ")})`,
      );
    }
  }
}

/**
 * Turns the foreign-key triggers off for the rest of the transaction, when the role may. Returns
 * false (the transaction unharmed) when it may not.
 */
export async function disableForeignKeyTriggers(client: pg.ClientBase): Promise<boolean> {
  await client.query("SAVEPOINT hesaab_replication_role");
  try {
    await client.query("SET LOCAL session_replication_role = replica");
    await client.query("RELEASE SAVEPOINT hesaab_replication_role");
    return true;
  } catch (err) {
    if ((err as { code?: string }).code !== "42501") throw err;
    await client.query("ROLLBACK TO SAVEPOINT hesaab_replication_role");
    return false;
  }
}

/** The warning of a replace restore left to row-by-row checks, naming the keys that make it slow. */
export function rowByRowWarning(plan: TenantPlan, rows: Map<string, number>): string {
  const slow = plan.unindexedForeignKeys.map((f) => {
    const children = rows.get(f.table) ?? 0;
    const parents = rows.get(f.references) ?? 0;
    return `${f.table} (${f.columns.join(", ")}) for ${f.constraint} → ${f.references}${rows.size > 0 ? `: ~${parents} × ${children} row reads` : ""}`;
  });
  const why =
    "replace restore checks foreign keys row by row: the database role may not SET session_replication_role " +
    "(GRANT SET ON PARAMETER session_replication_role TO <role>, see docs/operations.md)";
  return slow.length > 0 ? `${why}; each deleted parent row reads the child's rows through the unindexed keys ${slow.join("; ")}` : why;
}
