/**
 * What discovery reads from pg_catalog: tables (not partitions), their columns, the sequences behind
 * their serial/identity columns, and their foreign keys. Plain data, so the planning logic
 * (./discover) can be tested without a database.
 */
import type pg from "pg";

export interface CatalogColumn {
  name: string;
  sql: string;
  type: string;
  notNull: boolean;
  generated: boolean;
}

export interface CatalogTable {
  oid: number;
  schema: string;
  name: string;
  sql: string;
  partitioned: boolean;
  partitions: string[];
  columns: CatalogColumn[];
  sequences: { column: string; sequence: string }[];
  /** Key columns of each index (not partial ones; expressions left out), in index order. */
  indexes: string[][];
}

export interface CatalogForeignKey {
  name: string;
  child: number;
  /** null when the referenced table is outside the schemas read (it can only be a dependency) */
  parent: number | null;
  parentName: string;
  columns: string[];
  parentColumns: string[];
  deferrable: boolean;
  /** ON DELETE: `no action`, `restrict`, `cascade`, `set null`, `set default` */
  onDelete: string;
}

/** A foreign key from a table outside the tables read (another schema) into one of them. */
export interface CatalogExternalReference {
  name: string;
  /** `schema.table` of the referencing table */
  child: string;
  parent: number;
  /** ON DELETE: `no action`, `restrict`, `cascade`, `set null`, `set default` */
  onDelete: string;
}

export interface PgCatalog {
  tables: CatalogTable[];
  foreignKeys: CatalogForeignKey[];
  externalReferences?: CatalogExternalReference[];
}

// The type as text, independent of the session's search_path: types outside pg_catalog are always
// schema-qualified (format_type qualifies only types not visible on the search path).
const TYPE_SQL = `CASE WHEN tn.nspname <> 'pg_catalog' AND pg_catalog.pg_type_is_visible(t.oid)
  THEN pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.format_type(a.atttypid, a.atttypmod)
  ELSE pg_catalog.format_type(a.atttypid, a.atttypmod) END`;

const TABLES_SQL = `
SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name,
       pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS sql,
       c.relkind = 'p' AS partitioned,
       CASE WHEN c.relkind = 'p' THEN ARRAY(
         SELECT pn.nspname || '.' || pc.relname
         FROM pg_catalog.pg_partition_tree(c.oid) pt
         JOIN pg_catalog.pg_class pc ON pc.oid = pt.relid
         JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE pt.level > 0 ORDER BY pt.level, pc.relname) ELSE '{}'::text[] END AS partitions
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname = ANY($1::text[]) AND NOT (n.nspname = ANY($2::text[]))
  AND n.nspname !~ '^pg_(toast|temp_)'
ORDER BY n.nspname, c.relname`;

const COLUMNS_SQL = `
SELECT a.attrelid::int8 AS oid, a.attname AS name, pg_catalog.quote_ident(a.attname) AS sql,
       ${TYPE_SQL} AS type, a.attnotnull AS not_null, a.attgenerated <> '' AS generated
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`;

// Sequences owned by a column (serial: deptype 'a'; identity: 'i') and sequences a column default
// calls nextval() on (the default expression depends on the sequence: deptype 'n').
const SEQUENCES_SQL = `
SELECT d.refobjid::int8 AS oid, a.attname AS column,
       pg_catalog.quote_ident(sn.nspname) || '.' || pg_catalog.quote_ident(s.relname) AS sequence
FROM pg_catalog.pg_depend d
JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
  AND d.deptype IN ('a', 'i') AND d.refobjid = ANY($1::oid[])
UNION
SELECT ad.adrelid::int8, a.attname,
       pg_catalog.quote_ident(sn.nspname) || '.' || pg_catalog.quote_ident(s.relname)
FROM pg_catalog.pg_attrdef ad
JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid
  AND d.refclassid = 'pg_catalog.pg_class'::regclass
JOIN pg_catalog.pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
WHERE ad.adrelid = ANY($1::oid[])
ORDER BY 1, 2, 3`;

// Foreign keys declared on the tables (clones on partitions have conparentid <> 0 and are skipped);
// a reference to a partition is a reference to its partitioned root.
const ON_DELETE_SQL = `CASE con.confdeltype WHEN 'a' THEN 'no action' WHEN 'r' THEN 'restrict' WHEN 'c' THEN 'cascade'
  WHEN 'n' THEN 'set null' ELSE 'set default' END`;

const FOREIGN_KEYS_SQL = `
SELECT con.conname AS name, con.conrelid::int8 AS child,
       COALESCE(pg_catalog.pg_partition_root(con.confrelid), con.confrelid)::int8 AS parent,
       pn.nspname || '.' || pc.relname AS parent_name,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS columns,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS parent_columns,
       con.condeferrable AS deferrable,
       ${ON_DELETE_SQL} AS on_delete
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class pc ON pc.oid = COALESCE(pg_catalog.pg_partition_root(con.confrelid), con.confrelid)
JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
WHERE con.contype = 'f' AND con.conparentid = 0 AND con.conrelid = ANY($1::oid[])
ORDER BY con.conrelid, con.conname`;

// Key columns of the tables' indexes, in order; an expression column (attnum 0) ends the list.
const INDEXES_SQL = `
SELECT i.indrelid::int8 AS oid,
       ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE k.ord <= i.indnkeyatts
               AND k.ord < COALESCE((SELECT min(z.ord) FROM unnest(i.indkey::int2[]) WITH ORDINALITY z(attnum, ord) WHERE z.attnum = 0), 1000)
             ORDER BY k.ord)::text[] AS columns
FROM pg_catalog.pg_index i
WHERE i.indrelid = ANY($1::oid[]) AND i.indpred IS NULL
ORDER BY 1, 2`;

const EXTERNAL_REFERENCES_SQL = `
SELECT con.conname AS name, n.nspname || '.' || c.relname AS child,
       COALESCE(pg_catalog.pg_partition_root(con.confrelid), con.confrelid)::int8 AS parent,
       ${ON_DELETE_SQL} AS on_delete
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE con.contype = 'f' AND con.conparentid = 0
  AND COALESCE(pg_catalog.pg_partition_root(con.confrelid), con.confrelid) = ANY($1::oid[])
  AND COALESCE(pg_catalog.pg_partition_root(con.conrelid), con.conrelid) <> ALL($1::oid[])
ORDER BY 2, 1`;

/** Read tables of `schemas` (minus `excludeSchemas`) with their columns, sequences and foreign keys. */
export async function readPgCatalog(o: { client: pg.ClientBase; schemas: string[]; excludeSchemas: string[] }): Promise<PgCatalog> {
  const { client } = o;
  const tablesResult = await client.query<{ oid: string; schema: string; name: string; sql: string; partitioned: boolean; partitions: string[] }>(TABLES_SQL, [
    o.schemas,
    o.excludeSchemas,
  ]);
  const tables = new Map<number, CatalogTable>();
  for (const r of tablesResult.rows) {
    tables.set(Number(r.oid), {
      oid: Number(r.oid),
      schema: r.schema,
      name: r.name,
      sql: r.sql,
      partitioned: r.partitioned,
      partitions: r.partitions,
      columns: [],
      sequences: [],
      indexes: [],
    });
  }
  const oids = [...tables.keys()];
  if (oids.length === 0) return { tables: [], foreignKeys: [] };
  const columns = await client.query<{ oid: string; name: string; sql: string; type: string; not_null: boolean; generated: boolean }>(COLUMNS_SQL, [oids]);
  for (const r of columns.rows) {
    tables.get(Number(r.oid))?.columns.push({ name: r.name, sql: r.sql, type: r.type, notNull: r.not_null, generated: r.generated });
  }
  const sequences = await client.query<{ oid: string; column: string; sequence: string }>(SEQUENCES_SQL, [oids]);
  for (const r of sequences.rows) {
    tables.get(Number(r.oid))?.sequences.push({ column: r.column, sequence: r.sequence });
  }
  const indexes = await client.query<{ oid: string; columns: string[] }>(INDEXES_SQL, [oids]);
  for (const r of indexes.rows) if (r.columns.length > 0) tables.get(Number(r.oid))?.indexes.push(r.columns);
  const fks = await client.query<{
    name: string;
    child: string;
    parent: string;
    parent_name: string;
    columns: string[];
    parent_columns: string[];
    deferrable: boolean;
    on_delete: string;
  }>(FOREIGN_KEYS_SQL, [oids]);
  const foreignKeys = fks.rows.map((r) => ({
    name: r.name,
    child: Number(r.child),
    parent: tables.has(Number(r.parent)) ? Number(r.parent) : null,
    parentName: r.parent_name,
    columns: r.columns,
    parentColumns: r.parent_columns,
    deferrable: r.deferrable,
    onDelete: r.on_delete,
  }));
  const external = await client.query<{ name: string; child: string; parent: string; on_delete: string }>(EXTERNAL_REFERENCES_SQL, [oids]);
  const externalReferences = external.rows.map((r) => ({ name: r.name, child: r.child, parent: Number(r.parent), onDelete: r.on_delete }));
  return { tables: [...tables.values()], foreignKeys, externalReferences };
}
