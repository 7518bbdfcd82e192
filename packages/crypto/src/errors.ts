import { HesaabError } from "@hesaab/config";

/**
 * Stable codes of every error this package raises on purpose. Callers, tests and the gateway match
 * on these strings; they never change meaning. `artifact_*` codes are about the BKP1 bytes,
 * `key_*` codes about key sidecars, tenant key records and master keys.
 */
export const CryptoErrorCode = {
  /** The stream does not start with the `BKP1` magic: not a BKP1 artifact at all. */
  BadMagic: "artifact_bad_magic",
  /** A format version, algorithm or content encoding this build does not know. */
  Unsupported: "artifact_unsupported",
  /** `chunkLog2` outside 12..24 (checked before anything chunk-sized is allocated). */
  ChunkSizeInvalid: "artifact_chunk_size_invalid",
  /** `headerLen` above 4096 bytes (or a header that would not fit when encrypting). */
  HeaderTooLong: "artifact_header_too_long",
  /** Header fields that do not parse: lengths past the end, unknown kind, invalid UTF-8. */
  HeaderMalformed: "artifact_header_malformed",
  /** The header MAC does not verify: the header was altered or the data key is not this artifact's. */
  HeaderMacMismatch: "artifact_header_mac_mismatch",
  /** A chunk's GCM tag does not verify: modified, reordered, duplicated, spliced or cut. */
  ChunkAuthFailed: "artifact_chunk_auth_failed",
  /** The stream ends before its final chunk (or inside the header). */
  Truncated: "artifact_truncated",
  /** An authentic final chunk is followed by more bytes. */
  TrailingData: "artifact_trailing_data",
  /** The chunk counter would reach 2^32 - 1. */
  CounterOverflow: "artifact_counter_overflow",
  /** The artifact (or sidecar) belongs to another tenant than the caller expected. */
  WrongTenant: "artifact_wrong_tenant",
  /** The artifact (or sidecar) belongs to another backup than the caller expected. */
  WrongBackup: "artifact_wrong_backup",
  /** The artifact (or sidecar) is of another kind than the caller expected. */
  WrongKind: "artifact_wrong_kind",
  /** The data key's id (from the sidecar) is not the one named in the artifact header. */
  WrongKey: "artifact_wrong_key",
  /** A caller passed something unusable (a key of the wrong length, an identity that cannot be encoded). */
  InvalidArgument: "crypto_invalid_argument",
  /** A key sidecar that is not valid `bkp1-keys` JSON. */
  SidecarInvalid: "key_sidecar_invalid",
  /** No key for this version: a tenant key version not in the catalog, or a master key version not in the environment. */
  KeyVersionUnknown: "key_version_unknown",
  /** The tenant's key seeds were deleted (crypto-shredding): its backups can never be read again. */
  KeyShredded: "key_shredded",
  /** The tenant key version was retired after rotation: re-wrap sidecars before retiring. */
  KeyRetired: "key_retired",
  /** Refused to retire the newest tenant key version: rotate first. */
  KeyVersionCurrent: "key_version_current",
  /** The wrapped data key does not open with this key (wrong key, or the sidecar was altered). */
  UnwrapFailed: "key_unwrap_failed",
} as const;

export type CryptoErrorCode = (typeof CryptoErrorCode)[keyof typeof CryptoErrorCode];

/** The codes of this package as a list (see {@link CryptoErrorCode} for what each means). */
export const CRYPTO_ERROR_CODES: readonly CryptoErrorCode[] = Object.values(CryptoErrorCode);

/** Every failure of the BKP1 format and the key hierarchy. Never retryable: the bytes or keys are wrong. */
export class CryptoError extends HesaabError<CryptoErrorCode> {
  constructor(opts: { code: CryptoErrorCode; message: string; hint?: string; cause?: unknown; context?: Record<string, unknown> }) {
    super({ ...opts, retryable: false });
  }
}

/** True when `err` is a {@link CryptoError}, optionally with the given code. */
export function isCryptoError(err: unknown, code?: CryptoErrorCode): err is CryptoError {
  return err instanceof CryptoError && (code === undefined || err.code === code);
}
