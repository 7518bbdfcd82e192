// The key sidecar (`<object key>.keys.json`): the data key wrapped under a versioned KEK. It is the
// only part of a stored backup that changes after upload (key rotation re-wraps it).
import { type Secret } from "@hesaab/config";
import { CryptoError, CryptoErrorCode } from "./errors";
import { DEK_ID_LEN, KIND_CODES, checkIdentity, kindFromCode, type ArtifactIdentity, type ArtifactKind } from "./format";
import { keyBytes, type KeyInput } from "./kdf";
import { unwrapDek, wrapDek, type WrapContext } from "./keys";

/** `tenant`: wrapped under a tenant KEK; `platform`: under the disaster-recovery KEK. */
export type SlotType = "tenant" | "platform";

export interface KeySlot {
  type: SlotType;
  /** The tenant key version (tenant slots) or the DR master key version (platform slots). */
  keyVersion: number;
  /** base64 of 12 bytes */
  nonce: string;
  /** base64 of 48 bytes: the wrapped data key and its tag */
  wrapped: string;
}

/** The sidecar JSON, field for field as in bkp1-format.md. `kind` is the header's numeric kind (1, 2, 3). */
export interface KeySidecar {
  format: "bkp1-keys";
  version: 1;
  kind: number;
  tenantId: string;
  backupId: string;
  /** hex of the 16-byte dek id in the artifact header */
  dekId: string;
  slots: KeySlot[];
}

/** The one slot type each kind carries: tenant backups and customer exports only a tenant slot (a platform slot would survive a shred). */
export function slotTypeFor(kind: ArtifactKind): SlotType {
  return kind === "platform" ? "platform" : "tenant";
}

function invalid(message: string): CryptoError {
  return new CryptoError({ code: CryptoErrorCode.SidecarInvalid, message: `invalid key sidecar: ${message}` });
}

/** The identity a sidecar names. */
export function sidecarIdentity(sidecar: KeySidecar): ArtifactIdentity {
  const kind = kindFromCode(sidecar.kind);
  if (!kind) throw invalid(`unknown kind ${sidecar.kind}`);
  return { kind, tenantId: sidecar.tenantId, backupId: sidecar.backupId };
}

/** Throws `artifact_wrong_kind` / `artifact_wrong_tenant` / `artifact_wrong_backup` when the sidecar is not for `expect`. */
export function checkSidecarIdentity({ sidecar, expect }: { sidecar: KeySidecar; expect: ArtifactIdentity }): void {
  const found = sidecarIdentity(sidecar);
  const context = { source: "sidecar", expected: { ...expect }, found };
  if (found.kind !== expect.kind)
    throw new CryptoError({ code: CryptoErrorCode.WrongKind, message: `key sidecar is for a ${found.kind} artifact, expected ${expect.kind}`, context });
  if (found.tenantId !== expect.tenantId)
    throw new CryptoError({ code: CryptoErrorCode.WrongTenant, message: "key sidecar belongs to another tenant", context });
  if (found.backupId !== expect.backupId)
    throw new CryptoError({ code: CryptoErrorCode.WrongBackup, message: "key sidecar belongs to another backup", context });
}

function slotContext(sidecar: KeySidecar, keyVersion: number): WrapContext {
  return { ...sidecarIdentity(sidecar), dekId: Buffer.from(sidecar.dekId, "hex"), keyVersion };
}

/** Builds a sidecar with one slot: `dek` wrapped under `kek` (tenant KEK, or platform KEK for kind `platform`). */
export function buildKeySidecar(params: {
  identity: ArtifactIdentity;
  dekId: Uint8Array;
  dek: KeyInput;
  kek: KeyInput;
  keyVersion: number;
  /** fixed only in known-answer tests */
  nonce?: Uint8Array;
}): KeySidecar {
  const { identity, dekId, keyVersion } = params;
  checkIdentity(identity);
  const { nonce, wrapped } = wrapDek({
    kek: params.kek,
    dek: params.dek,
    context: { ...identity, dekId, keyVersion },
    ...(params.nonce ? { nonce: params.nonce } : {}),
  });
  return {
    format: "bkp1-keys",
    version: 1,
    kind: KIND_CODES[identity.kind],
    tenantId: identity.tenantId,
    backupId: identity.backupId,
    dekId: Buffer.from(dekId).toString("hex"),
    slots: [{ type: slotTypeFor(identity.kind), keyVersion, nonce: nonce.toString("base64"), wrapped: wrapped.toString("base64") }],
  };
}

/** The slot a sidecar's kind is read through, and its key version. */
export function sidecarSlot(sidecar: KeySidecar, keyVersion?: number): KeySlot {
  const type = slotTypeFor(sidecarIdentity(sidecar).kind);
  const slot = sidecar.slots.find((s) => s.type === type && (keyVersion === undefined || s.keyVersion === keyVersion));
  if (!slot) {
    throw new CryptoError({
      code: CryptoErrorCode.KeyVersionUnknown,
      message: keyVersion === undefined ? `key sidecar has no ${type} slot` : `key sidecar has no ${type} slot for key version ${keyVersion}`,
      context: { keyVersion, versions: sidecar.slots.map((s) => s.keyVersion) },
    });
  }
  return slot;
}

/** Unwraps the data key from the sidecar's slot of version `keyVersion` with that version's KEK. */
export function unwrapSidecar({ sidecar, kek, keyVersion }: { sidecar: KeySidecar; kek: KeyInput; keyVersion: number }): Secret<Buffer> {
  const slot = sidecarSlot(sidecar, keyVersion);
  return unwrapDek({
    kek,
    nonce: Buffer.from(slot.nonce, "base64"),
    wrapped: Buffer.from(slot.wrapped, "base64"),
    context: slotContext(sidecar, keyVersion),
  });
}

/**
 * Re-wraps a sidecar's data key from key version `current` to key version `next`, without touching
 * the artifact. Pure: the caller supplies both KEKs (see `KeyRing.rewrap` for the version lookup).
 * The returned sidecar has the same identity and dek id and a single slot under `next`; a sidecar
 * already under `next.keyVersion` is returned as it is (re-running a rotation sweep is harmless).
 */
export function rewrapSidecar(params: {
  sidecar: KeySidecar;
  current: { keyVersion: number; kek: KeyInput };
  next: { keyVersion: number; kek: KeyInput };
  /** fixed only in known-answer tests */
  nonce?: Uint8Array;
}): KeySidecar {
  const sidecar = parseKeySidecar(params.sidecar);
  const type = slotTypeFor(sidecarIdentity(sidecar).kind);
  if (sidecar.slots.some((s) => s.type === type && s.keyVersion === params.next.keyVersion)) return sidecar;
  const dek = unwrapSidecar({ sidecar, kek: params.current.kek, keyVersion: params.current.keyVersion });
  try {
    return buildKeySidecar({
      identity: sidecarIdentity(sidecar),
      dekId: Buffer.from(sidecar.dekId, "hex"),
      dek,
      kek: params.next.kek,
      keyVersion: params.next.keyVersion,
      ...(params.nonce ? { nonce: params.nonce } : {}),
    });
  } finally {
    keyBytes(dek).fill(0);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const base64Len = (s: unknown, len: number) => typeof s === "string" && /^[A-Za-z0-9+/]*={0,2}$/.test(s) && Buffer.from(s, "base64").length === len;
const isU32 = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;

/** Validates sidecar JSON (a string or an already parsed value) and returns it in canonical form (field order, lowercase dekId). Throws `key_sidecar_invalid`. */
export function parseKeySidecar(input: unknown): KeySidecar {
  let value = input;
  if (typeof input === "string" || input instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof input === "string" ? input : Buffer.from(input).toString("utf8"));
    } catch {
      throw invalid("not json");
    }
  }
  if (!isRecord(value)) throw invalid("not an object");
  if (value.format !== "bkp1-keys") throw invalid("format is not bkp1-keys");
  if (value.version !== 1) throw invalid(`unsupported version ${String(value.version)}`);
  const kind = typeof value.kind === "number" ? kindFromCode(value.kind) : undefined;
  if (!kind) throw invalid("unknown kind");
  if (typeof value.tenantId !== "string" || typeof value.backupId !== "string") throw invalid("tenantId and backupId must be strings");
  if (typeof value.dekId !== "string" || !/^[0-9a-fA-F]+$/.test(value.dekId) || value.dekId.length !== DEK_ID_LEN * 2)
    throw invalid("dekId must be 32 hex digits");
  const dekId = value.dekId.toLowerCase();
  try {
    checkIdentity({ kind, tenantId: value.tenantId, backupId: value.backupId });
  } catch (err) {
    throw invalid((err as Error).message);
  }
  if (!Array.isArray(value.slots) || value.slots.length === 0) throw invalid("no key slots");
  const slots = value.slots.map((slot: unknown): KeySlot => {
    if (!isRecord(slot)) throw invalid("slot is not an object");
    if (slot.type !== slotTypeFor(kind)) throw invalid(`a ${kind} sidecar carries only ${slotTypeFor(kind)} slots`);
    if (!isU32(slot.keyVersion)) throw invalid("slot keyVersion must be a u32");
    if (!base64Len(slot.nonce, 12)) throw invalid("slot nonce must be base64 of 12 bytes");
    if (!base64Len(slot.wrapped, 48)) throw invalid("slot wrapped must be base64 of 48 bytes");
    return { type: slotTypeFor(kind), keyVersion: slot.keyVersion, nonce: slot.nonce as string, wrapped: slot.wrapped as string };
  });
  return { format: "bkp1-keys", version: 1, kind: KIND_CODES[kind], tenantId: value.tenantId, backupId: value.backupId, dekId, slots };
}

/** The sidecar as the JSON text stored beside the artifact. */
export function serializeKeySidecar(sidecar: KeySidecar): string {
  return JSON.stringify(parseKeySidecar(sidecar));
}
