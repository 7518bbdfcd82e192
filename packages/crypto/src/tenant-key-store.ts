// Tenant key records: one row per tenant per key version, holding the random seed from which (with a
// master key) the tenant's KEK is derived. The rows live in the catalog (`backup.tenant_keys`); their
// SQL is @hesaab/db's `tenantKeyRows`, this class's only way to them.
//
// Life of a version: created (by first use or by rotation) → current while it is the newest →
// retired once every sidecar was re-wrapped to a newer version (no longer unwraps) → shredded with
// the whole tenant (seed deleted; the row stays as a tombstone so the error says "shredded").
import { type MasterKeySet, type Secret } from "@hesaab/config";
import { connectTenantKeyRows, tenantKeyRows, type TenantKeyRow, type TenantKeyRows, type TenantKeySeed } from "@hesaab/db";
import type pg from "pg";
import { CryptoError, CryptoErrorCode } from "./errors";
import { deriveTenantKek, newSeed } from "./keys";

export type TenantKeyInfo = TenantKeyRow;

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
  readonly #rows: TenantKeyRows;
  readonly #masterKeys: MasterKeySet;

  constructor(
    options:
      | { pool: pg.Pool; masterKeys: MasterKeySet; /** default `backup.tenant_keys` */ table?: string }
      | { rows: TenantKeyRows; masterKeys: MasterKeySet },
  ) {
    if (options.masterKeys.size === 0) throw new CryptoError({ code: CryptoErrorCode.InvalidArgument, message: "no master keys" });
    if ("rows" in options) this.#rows = options.rows;
    else {
      try {
        this.#rows = tenantKeyRows(options.pool, { table: options.table });
      } catch (err) {
        throw new CryptoError({ code: CryptoErrorCode.InvalidArgument, message: err instanceof Error ? err.message : String(err) });
      }
    }
    this.#masterKeys = options.masterKeys;
  }

  /** A store over its own small pool on `url`; call {@link close} when done. */
  static connect({ url, masterKeys }: { url: string; masterKeys: MasterKeySet }): TenantKeyStore {
    return new TenantKeyStore({ rows: connectTenantKeyRows(url), masterKeys });
  }

  /** Ends the pool if this store opened it ({@link connect}); a caller's pool is left alone. */
  async close(): Promise<void> {
    await this.#rows.close();
  }

  /** The master key version new tenant keys are created under: the highest configured. */
  get currentMasterVersion(): number {
    return Math.max(...this.#masterKeys.keys());
  }

  /** Every key version of a tenant, oldest first (no seeds). */
  listKeys(tenantId: string): Promise<TenantKeyInfo[]> {
    return this.#rows.list(tenantId);
  }

  /**
   * The version new artifacts of this tenant are sealed with: its newest. A tenant without keys gets
   * version 1 (created race-free). Fails with `key_shredded` for a shredded tenant (until it is rotated).
   */
  async currentKey(tenantId: string): Promise<TenantKeyInfo> {
    let newest = await this.#rows.newest(tenantId);
    if (!newest) {
      await this.#rows.createFirst({ seeds: new Map([[tenantId, newSeed()]]), masterVersion: this.currentMasterVersion });
      newest = await this.#rows.newest(tenantId);
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
  rotateTenantKey(tenantId: string): Promise<TenantKeyInfo> {
    return this.#rows.createNext({ tenantId, seed: newSeed(), masterVersion: this.currentMasterVersion });
  }

  /**
   * Retires a key version after rotation: it no longer unwraps (`key_retired`). Only retire once every
   * sidecar under it was re-wrapped; the seed is kept, so a mistake is undone by clearing `retired_at`.
   * The newest version cannot be retired (`key_version_current`): rotate first. Idempotent.
   */
  async retireKeyVersion({ tenantId, keyVersion }: { tenantId: string; keyVersion: number }): Promise<void> {
    if (await this.#rows.retire({ tenantId, keyVersion })) return;
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
    return { versions: await this.#rows.shred(tenantId) };
  }

  /** Master key versions still needed: those named by a tenant key that is neither retired nor shredded. */
  masterVersionsInUse(): Promise<number[]> {
    return this.#rows.masterVersionsInUse();
  }

  /** Tenants whose current key was created under an older master version than the highest (rotate these after adding a master key). */
  tenantsBehindMaster(): Promise<string[]> {
    return this.#rows.tenantsBehind(this.currentMasterVersion);
  }

  /**
   * The KEK of one tenant key version. Fails with `key_version_unknown` (no such version, or its master
   * key version is not configured), `key_shredded` or `key_retired`.
   */
  async tenantKek({ tenantId, keyVersion }: { tenantId: string; keyVersion: number }): Promise<Secret<Buffer>> {
    const row = await this.#rows.seed({ tenantId, keyVersion });
    if (!row) throw this.#unknown(tenantId, keyVersion);
    return this.#kek(row);
  }

  /**
   * The current key version and KEK of many tenants in two round trips (a nightly run seals
   * thousands of artifacts): what {@link currentKey} then {@link tenantKek} give for each, a tenant
   * without keys getting version 1. A tenant whose current key cannot seal (shredded, retired,
   * master key missing) maps to that `CryptoError` instead; the others are unaffected.
   */
  async currentKeks(tenantIds: string[]): Promise<Map<string, { keyVersion: number; kek: Secret<Buffer> } | CryptoError>> {
    const ids = [...new Set(tenantIds)];
    await this.#rows.createFirst({ seeds: new Map(ids.map((id) => [id, newSeed()])), masterVersion: this.currentMasterVersion });
    const out = new Map<string, { keyVersion: number; kek: Secret<Buffer> } | CryptoError>();
    for (const row of await this.#rows.newestSeeds(ids)) {
      try {
        out.set(row.tenantId, { keyVersion: row.keyVersion, kek: this.#kek(row) });
      } catch (err) {
        out.set(row.tenantId, err as CryptoError);
      }
    }
    for (const id of ids) if (!out.has(id)) out.set(id, this.#unknown(id, 1));
    return out;
  }

  /** The KEK of one key version's row; wipes the seed. */
  #kek(row: TenantKeySeed): Secret<Buffer> {
    const { tenantId, keyVersion } = row;
    if (row.seed.length === 0) throw shredded(tenantId, keyVersion);
    if (row.retiredAt) {
      row.seed.fill(0);
      throw new CryptoError({
        code: CryptoErrorCode.KeyRetired,
        message: `tenant key version ${keyVersion} is retired`,
        hint: "This sidecar was missed by the re-wrap after rotation; clear retired_at for this version, re-wrap, then retire again",
        context: { tenantId, keyVersion },
      });
    }
    const masterKey = this.#masterKeys.get(row.masterVersion);
    if (!masterKey) {
      row.seed.fill(0);
      throw new CryptoError({
        code: CryptoErrorCode.KeyVersionUnknown,
        message: `master key version ${row.masterVersion} is not configured`,
        hint: "Add that version to BACKUP_MASTER_KEYS; keep old master keys until no tenant key uses them",
        context: { tenantId, keyVersion, masterVersion: row.masterVersion },
      });
    }
    try {
      return deriveTenantKek({ masterKey, seed: row.seed, tenantId, keyVersion });
    } finally {
      row.seed.fill(0);
    }
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
