// Data keys, key-encryption keys and wrapping (see "Key hierarchy" in bkp1-format.md).
//
//   KEK_tenant   = HKDF(masterKey[masterVersion], seed, "bkp1/tenant-kek" || lp(tenantId) || u32(keyVersion))
//   KEK_platform = HKDF(drMasterKey[v], 32 zero bytes, "bkp1/platform-kek" || u32(v))
//   wrapped      = AES-256-GCM(KEK, nonce, DEK, aad = "bkp1/wrap" || u8(kind) || lp(tenantId) || lp(backupId) || dekId || u32(keyVersion))
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { Secret } from "@hesaab/config";
import { CryptoError, CryptoErrorCode } from "./errors";
import { DEK_ID_LEN, KEY_LEN, KIND_CODES, TAG_LEN, checkIdentity, type ArtifactIdentity } from "./format";
import { hkdf, keyBytes, lp, u32, type KeyInput } from "./kdf";

const WRAP_NONCE_LEN = 12;

/** A fresh random 32-byte data key for one artifact. */
export function generateDek(): Secret<Buffer> {
  return new Secret(randomBytes(KEY_LEN));
}

/** A fresh random 16-byte data key id (hex in the sidecar, raw in the header). */
export function newDekId(): Buffer {
  return randomBytes(DEK_ID_LEN);
}

/** A fresh random 32-byte tenant key seed. */
export function newSeed(): Buffer {
  return randomBytes(KEY_LEN);
}

/** The tenant KEK of one tenant key version. `masterKey` is the master key the record names (`masterVersion`). */
export function deriveTenantKek({
  masterKey,
  seed,
  tenantId,
  keyVersion,
}: {
  masterKey: KeyInput;
  seed: Uint8Array;
  tenantId: string;
  keyVersion: number;
}): Secret<Buffer> {
  if (seed.length !== KEY_LEN) throw new CryptoError({ code: CryptoErrorCode.InvalidArgument, message: `tenant key seed must be ${KEY_LEN} bytes` });
  const info = Buffer.concat([Buffer.from("bkp1/tenant-kek"), lp(tenantId), u32(keyVersion)]);
  return new Secret(hkdf({ ikm: keyBytes(masterKey, "master key"), salt: seed, info }));
}

/** The platform (disaster recovery) KEK of DR master key version `version`. */
export function derivePlatformKek({ drMasterKey, version }: { drMasterKey: KeyInput; version: number }): Secret<Buffer> {
  const info = Buffer.concat([Buffer.from("bkp1/platform-kek"), u32(version)]);
  return new Secret(hkdf({ ikm: keyBytes(drMasterKey, "master key"), salt: Buffer.alloc(32), info }));
}

/** What a wrapped data key is bound to: the artifact's identity, its dek id and the wrapping key's version. */
export interface WrapContext extends ArtifactIdentity {
  dekId: Uint8Array;
  keyVersion: number;
}

export function wrapAad(context: WrapContext): Buffer {
  checkIdentity(context);
  if (context.dekId.length !== DEK_ID_LEN) throw new CryptoError({ code: CryptoErrorCode.InvalidArgument, message: `dek id must be ${DEK_ID_LEN} bytes` });
  return Buffer.concat([
    Buffer.from("bkp1/wrap"),
    Buffer.of(KIND_CODES[context.kind]),
    lp(context.tenantId),
    lp(context.backupId),
    context.dekId,
    u32(context.keyVersion),
  ]);
}

/** Wraps `dek` under `kek`: 48 bytes (ciphertext || tag) with a fresh 12-byte nonce (fixed only in known-answer tests). */
export function wrapDek({ kek, dek, context, nonce }: { kek: KeyInput; dek: KeyInput; context: WrapContext; nonce?: Uint8Array }): {
  nonce: Buffer;
  wrapped: Buffer;
} {
  const iv = Buffer.from(nonce ?? randomBytes(WRAP_NONCE_LEN));
  if (iv.length !== WRAP_NONCE_LEN) throw new CryptoError({ code: CryptoErrorCode.InvalidArgument, message: "wrap nonce must be 12 bytes" });
  const cipher = createCipheriv("aes-256-gcm", keyBytes(kek, "key-encryption key"), iv, { authTagLength: TAG_LEN });
  cipher.setAAD(wrapAad(context));
  const wrapped = Buffer.concat([cipher.update(keyBytes(dek, "data key")), cipher.final(), cipher.getAuthTag()]);
  return { nonce: iv, wrapped };
}

/**
 * Unwraps a data key. Fails with `key_unwrap_failed` when the KEK is not the one it was wrapped
 * under or anything it is bound to (identity, dek id, key version, the bytes) differs. Success alone
 * proves nothing about the artifact: its header MAC does.
 */
export function unwrapDek({ kek, nonce, wrapped, context }: { kek: KeyInput; nonce: Uint8Array; wrapped: Uint8Array; context: WrapContext }): Secret<Buffer> {
  if (nonce.length !== WRAP_NONCE_LEN || wrapped.length !== KEY_LEN + TAG_LEN) {
    throw new CryptoError({ code: CryptoErrorCode.SidecarInvalid, message: "wrapped data key has the wrong length" });
  }
  const decipher = createDecipheriv("aes-256-gcm", keyBytes(kek, "key-encryption key"), nonce, { authTagLength: TAG_LEN });
  decipher.setAAD(wrapAad(context));
  decipher.setAuthTag(wrapped.subarray(KEY_LEN));
  const dek = decipher.update(wrapped.subarray(0, KEY_LEN));
  try {
    decipher.final();
  } catch (cause) {
    dek.fill(0);
    throw new CryptoError({
      code: CryptoErrorCode.UnwrapFailed,
      message: "the data key does not unwrap with this key",
      hint: "The key sidecar was altered, belongs to another artifact, or the key material is wrong",
      cause,
      context: { keyVersion: context.keyVersion },
    });
  }
  return new Secret(dek);
}
