/**
 * The global tables a tenant's rows need where they are loaded. A tenant backup holds only tenant
 * rows; a foreign key from a tenant table to a global one (a currency, a country) is satisfied in
 * production, but a copy into another database needs those rows there first. The plan names the
 * tables tenant tables reference (`dependencies`); a global table may reference another one in
 * turn, so the closure is taken, parents first.
 */
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { asError, lease, type PgSource } from "./connection";
import { tenantDataError } from "./errors";
import { PIN_SETTINGS } from "./export";
import type { TenantPlan } from "./tenant-plan";

export interface DependencyTable {
  /** `schema.table`, unquoted. */
  name: string;
  /** The qualified name as SQL. */
  sql: string;
  /** Columns copied (generated ones are left out: PostgreSQL computes them), as SQL. */
  columns: string[];
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** `schema.table` (the plan's unquoted names) as SQL. */
function nameSql(name: string): string {
  const dot = name.indexOf(".");
  return `${quote(name.slice(0, dot))}.${quote(name.slice(dot + 1))}`;
}

/**
 * The plan's dependencies and every global table they reference in turn (never a tenant table of
 * the plan), read from the source database's catalog, parents first (a cycle keeps catalog order).
 */
export async function dependencyTables(o: PgSource & { plan: TenantPlan }): Promise<DependencyTable[]> {
  if (o.plan.dependencies.length === 0) return [];
  const conn = await lease(o);
  try {
    const { rows } = await conn.client.query<{ name: string; sql: string; parents: string[]; columns: string[] }>(
      `WITH RECURSIVE deps(rel) AS (
         SELECT to_regclass(d) FROM unnest($1::text[]) AS d WHERE to_regclass(d) IS NOT NULL
         UNION
         SELECT c.confrelid::regclass FROM pg_catalog.pg_constraint c JOIN deps ON c.conrelid = deps.rel
          WHERE c.contype = 'f' AND c.confrelid <> c.conrelid
            AND c.confrelid <> ALL (SELECT to_regclass(t) FROM unnest($2::text[]) AS t WHERE to_regclass(t) IS NOT NULL)
       )
       SELECT n.nspname || '.' || r.relname AS name,
              quote_ident(n.nspname) || '.' || quote_ident(r.relname) AS sql,
              ARRAY(SELECT DISTINCT pn.nspname || '.' || pr.relname FROM pg_catalog.pg_constraint c
                      JOIN pg_catalog.pg_class pr ON pr.oid = c.confrelid JOIN pg_catalog.pg_namespace pn ON pn.oid = pr.relnamespace
                     WHERE c.conrelid = r.oid AND c.contype = 'f' AND c.confrelid <> c.conrelid) AS parents,
              ARRAY(SELECT quote_ident(a.attname) FROM pg_catalog.pg_attribute a
                     WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum) AS columns
         FROM deps JOIN pg_catalog.pg_class r ON r.oid = deps.rel JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
        ORDER BY 1`,
      [o.plan.dependencies.map(nameSql), o.plan.tables.map((t) => t.sql)],
    );
    conn.release();
    // parents first: a table is placed once every parent in the set is
    const ordered: DependencyTable[] = [];
    const placed = new Set<string>();
    let rest = rows;
    while (rest.length > 0) {
      const ready = rest.filter((r) => r.parents.every((p) => placed.has(p) || !rows.some((x) => x.name === p)));
      const next = ready.length > 0 ? ready : rest.slice(0, 1);
      for (const r of next) {
        ordered.push({ name: r.name, sql: r.sql, columns: r.columns });
        placed.add(r.name);
      }
      rest = rest.filter((r) => !placed.has(r.name));
    }
    return ordered;
  } catch (err) {
    conn.release(asError(err));
    throw err;
  }
}

export interface DependencyCheck {
  /** Tables the target does not have at all. */
  missingTables: string[];
  /** Tables the target has with fewer rows than the source: the tenant's foreign keys may not find theirs. */
  shortTables: { name: string; rows: number; sourceRows: number }[];
}

/** How each dependency table stands in the target next to the source (existence, row counts). Reads only. */
export async function checkDependencies(o: { source: pg.Pool; target: pg.Pool; tables: DependencyTable[] }): Promise<DependencyCheck> {
  const check: DependencyCheck = { missingTables: [], shortTables: [] };
  if (o.tables.length === 0) return check;
  const { rows: present } = await o.target.query<{ name: string }>(
    "SELECT t AS name FROM unnest($1::text[], $2::text[]) AS x(t, s) WHERE to_regclass(s) IS NOT NULL",
    [o.tables.map((t) => t.name), o.tables.map((t) => t.sql)],
  );
  const there = new Set(present.map((r) => r.name));
  const count = async (pool: pg.Pool, tables: DependencyTable[]) =>
    tables.length === 0
      ? []
      : (await pool.query<{ n: string }>(tables.map((t) => `SELECT count(*) AS n FROM ${t.sql}`).join(" UNION ALL "))).rows.map((r) => Number(r.n));
  const existing = o.tables.filter((t) => there.has(t.name));
  check.missingTables = o.tables.filter((t) => !there.has(t.name)).map((t) => t.name);
  const [targetRows, sourceRows] = await Promise.all([count(o.target, existing), count(o.source, existing)]);
  existing.forEach((t, i) => {
    if (targetRows[i]! < sourceRows[i]!) check.shortTables.push({ name: t.name, rows: targetRows[i]!, sourceRows: sourceRows[i]! });
  });
  return check;
}

/**
 * Copies the dependency tables' rows from the source into the target's existing tables, parents
 * first, in one transaction on each side (one snapshot read, all rows or none written). Rows the
 * target has already (by any unique key: a referenced key always has one) are left as they are.
 * Returns the rows inserted per table.
 */
export async function copyDependencies(o: { source: pg.Pool; target: pg.Pool; tables: DependencyTable[] }): Promise<{ table: string; rows: number }[]> {
  if (o.tables.length === 0) return [];
  const source = await o.source.connect();
  const target = await o.target.connect();
  let failure: Error | undefined;
  try {
    await source.query(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ${PIN_SETTINGS}`);
    await target.query(`BEGIN; ${PIN_SETTINGS}`);
    const copied: { table: string; rows: number }[] = [];
    for (const [i, t] of o.tables.entries()) {
      const columns = t.columns.join(", ");
      const staging = `hesaab_dependency_${i}`;
      await target.query(`CREATE TEMP TABLE ${staging} ON COMMIT DROP AS SELECT ${columns} FROM ${t.sql} WITH NO DATA`);
      await pipeline(source.query(copyTo(`COPY (SELECT ${columns} FROM ${t.sql}) TO STDOUT`)), target.query(copyFrom(`COPY ${staging} FROM STDIN`)));
      const inserted = await target.query(`INSERT INTO ${t.sql} (${columns}) OVERRIDING SYSTEM VALUE SELECT ${columns} FROM ${staging} ON CONFLICT DO NOTHING`);
      copied.push({ table: t.name, rows: inserted.rowCount ?? 0 });
    }
    await target.query("COMMIT");
    await source.query("COMMIT");
    return copied;
  } catch (err) {
    failure = asError(err);
    throw tenantDataError({
      code: "restore_dependencies_failed",
      message: `copying the global tables ${o.tables.map((t) => t.name).join(", ")} into the target failed: ${failure.message}`,
      hint: "Nothing of them was written; check that the target's tables have the platform's columns",
      cause: err,
    });
  } finally {
    // a failed connection is destroyed (it may be mid-COPY or mid-transaction), never pooled
    source.release(failure);
    target.release(failure);
  }
}
