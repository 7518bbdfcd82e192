import { tenantId as tenantIdSchema } from "@hesaab/contracts";
import { lease, type PgSource } from "./connection";
import { inactiveError, INACTIVE, UUID } from "./export";
import { tenantDataError } from "./errors";
import type { TenantPlan } from "./tenant-plan";

/** Why a requested id is not backed up: not an id at all, no row in the root table, or a tenant that is not active. */
export type TenantRefusalCode = "invalid_tenant_id" | "not_a_tenant" | "tenant_not_active";

export interface TenantRefusal {
  tenantId: string;
  code: TenantRefusalCode;
  /** One sentence for people (the admin app shows it next to the id). */
  message: string;
}

export interface TenantScreening {
  /** Tenants of the platform that may be backed up, in the order asked, each once. */
  accepted: string[];
  refused: TenantRefusal[];
}

/** Integer keys: a value that is not a whole number would fail the cast, so it is refused before the query. */
const INTEGER_KEY = /^(smallint|integer|bigint)$/;

/** Whether `id` can be a key of the root table (so comparing it as the key's type cannot fail). */
function wellFormedKey(root: TenantPlan["root"], id: string): boolean {
  return tenantIdSchema.safeParse(id).success && (root.keyType === "uuid" ? UUID.test(id) : INTEGER_KEY.test(root.keyType) ? /^-?\d{1,18}$/.test(id) : true);
}

/**
 * Splits requested ids into tenants of the platform that may be backed up and refused ones, with a
 * sentence each, in one query on the plan's root table (its key and, when it has one, its status
 * column; the same rule as the export's own check, so nothing accepted here is refused later for
 * being unknown or suspended). Ids are compared as the root key's type, so the key's index is used.
 */
export async function screenTenants(o: PgSource & { plan: TenantPlan; tenantIds: string[] }): Promise<TenantScreening> {
  const { root } = o.plan;
  const refused: TenantRefusal[] = [];
  const candidates: string[] = [];
  for (const id of new Set(o.tenantIds)) {
    if (wellFormedKey(root, id)) candidates.push(id);
    else
      refused.push({
        tenantId: String(id).slice(0, 140),
        code: "invalid_tenant_id",
        message: `"${String(id).slice(0, 60)}" is not a tenant id of this platform (${root.name}.${root.key} is ${root.keyType})`,
      });
  }
  const found = new Map<string, string | null>();
  if (candidates.length > 0) {
    const conn = await lease(o);
    try {
      const status = root.statusColumn ? `r.${root.statusColumn}::text` : "NULL::text";
      const { rows } = await conn.client.query<{ id: string; status: string | null }>(
        `SELECT k.id, ${status} AS status FROM unnest($1::text[]) AS k(id) JOIN ${root.sql} r ON r.${root.keySql} = k.id::${root.keyType}`,
        [candidates],
      );
      for (const r of rows) found.set(r.id, r.status);
      conn.release();
    } catch (err) {
      conn.release(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }
  const accepted: string[] = [];
  for (const id of candidates) {
    if (!found.has(id)) {
      refused.push({ tenantId: id, code: "not_a_tenant", message: `${id} is not a tenant of this platform (no row in ${root.name})` });
      continue;
    }
    const inactive = inactiveError({ tenantId: id, status: found.get(id) ?? null, allowInactive: false });
    if (inactive)
      refused.push({ tenantId: id, code: "tenant_not_active", message: `tenant ${id} is ${found.get(id)}: suspended and deleted tenants are not backed up` });
    else accepted.push(id);
  }
  const asked = o.tenantIds.map(String);
  refused.sort((a, b) => asked.indexOf(a.tenantId) - asked.indexOf(b.tenantId));
  return { accepted, refused };
}

/**
 * The platform's tenants, in key order, from the plan's root table (whatever it is called):
 * `active` ones (what a nightly run backs up: not suspended or deleted, the rule of `screenTenants`)
 * or `existing` ones (all but deleted: a suspended tenant may come back, so retention keeps its last
 * good backup). A root table without a status column has only active tenants.
 */
export async function listTenants(o: PgSource & { plan: TenantPlan; which: "active" | "existing" }): Promise<string[]> {
  const { root } = o.plan;
  const excluded = o.which === "active" ? [...INACTIVE] : ["deleted"];
  const where = root.statusColumn ? `WHERE r.${root.statusColumn} IS NULL OR r.${root.statusColumn}::text <> ALL($1::text[])` : "";
  const conn = await lease(o);
  try {
    const { rows } = await conn.client.query<{ id: string }>(
      `SELECT r.${root.keySql}::text AS id FROM ${root.sql} r ${where} ORDER BY r.${root.keySql}`,
      root.statusColumn ? [excluded] : [],
    );
    conn.release();
    return rows.map((r) => r.id);
  } catch (err) {
    conn.release(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
}

/** Columns of a root table that name a tenant for people, the first one present wins (any platform: none is required). */
export const TENANT_NAME_COLUMNS = ["name", "display_name", "company_name", "title", "slug"] as const;

export interface TenantDirectoryEntry {
  id: string;
  /** The first of TENANT_NAME_COLUMNS the root table has, as text; null when it has none. */
  name: string | null;
  /** The root table's status column, as text; null without one (every tenant is then active). */
  status: string | null;
}

export interface TenantDirectoryPage {
  tenants: TenantDirectoryEntry[];
  /** Give it as `cursor` for the next page; null on the last. */
  nextCursor: string | null;
}

/** Figures per tenant to list tenants by, highest first (ids and values in step; tenants missing from `ids` rank last). */
export interface TenantRank {
  ids: string[];
  values: number[];
}

/** A ranked page's cursor, `<value>:<key>` of its last tenant (the value may be `-Infinity`: a tenant without a figure). */
function rankedCursor(cursor: string): { value: number; key: string } | null {
  const at = cursor.indexOf(":");
  const value = Number(cursor.slice(0, at));
  return at > 0 && !Number.isNaN(value) ? { value, key: cursor.slice(at + 1) } : null;
}

/**
 * One page of the platform's tenants from the plan's root table, in key order (keyset paging: the
 * cursor is the last key of the previous page), optionally only those whose id or name contains
 * `search` (case-insensitive) and those with a given `status`. With `rank`, highest figure first
 * (then key order), the cursor being the last tenant's figure and key. The name is read from the row as JSON
 * (`to_jsonb`), so a root table without any name column is listed too.
 */
export async function browseTenants(
  o: PgSource & {
    plan: TenantPlan;
    limit: number;
    cursor?: string | undefined;
    search?: string | undefined;
    status?: string | undefined;
    rank?: TenantRank | undefined;
  },
): Promise<TenantDirectoryPage> {
  const { root } = o.plan;
  const key = `r.${root.keySql}`;
  const name = `coalesce(${TENANT_NAME_COLUMNS.map((c) => `to_jsonb(r) ->> '${c}'`).join(", ")})`;
  const params: unknown[] = [];
  const where: string[] = [];
  let join = "";
  let order = key;
  let rankValue = "NULL::float8";
  if (o.rank) {
    // the figures come from another database (the catalog): joined as arrays, a tenant without one ranks last
    params.push(o.rank.ids, o.rank.values);
    join = `LEFT JOIN unnest($${params.length - 1}::text[], $${params.length}::float8[]) AS s(id, v) ON s.id = ${key}::text`;
    rankValue = "coalesce(s.v, '-Infinity'::float8)";
    order = `${rankValue} DESC, ${key}`;
  }
  if (o.cursor !== undefined) {
    const c = o.rank ? rankedCursor(o.cursor) : { value: undefined, key: o.cursor };
    if (!c || !wellFormedKey(root, c.key))
      throw tenantDataError({
        code: "invalid_tenant_id",
        message: "the cursor is not a tenant id of this platform",
        hint: "Give the nextCursor of the previous page",
      });
    params.push(c.key);
    const after = `${key} > $${params.length}::${root.keyType}`;
    if (c.value === undefined) where.push(after);
    else {
      params.push(c.value);
      where.push(`(${rankValue} < $${params.length}::float8 OR (${rankValue} = $${params.length}::float8 AND ${after}))`);
    }
  }
  if (o.search) {
    params.push(`%${o.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    where.push(`(${key}::text ILIKE $${params.length} OR ${name} ILIKE $${params.length})`);
  }
  if (o.status !== undefined) {
    // without a status column every tenant is active: a filter on another status finds none
    if (!root.statusColumn && o.status !== "active") return { tenants: [], nextCursor: null };
    if (root.statusColumn) {
      params.push(o.status);
      where.push(`r.${root.statusColumn}::text = $${params.length}`);
    }
  }
  params.push(o.limit + 1);
  const status = root.statusColumn ? `r.${root.statusColumn}::text` : "NULL::text";
  const conn = await lease(o);
  try {
    const { rows } = await conn.client.query<TenantDirectoryEntry & { rank: number | null }>(
      `SELECT ${key}::text AS id, ${name} AS name, ${status} AS status, ${rankValue} AS rank FROM ${root.sql} r ${join} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY ${order} LIMIT $${params.length}`,
      params,
    );
    conn.release();
    const page = rows.slice(0, o.limit);
    const last = page[page.length - 1];
    const nextCursor = rows.length > o.limit && last ? (o.rank ? `${Number(last.rank)}:${last.id}` : last.id) : null;
    return { tenants: page.map(({ id, name: n, status: st }) => ({ id, name: n, status: st })), nextCursor };
  } catch (err) {
    conn.release(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
}
