import type pg from "pg";
import { PlatformError } from "./errors";
import { type PgTarget, qualify, quoteIdent, withClient } from "./pg";
import { type PlatformTable, PLATFORM_TABLE_NAMES, TENANT_COLUMN, TENANT_TABLE_NAMES, platformTable } from "./tables";

export interface TableChecksum {
  /** Rows counted (a tenant's rows, or the whole table). */
  rows: number;
  /** Order-independent digest of those rows (32 hex characters). */
  md5: string;
}

export type ChecksumOptions = PgTarget & {
  /** PostgreSQL schema of the sample tables. Default `public`. */
  schema?: string;
  /**
   * Only this tenant's rows: `tenants` by id, tenant tables by `tenant_id`, owned tables through the
   * chain of parents they reference (joined up to the first one with `tenant_id`). Global tables (currencies) are left out unless named in `tables`, and
   * then checksummed whole. Without it: every row of every table.
   */
  tenantId?: string;
  /** Tables to checksum. Default: the sample tables (tenant tables only when `tenantId` is set). */
  tables?: string[];
};

/**
 * Per-row digest → per-table digest. Each row is rendered with `to_jsonb(row)::text` (keys sorted
 * by jsonb, so column order does not matter; every column is included, generated ones too), hashed
 * with md5, and the two 64-bit halves of those hashes are summed as numerics (no overflow): a sum
 * is independent of row order and, unlike XOR, counts duplicate rows. The table's digest is the md5
 * of "count:sumHigh:sumLow". Memory stays flat however large the table is.
 */
function checksumSql(from: string): string {
  return `SELECT count(*)::bigint AS rows,
  md5(count(*)::text || ':' ||
      coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0)::text || ':' ||
      coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)::text) AS md5
FROM (SELECT md5(to_jsonb(t)::text) AS h FROM ${from}) q`;
}

/** Settings that change how values are rendered as text: pinned so digests agree across sessions. */
const RENDER_SETTINGS: Record<string, string> = {
  TimeZone: "UTC",
  DateStyle: "ISO, YMD",
  IntervalStyle: "postgres",
  bytea_output: "hex",
  extra_float_digits: "1",
};

async function fromClause(o: {
  client: pg.ClientBase;
  schema: string;
  table: string;
  tenantId: string | undefined;
}): Promise<{ sql: string; params: unknown[] }> {
  const { schema, table, tenantId } = o;
  const name = qualify(schema, table);
  if (tenantId === undefined) return { sql: `${name} t`, params: [] };
  const known = platformTable(table);
  const scope = known ? known.scope : (await hasTenantColumn(o)) ? "tenant" : undefined;
  if (scope === "global") return { sql: `${name} t`, params: [] };
  if (scope === "root") return { sql: `${name} t WHERE t.id = $1`, params: [tenantId] };
  if (scope === "owned" && known) {
    // follow the foreign keys up to the first table with a tenant column (one hop or several)
    const joins: string[] = [];
    let alias = "t";
    let current: PlatformTable | undefined = known;
    while (current?.scope === "owned" && current.via) {
      const { column, table: parent, references } = current.via;
      const next = `p${joins.length}`;
      joins.push(`JOIN ${qualify(schema, parent)} ${next} ON ${next}.${quoteIdent(references)} = ${alias}.${quoteIdent(column)}`);
      alias = next;
      current = platformTable(parent);
    }
    return { sql: `${name} t ${joins.join(" ")} WHERE ${alias}.${TENANT_COLUMN} = $1`, params: [tenantId] };
  }
  if (scope === "tenant") return { sql: `${name} t WHERE t.${TENANT_COLUMN} = $1`, params: [tenantId] };
  throw new PlatformError({
    code: "platform_table_not_tenant_scoped",
    message: `table ${table} has no ${TENANT_COLUMN} column and is not a known sample table`,
    hint: "Checksum it without a tenant id, or name only tenant tables",
    context: { table, schema },
  });
}

async function hasTenantColumn(o: { client: pg.ClientBase; schema: string; table: string }): Promise<boolean> {
  const { rows } = await o.client.query("SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = $3", [
    o.schema,
    o.table,
    TENANT_COLUMN,
  ]);
  return rows.length > 0;
}

async function checksumAll(o: {
  client: pg.ClientBase;
  schema: string;
  tables: string[];
  tenantId: string | undefined;
}): Promise<Record<string, TableChecksum>> {
  const out: Record<string, TableChecksum> = {};
  for (const table of o.tables) {
    const { sql, params } = await fromClause({ client: o.client, schema: o.schema, table, tenantId: o.tenantId });
    const { rows } = await o.client.query<{ rows: string; md5: string }>(checksumSql(sql), params);
    out[table] = { rows: Number(rows[0]!.rows), md5: rows[0]!.md5 };
  }
  return out;
}

/**
 * Order-independent checksums of a tenant's rows (or of whole tables), computed inside PostgreSQL.
 * Two databases holding the same rows give the same result whatever the physical order, the
 * partition layout or the session settings. Partitioned tables are read through their parent only.
 *
 * With `pool` or `url`, every table is read in one REPEATABLE READ snapshot. With `client`, the
 * caller's transaction (if any) is used as is, and the rendering settings are restored afterwards.
 */
export async function tableChecksums(opts: ChecksumOptions): Promise<Record<string, TableChecksum>> {
  const schema = opts.schema ?? "public";
  const tables = opts.tables ?? [...(opts.tenantId === undefined ? PLATFORM_TABLE_NAMES : TENANT_TABLE_NAMES)];
  const job = { schema, tables, tenantId: opts.tenantId };
  if ("client" in opts) {
    const client = opts.client;
    const names = Object.keys(RENDER_SETTINGS);
    const { rows } = await client.query<{ values: string[] }>(
      "SELECT array_agg(current_setting(n) ORDER BY i) AS values FROM unnest($1::text[]) WITH ORDINALITY AS s(n, i)",
      [names],
    );
    const previous = rows[0]!.values;
    const apply = (values: string[]) => client.query("SELECT set_config(n, v, false) FROM unnest($1::text[], $2::text[]) AS s(n, v)", [names, values]);
    await apply(Object.values(RENDER_SETTINGS));
    try {
      return await checksumAll({ client, ...job });
    } finally {
      await apply(previous).catch(() => undefined);
    }
  }
  return withClient(opts, async (client) => {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      for (const [name, value] of Object.entries(RENDER_SETTINGS)) {
        await client.query("SELECT set_config($1, $2, true)", [name, value]);
      }
      const result = await checksumAll({ client, ...job });
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    }
  });
}
