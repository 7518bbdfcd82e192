// The one place that turns "which artifact" into keys: tenant KEKs from the tenant key store,
// platform KEKs from the disaster-recovery master keys.
import { type MasterKeySet, type Secret } from "@hesaab/config";
import { CryptoError, CryptoErrorCode } from "./errors";
import { checkIdentity, type ArtifactIdentity, type ArtifactKind } from "./format";
import { keyBytes } from "./kdf";
import { derivePlatformKek, generateDek, newDekId } from "./keys";
import {
  buildKeySidecar,
  checkSidecarIdentity,
  parseKeySidecar,
  rewrapSidecar,
  sidecarIdentity,
  sidecarSlot,
  slotTypeFor,
  unwrapSidecar,
  type KeySidecar,
} from "./sidecar";
import { type TenantKeyStore } from "./tenant-key-store";

export interface SealedArtifactKeys {
  /** The new artifact's data key: pass it to `createEncryptStream`, then drop it. */
  dek: Secret<Buffer>;
  dekId: Buffer;
  /** Store this beside the artifact (`<object key>.keys.json`) and in the catalog. */
  sidecar: KeySidecar;
}

/**
 * Keys for sealing and opening artifacts. Tenant backups and customer exports use the tenant key
 * store (`BACKUP_MASTER_KEYS` + catalog seeds); platform (disaster recovery) artifacts use
 * `DR_MASTER_KEYS` alone, so a disaster restore needs no database. Give only what a shell needs.
 */
export class KeyRing {
  readonly #tenantKeys: TenantKeyStore | undefined;
  readonly #drMasterKeys: MasterKeySet | undefined;

  constructor(options: { tenantKeys?: TenantKeyStore; drMasterKeys?: MasterKeySet }) {
    this.#tenantKeys = options.tenantKeys;
    this.#drMasterKeys = options.drMasterKeys;
  }

  /** A fresh data key and id for a new artifact, wrapped under the current key version. */
  async sealNewArtifact(identity: ArtifactIdentity): Promise<SealedArtifactKeys> {
    checkIdentity(identity);
    const keyVersion = await this.#currentVersion(identity);
    const kek = await this.#kek({ identity, keyVersion });
    const dek = generateDek();
    const dekId = newDekId();
    try {
      return { dek, dekId, sidecar: buildKeySidecar({ identity, dekId, dek, kek, keyVersion }) };
    } finally {
      keyBytes(kek).fill(0);
    }
  }

  /**
   * {@link sealNewArtifact} for many artifacts at once: the tenant keys they need are read in two
   * round trips in all. Each entry is that artifact's keys, or the `CryptoError` its tenant's key
   * gives (shredded, retired): one tenant's problem does not fail the others.
   */
  async sealNewArtifacts(identities: ArtifactIdentity[]): Promise<Array<SealedArtifactKeys | CryptoError>> {
    identities.forEach(checkIdentity);
    const tenantIds = identities.filter((i) => slotTypeFor(i.kind) === "tenant").map((i) => i.tenantId);
    const keks = tenantIds.length > 0 ? await this.#tenants("tenant").currentKeks(tenantIds) : new Map();
    try {
      return await Promise.all(
        identities.map(async (identity) => {
          if (slotTypeFor(identity.kind) !== "tenant") return this.sealNewArtifact(identity);
          const current = keks.get(identity.tenantId)!;
          if (current instanceof CryptoError) return current;
          const dek = generateDek();
          const dekId = newDekId();
          return { dek, dekId, sidecar: buildKeySidecar({ identity, dekId, dek, kek: current.kek, keyVersion: current.keyVersion }) };
        }),
      );
    } finally {
      for (const k of keks.values()) if (!(k instanceof CryptoError)) keyBytes(k.kek).fill(0);
    }
  }

  /**
   * The data key of an artifact, from its sidecar. Refuses a sidecar for another kind, tenant or
   * backup than `expect` (which comes from the catalog or the request, never from the sidecar).
   * Pass `dekId` on to `createDecryptStream` so a mismatched sidecar is named as such.
   */
  async openArtifact({ sidecar, expect }: { sidecar: KeySidecar | string; expect: ArtifactIdentity }): Promise<{ dek: Secret<Buffer>; dekId: Buffer }> {
    checkIdentity(expect);
    const parsed = parseKeySidecar(sidecar);
    checkSidecarIdentity({ sidecar: parsed, expect });
    const newest = [...parsed.slots].sort((a, b) => b.keyVersion - a.keyVersion)[0]!;
    const kek = await this.#kek({ identity: expect, keyVersion: newest.keyVersion });
    try {
      return { dek: unwrapSidecar({ sidecar: parsed, kek, keyVersion: newest.keyVersion }), dekId: Buffer.from(parsed.dekId, "hex") };
    } finally {
      keyBytes(kek).fill(0);
    }
  }

  /**
   * Re-wraps a sidecar under the current key version (the newest tenant key version, or the highest DR
   * master key version). The artifact is not touched; store the result in place of the old sidecar.
   * A sidecar already current is returned unchanged.
   */
  async rewrap({ sidecar }: { sidecar: KeySidecar | string }): Promise<KeySidecar> {
    const parsed = parseKeySidecar(sidecar);
    const identity = sidecarIdentity(parsed);
    const nextVersion = await this.#currentVersion(identity);
    const slot = sidecarSlot(parsed);
    if (slot.keyVersion === nextVersion) return parsed;
    const current = { keyVersion: slot.keyVersion, kek: await this.#kek({ identity, keyVersion: slot.keyVersion }) };
    const next = { keyVersion: nextVersion, kek: await this.#kek({ identity, keyVersion: nextVersion }) };
    try {
      return rewrapSidecar({ sidecar: parsed, current, next });
    } finally {
      keyBytes(current.kek).fill(0);
      keyBytes(next.kek).fill(0);
    }
  }

  async #currentVersion(identity: ArtifactIdentity): Promise<number> {
    if (slotTypeFor(identity.kind) === "platform") return Math.max(...this.#dr().keys());
    return (await this.#tenants(identity.kind).currentKey(identity.tenantId)).keyVersion;
  }

  async #kek({ identity, keyVersion }: { identity: ArtifactIdentity; keyVersion: number }): Promise<Secret<Buffer>> {
    if (slotTypeFor(identity.kind) === "tenant") return this.#tenants(identity.kind).tenantKek({ tenantId: identity.tenantId, keyVersion });
    const drMasterKey = this.#dr().get(keyVersion);
    if (!drMasterKey) {
      throw new CryptoError({
        code: CryptoErrorCode.KeyVersionUnknown,
        message: `disaster-recovery master key version ${keyVersion} is not configured`,
        hint: "Add that version to DR_MASTER_KEYS",
        context: { keyVersion },
      });
    }
    return derivePlatformKek({ drMasterKey, version: keyVersion });
  }

  #tenants(kind: ArtifactKind): TenantKeyStore {
    if (!this.#tenantKeys) {
      throw new CryptoError({ code: CryptoErrorCode.InvalidArgument, message: `no tenant key store configured for ${kind} artifacts` });
    }
    return this.#tenantKeys;
  }

  #dr(): MasterKeySet {
    if (!this.#drMasterKeys || this.#drMasterKeys.size === 0) {
      throw new CryptoError({ code: CryptoErrorCode.InvalidArgument, message: "no disaster-recovery master keys configured", hint: "Set DR_MASTER_KEYS" });
    }
    return this.#drMasterKeys;
  }
}
