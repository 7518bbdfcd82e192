// @hesaab/crypto: the BKP1 streaming encryption format and the key hierarchy.
// See README.md for the format in one picture, rotation and shredding.
export { CryptoError, CryptoErrorCode, CRYPTO_ERROR_CODES, isCryptoError } from "./errors";
export {
  DEFAULT_CHUNK_LOG2,
  MAX_CHUNK_LOG2,
  MAX_HEADER_LEN,
  MIN_CHUNK_LOG2,
  encryptedLength,
  parseHeader,
  plaintextLength,
  type ArtifactHeader,
  type ArtifactIdentity,
  type ArtifactKind,
  type ContentEncoding,
} from "./format";
export { createEncryptStream, encryptBuffer, EncryptStream, type EncryptOptions } from "./encrypt";
export { createDecryptStream, DecryptStream, type DecryptOptions } from "./decrypt";
export { readHeader } from "./read-header";
export { hkdf, type KeyInput } from "./kdf";
export { deriveTenantKek, derivePlatformKek, generateDek, newDekId, unwrapDek, wrapDek, type WrapContext } from "./keys";
export {
  buildKeySidecar,
  checkSidecarIdentity,
  parseKeySidecar,
  rewrapSidecar,
  serializeKeySidecar,
  sidecarIdentity,
  unwrapSidecar,
  type KeySidecar,
  type KeySlot,
  type SlotType,
} from "./sidecar";
export { TenantKeyStore, type TenantKeyInfo } from "./tenant-key-store";
export { KeyRing, type SealedArtifactKeys } from "./key-ring";
