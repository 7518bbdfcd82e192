// Tenant key records in the catalog database: one row per tenant per key version, holding the
// random seed from which (with a master key) the tenant's KEK is derived. Raw SQL over the
// `backup.tenant_keys` table:
//   (tenant_id text, key_version integer, seed bytea, master_version integer,
//    created_at timestamptz default now(), retired_at timestamptz, primary key (tenant_id, key_version))
//
// Life of a version: created (by first use or by rotation) → current while it is the newest →
// retired once every sidecar was re-wrapped to a newer version (no longer unwraps) → shredded with
// the whole tenant (seed deleted; the row stays as a tombstone so the error says "shredded").
import { type MasterKeySet, type Secret } from "@hesaab/config";
import { openPool } from "@hesaab/db";
import type pg from "pg";
import { CryptoError, CryptoErrorCode } from "./errors";
import { deriveTenantKek, newSeed } from "./keys";

export interface TenantKeyInfo {
  tenantId: string;
  keyVersion: number;
  masterVersion: number;
  createdAt: Date;
  retiredAt: Date | null;
  /** The seed was deleted by {@link TenantKeyStore.shredTenant}. */
  shredded: boolean;
}

interface SeedRow {
  seed: Buffer;
  master_version: number;
  retired_at: Date | null;
}

interface Row {
  tenant_id: string;
  key_version: number;
  master_version: number;
  created_at: Date;
  retired_at: Date | null;
  shredded: boolean;
}

const COLUMNS = "tenant_id, key_version, master_version, created_at, retired_at, octet_length(seed) = 0 as shredded";
const UNIQUE_VIOLATION = "23505";
/** Pools opened by {@link TenantKeyStore.connect}, which the store itself must end. */
const ownedPools = new WeakSet<pg.Pool>();

function info(row: Row): TenantKeyInfo {
  return {
    tenantId: row.tenant_id,
    keyVersion: row.key_version,
    masterVersion: row.master_version,
    createdAt: row.created_at,
    retiredAt: row.retired_at,
    shredded: row.shredded,
  };
}

function shredded(tenantId: string, keyVersion?: number): CryptoError {
  return new CryptoError({
    code: CryptoErrorCode.KeyShredded,
    message: "this tenant's keys were shredded: its backups can no longer be decrypted",
    hint: "The tenant was erased on purpose; nothing can restore these backups",
    context: { tenantId, keyVersion },
  });
}

/**
 * Tenant key records and tenant KEK derivation. Seeds never leave this class: callers get KEKs.
 * Works on a `pg.Pool` the caller owns (or one opened by {@link TenantKeyStore.connect}).
 */
export class TenantKeyStore {
  readonly #pool: pg.Pool;
  readonly #masterKeys: MasterKeySet;
  readonly #table: string;

  constructor(options: { pool: pg.Pool; masterKeys: MasterKeySet; /** default `backup.tenant_keys` */ table?: string }) {
    const table = options.table ?? "backup.tenant_keys";
    if (!/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/.test(table)) {
      throw new CryptoError({ code: CryptoErrorCode.InvalidArgument, message: `invalid table name ${table}` });
    }
    if (options.masterKeys.size === 0) throw new CryptoError({ code: CryptoErrorCode.InvalidArgument, message: "no master keys" });
    this.#pool = options.pool;
    this.#masterKeys = options.masterKeys;
    this.#table = table;
  }

  /** A store over its own small pool on `url`; call {@link close} when done. */
  static connect({ url, masterKeys }: { url: string; masterKeys: MasterKeySet }): TenantKeyStore {
    const pool = openPool({ url, max: 2, name: "hesaab-keys" });
    ownedPools.add(pool);
    return new TenantKeyStore({ pool, masterKeys });
  }

  /** Ends the pool if this store opened it ({@link connect}); a caller's pool is left alone. */
  async close(): Promise<void> {
    if (ownedPools.delete(this.#pool)) await this.#pool.end();
  }

  /** The master key version new tenant keys are created under: the highest configured. */
  get currentMasterVersion(): number {
    return Math.max(...this.#masterKeys.keys());
  }

  /** Every key version of a tenant, oldest first (no seeds). */
  async listKeys(tenantId: string): Promise<TenantKeyInfo[]> {
    const { rows } = await this.#pool.query<Row>(`select ${COLUMNS} from ${this.#table} where tenant_id = $1 order by key_version`, [tenantId]);
    return rows.map(info);
  }

  /**
   * The version new artifacts of this tenant are sealed with: its newest. A tenant without keys gets
   * version 1 (created race-free). Fails with `key_shredded` for a shredded tenant (until it is rotated).
   */
  async currentKey(tenantId: string): Promise<TenantKeyInfo> {
    let newest = await this.#newest(tenantId);
    if (!newest) {
      await this.#pool.query(
        `insert into ${this.#table} (tenant_id, key_version, seed, master_version) values ($1, 1, $2, $3) on conflict do nothing`,
        [tenantId, newSeed(), this.currentMasterVersion],
      );
      newest = await this.#newest(tenantId);
    }
    if (!newest) throw new Error("tenant key vanished right after it was created");
    if (newest.shredded) throw shredded(tenantId, newest.keyVersion);
    if (newest.retiredAt) {
      throw new CryptoError({
        code: CryptoErrorCode.KeyRetired,
        message: `the newest key version ${newest.keyVersion} of this tenant is retired`,
        hint: "Rotate the tenant key to create a new version",
        context: { tenantId, keyVersion: newest.keyVersion },
      });
    }
    return newest;
  }

  /**
   * Creates the next key version of a tenant (fresh seed, under the highest master key) and makes it
   * current. Existing sidecars keep working until their version is retired: re-wrap them first
   * (`KeyRing.rewrap`). Also re-keys a shredded tenant for new data; its old backups stay unreadable.
   */
  async rotateTenantKey(tenantId: string): Promise<TenantKeyInfo> {
    for (let attempt = 0; ; attempt++) {
      try {
        const { rows } = await this.#pool.query<Row>(
          `insert into ${this.#table} (tenant_id, key_version, seed, master_version)
           select $1, coalesce(max(key_version), 0) + 1, $2, $3 from ${this.#table} where tenant_id = $1
           returning ${COLUMNS}`,
          [tenantId, newSeed(), this.currentMasterVersion],
        );
        return info(rows[0]!);
      } catch (err) {
        if ((err as { code?: string }).code !== UNIQUE_VIOLATION || attempt >= 10) throw err;
      }
    }
  }

  /**
   * Retires a key version after rotation: it no longer unwraps (`key_retired`). Only retire once every
   * sidecar under it was re-wrapped; the seed is kept, so a mistake is undone by clearing `retired_at`.
   * The newest version cannot be retired (`key_version_current`): rotate first. Idempotent.
   */
  async retireKeyVersion({ tenantId, keyVersion }: { tenantId: string; keyVersion: number }): Promise<void> {
    const { rowCount } = await this.#pool.query(
      `update ${this.#table} set retired_at = coalesce(retired_at, now())
       where tenant_id = $1 and key_version = $2
         and key_version < (select max(key_version) from ${this.#table} where tenant_id = $1)`,
      [tenantId, keyVersion],
    );
    if (rowCount) return;
    const all = await this.listKeys(tenantId);
    if (!all.some((k) => k.keyVersion === keyVersion)) throw this.#unknown(tenantId, keyVersion);
    throw new CryptoError({
      code: CryptoErrorCode.KeyVersionCurrent,
      message: `key version ${keyVersion} is this tenant's newest and cannot be retired`,
      hint: "Rotate the tenant key first, re-wrap its sidecars, then retire the old version",
      context: { tenantId, keyVersion },
    });
  }

  /**
   * Crypto-shredding: deletes every seed of the tenant (the version rows stay as tombstones, so later
   * reads fail with `key_shredded` rather than "unknown"). Every backup of the tenant becomes
   * unreadable at once. Erasure is complete only when the disaster backups holding older copies of
   * this table have expired. Returns how many versions were shredded now.
   */
  async shredTenant(tenantId: string): Promise<{ versions: number }> {
    const { rowCount } = await this.#pool.query(
      `update ${this.#table} set seed = ''::bytea, retired_at = coalesce(retired_at, now())
       where tenant_id = $1 and octet_length(seed) > 0`,
      [tenantId],
    );
    return { versions: rowCount ?? 0 };
  }

  /** Master key versions still needed: those named by a tenant key that is neither retired nor shredded. */
  async masterVersionsInUse(): Promise<number[]> {
    const { rows } = await this.#pool.query<{ master_version: number }>(
      `select distinct master_version from ${this.#table} where retired_at is null and octet_length(seed) > 0 order by 1`,
    );
    return rows.map((r) => r.master_version);
  }

  /** Tenants whose current key was created under an older master version than the highest (rotate these after adding a master key). */
  async tenantsBehindMaster(): Promise<string[]> {
    const { rows } = await this.#pool.query<{ tenant_id: string }>(
      `select tenant_id from ${this.#table} k
       where key_version = (select max(key_version) from ${this.#table} where tenant_id = k.tenant_id)
         and octet_length(seed) > 0 and master_version < $1
       order by 1`,
      [this.currentMasterVersion],
    );
    return rows.map((r) => r.tenant_id);
  }

  /**
   * The KEK of one tenant key version. Fails with `key_version_unknown` (no such version, or its master
   * key version is not configured), `key_shredded` or `key_retired`.
   */
  async tenantKek({ tenantId, keyVersion }: { tenantId: string; keyVersion: number }): Promise<Secret<Buffer>> {
    const { rows } = await this.#pool.query<SeedRow>(
      `select seed, master_version, retired_at from ${this.#table} where tenant_id = $1 and key_version = $2`,
      [tenantId, keyVersion],
    );
    const row = rows[0];
    if (!row) throw this.#unknown(tenantId, keyVersion);
    return this.#kek({ row, tenantId, keyVersion });
  }

  /**
   * The current key version and KEK of many tenants in two round trips (a nightly run seals
   * thousands of artifacts): what {@link currentKey} then {@link tenantKek} give for each, a tenant
   * without keys getting version 1. A tenant whose current key cannot seal (shredded, retired,
   * master key missing) maps to that `CryptoError` instead; the others are unaffected.
   */
  async currentKeks(tenantIds: string[]): Promise<Map<string, { keyVersion: number; kek: Secret<Buffer> } | CryptoError>> {
    const ids = [...new Set(tenantIds)];
    await this.#pool.query(
      `insert into ${this.#table} (tenant_id, key_version, seed, master_version)
       select u.tenant_id, 1, u.seed, $3 from unnest($1::text[], $2::bytea[]) as u(tenant_id, seed)
       where not exists (select 1 from ${this.#table} k where k.tenant_id = u.tenant_id)
       on conflict do nothing`,
      [ids, ids.map(() => newSeed()), this.currentMasterVersion],
    );
    const { rows } = await this.#pool.query<SeedRow & { tenant_id: string; key_version: number }>(
      `select distinct on (tenant_id) tenant_id, key_version, seed, master_version, retired_at
       from ${this.#table} where tenant_id = any($1::text[]) order by tenant_id, key_version desc`,
      [ids],
    );
    const out = new Map<string, { keyVersion: number; kek: Secret<Buffer> } | CryptoError>();
    for (const row of rows) {
      const keyVersion = row.key_version;
      try {
        out.set(row.tenant_id, { keyVersion, kek: this.#kek({ row, tenantId: row.tenant_id, keyVersion }) });
      } catch (err) {
        out.set(row.tenant_id, err as CryptoError);
      }
    }
    for (const id of ids) if (!out.has(id)) out.set(id, this.#unknown(id, 1));
    return out;
  }

  /** The KEK of one key version's row; wipes the seed. */
  #kek({ row, tenantId, keyVersion }: { row: SeedRow; tenantId: string; keyVersion: number }): Secret<Buffer> {
    if (row.seed.length === 0) throw shredded(tenantId, keyVersion);
    if (row.retired_at) {
      row.seed.fill(0);
      throw new CryptoError({
        code: CryptoErrorCode.KeyRetired,
        message: `tenant key version ${keyVersion} is retired`,
        hint: "This sidecar was missed by the re-wrap after rotation; clear retired_at for this version, re-wrap, then retire again",
        context: { tenantId, keyVersion },
      });
    }
    const masterKey = this.#masterKeys.get(row.master_version);
    if (!masterKey) {
      row.seed.fill(0);
      throw new CryptoError({
        code: CryptoErrorCode.KeyVersionUnknown,
        message: `master key version ${row.master_version} is not configured`,
        hint: "Add that version to BACKUP_MASTER_KEYS; keep old master keys until no tenant key uses them",
        context: { tenantId, keyVersion, masterVersion: row.master_version },
      });
    }
    try {
      return deriveTenantKek({ masterKey, seed: row.seed, tenantId, keyVersion });
    } finally {
      row.seed.fill(0);
    }
  }

  async #newest(tenantId: string): Promise<TenantKeyInfo | undefined> {
    const { rows } = await this.#pool.query<Row>(
      `select ${COLUMNS} from ${this.#table} where tenant_id = $1 order by key_version desc limit 1`,
      [tenantId],
    );
    return rows[0] ? info(rows[0]) : undefined;
  }

  #unknown(tenantId: string, keyVersion: number): CryptoError {
    return new CryptoError({
      code: CryptoErrorCode.KeyVersionUnknown,
      message: `tenant key version ${keyVersion} does not exist`,
      hint: "Check that the catalog database (BACKUP_DATABASE_URL) is the one these backups were made with",
      context: { tenantId, keyVersion },
    });
  }
}
