/**
 * Attestation of drill records: an HMAC-SHA256 over the record's canonical JSON (keys sorted, every
 * field but the signature), under a key derived with HKDF-SHA256 from the platform's disaster-recovery
 * master key (DR_MASTER_KEYS, the newest version; the version is kept on the record so older records
 * still verify after a rotation while the old version is configured). Whoever can edit the catalog
 * but does not hold the platform key cannot edit a drill record unnoticed: it reads back `tampered`.
 */
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import type { MasterKeySet } from "@hesaab/config";
import { DrillError } from "./errors";

const INFO = "hesaab drill attestation v1";

/** The fields a signature covers: the record without its signature. */
export interface AttestedFields {
  id: string;
  kind: string;
  backupId: string;
  tenantId: string | null;
  outcome: string;
  providerUsed: string | null;
  startedAt: Date;
  finishedAt: Date;
  durations: Record<string, number>;
  tables: Record<string, Record<string, unknown>>;
  error: Record<string, unknown> | null;
  restoredByVersion: string;
  restoredByCommit: string | null;
  keyVersion: number;
}

/** JSON with object keys sorted at every depth, dates as ISO strings: one text per record, whatever the field order. */
export function canonicalJson(value: unknown): string {
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The newest DR master key version, or `drill_key_missing`. */
export function signingKeyVersion(keys: MasterKeySet): number {
  if (keys.size === 0) {
    throw new DrillError({ code: "drill_key_missing", message: "no platform master key to sign drill records with", hint: "Set DR_MASTER_KEYS" });
  }
  return Math.max(...keys.keys());
}

function attestationKey(keys: MasterKeySet, version: number): Buffer | undefined {
  const master = keys.get(version);
  return master ? Buffer.from(hkdfSync("sha256", master.reveal(), Buffer.alloc(0), INFO, 32)) : undefined;
}

/** The fields the signature covers, and only those (a record read back carries more). */
const ATTESTED: readonly (keyof AttestedFields)[] = [
  "id",
  "kind",
  "backupId",
  "tenantId",
  "outcome",
  "providerUsed",
  "startedAt",
  "finishedAt",
  "durations",
  "tables",
  "error",
  "restoredByVersion",
  "restoredByCommit",
  "keyVersion",
];

function mac(key: Buffer, fields: AttestedFields): string {
  const canonical = canonicalJson(Object.fromEntries(ATTESTED.map((k) => [k, fields[k]])));
  return createHmac("sha256", key).update(canonical, "utf8").digest("hex");
}

export function signDrill(keys: MasterKeySet, fields: AttestedFields): string {
  const key = attestationKey(keys, fields.keyVersion);
  if (!key) throw new DrillError({ code: "drill_key_missing", message: `no DR master key version ${fields.keyVersion}`, hint: "Check DR_MASTER_KEYS" });
  return mac(key, fields);
}

/** `valid`, `tampered` (the signature does not match the fields), or `unverifiable` (the key version it names is not configured). */
export type Attestation = "valid" | "tampered" | "unverifiable";

export function verifyDrill(keys: MasterKeySet, fields: AttestedFields & { signature: string }): Attestation {
  const key = attestationKey(keys, fields.keyVersion);
  if (!key) return "unverifiable";
  const expected = Buffer.from(mac(key, fields), "hex");
  const given = Buffer.from(fields.signature, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected) ? "valid" : "tampered";
}
