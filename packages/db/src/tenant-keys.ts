// The SQL of tenant key records (`backup.tenant_keys`): one row per tenant per key version, holding
// the random seed from which, with a master key, @hesaab/crypto's TenantKeyStore derives the tenant's
// KEK. This file only stores and reads rows; what a version means (current, retired, shredded) and
// every key derivation stay in crypto, which sees these functions as its `TenantKeyRows` port.
import type pg from "pg";
import { openPool } from "./pool";

export interface TenantKeyRow {
  tenantId: string;
  keyVersion: number;
  masterVersion: number;
  createdAt: Date;
  retiredAt: Date | null;
  /** The seed was deleted (crypto-shredding); the row stays as a tombstone. */
  shredded: boolean;
}

/** A version's seed: the caller wipes it after use. Empty once shredded. */
export interface TenantKeySeed {
  tenantId: string;
  keyVersion: number;
  seed: Buffer;
  masterVersion: number;
  retiredAt: Date | null;
}

interface Row {
  tenant_id: string;
  key_version: number;
  master_version: number;
  created_at: Date;
  retired_at: Date | null;
  shredded: boolean;
}

interface SeedRow {
  tenant_id: string;
  key_version: number;
  seed: Buffer;
  master_version: number;
  retired_at: Date | null;
}

const COLUMNS = "tenant_id, key_version, master_version, created_at, retired_at, octet_length(seed) = 0 as shredded";
const UNIQUE_VIOLATION = "23505";

const info = (r: Row): TenantKeyRow => ({
  tenantId: r.tenant_id,
  keyVersion: r.key_version,
  masterVersion: r.master_version,
  createdAt: r.created_at,
  retiredAt: r.retired_at,
  shredded: r.shredded,
});
const seedOf = (r: SeedRow): TenantKeySeed => ({
  tenantId: r.tenant_id,
  keyVersion: r.key_version,
  seed: r.seed,
  masterVersion: r.master_version,
  retiredAt: r.retired_at,
});

export type TenantKeyRows = ReturnType<typeof tenantKeyRows>;

/** Tenant key rows in `table` (default `backup.tenant_keys`) through `pool`; `close` ends the pool only when `ownsPool`. */
export function tenantKeyRows(pool: pg.Pool, { table = "backup.tenant_keys", ownsPool = false }: { table?: string | undefined; ownsPool?: boolean } = {}) {
  if (!/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/.test(table)) throw new Error(`invalid table name ${table}`);
  return {
    /** Every version of a tenant, oldest first (no seeds). */
    async list(tenantId: string): Promise<TenantKeyRow[]> {
      const { rows } = await pool.query<Row>(`select ${COLUMNS} from ${table} where tenant_id = $1 order by key_version`, [tenantId]);
      return rows.map(info);
    },
    async newest(tenantId: string): Promise<TenantKeyRow | undefined> {
      const { rows } = await pool.query<Row>(`select ${COLUMNS} from ${table} where tenant_id = $1 order by key_version desc limit 1`, [tenantId]);
      return rows[0] ? info(rows[0]) : undefined;
    },
    /** Version 1 for each tenant that has no key yet (race-free: a concurrent creator wins, nothing fails). */
    async createFirst({ seeds, masterVersion }: { seeds: Map<string, Buffer>; masterVersion: number }): Promise<void> {
      await pool.query(
        `insert into ${table} (tenant_id, key_version, seed, master_version)
         select u.tenant_id, 1, u.seed, $3 from unnest($1::text[], $2::bytea[]) as u(tenant_id, seed)
         where not exists (select 1 from ${table} k where k.tenant_id = u.tenant_id)
         on conflict do nothing`,
        [[...seeds.keys()], [...seeds.values()], masterVersion],
      );
    },
    /** The tenant's next version (newest + 1), retried when a concurrent rotation took the number. */
    async createNext({ tenantId, seed, masterVersion }: { tenantId: string; seed: Buffer; masterVersion: number }): Promise<TenantKeyRow> {
      for (let attempt = 0; ; attempt++) {
        try {
          const { rows } = await pool.query<Row>(
            `insert into ${table} (tenant_id, key_version, seed, master_version)
             select $1, coalesce(max(key_version), 0) + 1, $2, $3 from ${table} where tenant_id = $1
             returning ${COLUMNS}`,
            [tenantId, seed, masterVersion],
          );
          return info(rows[0]!);
        } catch (err) {
          if ((err as { code?: string }).code !== UNIQUE_VIOLATION || attempt >= 10) throw err;
        }
      }
    },
    /** Retires a version that is not the tenant's newest; false when there is no such version or it is the newest. Idempotent. */
    async retire({ tenantId, keyVersion }: { tenantId: string; keyVersion: number }): Promise<boolean> {
      const { rowCount } = await pool.query(
        `update ${table} set retired_at = coalesce(retired_at, now())
         where tenant_id = $1 and key_version = $2
           and key_version < (select max(key_version) from ${table} where tenant_id = $1)`,
        [tenantId, keyVersion],
      );
      return Boolean(rowCount);
    },
    /** Deletes every seed of the tenant (rows stay as tombstones); how many versions were shredded now. */
    async shred(tenantId: string): Promise<number> {
      const { rowCount } = await pool.query(
        `update ${table} set seed = ''::bytea, retired_at = coalesce(retired_at, now())
         where tenant_id = $1 and octet_length(seed) > 0`,
        [tenantId],
      );
      return rowCount ?? 0;
    },
    /** Master versions named by a version neither retired nor shredded. */
    async masterVersionsInUse(): Promise<number[]> {
      const { rows } = await pool.query<{ master_version: number }>(
        `select distinct master_version from ${table} where retired_at is null and octet_length(seed) > 0 order by 1`,
      );
      return rows.map((r) => r.master_version);
    },
    /** Tenants whose newest, unshredded version was created under a master version below `masterVersion`. */
    async tenantsBehind(masterVersion: number): Promise<string[]> {
      const { rows } = await pool.query<{ tenant_id: string }>(
        `select tenant_id from ${table} k
         where key_version = (select max(key_version) from ${table} where tenant_id = k.tenant_id)
           and octet_length(seed) > 0 and master_version < $1
         order by 1`,
        [masterVersion],
      );
      return rows.map((r) => r.tenant_id);
    },
    async seed({ tenantId, keyVersion }: { tenantId: string; keyVersion: number }): Promise<TenantKeySeed | undefined> {
      const { rows } = await pool.query<SeedRow>(
        `select tenant_id, key_version, seed, master_version, retired_at from ${table} where tenant_id = $1 and key_version = $2`,
        [tenantId, keyVersion],
      );
      return rows[0] ? seedOf(rows[0]) : undefined;
    },
    /** The newest version's seed of each tenant given (those without keys are absent). */
    async newestSeeds(tenantIds: string[]): Promise<TenantKeySeed[]> {
      const { rows } = await pool.query<SeedRow>(
        `select distinct on (tenant_id) tenant_id, key_version, seed, master_version, retired_at
         from ${table} where tenant_id = any($1::text[]) order by tenant_id, key_version desc`,
        [tenantIds],
      );
      return rows.map(seedOf);
    },
    async close(): Promise<void> {
      if (ownsPool) await pool.end();
    },
  };
}

/** Tenant key rows over a small pool of their own on `url` (`close` ends it). */
export function connectTenantKeyRows(url: string): TenantKeyRows {
  return tenantKeyRows(openPool({ url, max: 2, name: "hesaab-keys" }), { ownsPool: true });
}
