import { errorText } from "@hesaab/config";
import { parseKeySidecar, serializeKeySidecar } from "@hesaab/crypto";
import type { BackupRecord } from "@hesaab/db";
import {
  encodeMetaSidecar,
  isStorageError,
  keysSidecarKey,
  putKeysSidecar,
  readMetaSidecar,
  readSidecarBytes,
  type MetaSidecar,
  type SidecarKind,
  type StorageBackend,
} from "@hesaab/storage";
import type { ArtifactPartRef } from "./parts";

/**
 * What one provider's sidecar was, and what it is after healing:
 *  - `ok`: present, valid, and the chosen copy byte for byte;
 *  - `healed`: it was missing, invalid, disagreeing with the catalog, or different from the chosen
 *    copy, and the chosen copy was written over it;
 *  - `missing` / `invalid` / `disagrees`: found so and not healed (healing off, no good copy, or the put failed);
 *  - `unreachable`: the provider could not be read.
 */
export type SidecarState = "ok" | "healed" | "missing" | "invalid" | "disagrees" | "unreachable";

export interface SidecarOutcome {
  provider: string;
  kind: SidecarKind;
  found: Exclude<SidecarState, "healed">;
  state: SidecarState;
  detail?: string;
}

/** What was found of one sidecar kind on one provider, before healing. */
type Seen = Pick<SidecarOutcome, "provider" | "kind" | "found">;

interface Found {
  backend: StorageBackend;
  /** The key sidecar's bytes. */
  keys: { state: "present"; bytes: Buffer } | { state: "missing" } | { state: "unreachable"; error: unknown };
  /** The artifact's description: on the key sidecar, or in an older `.meta.json`. */
  meta: { state: "present"; meta: MetaSidecar } | { state: "missing" } | { state: "invalid"; error: unknown } | { state: "unreachable"; error: unknown };
}

async function readSidecars({
  backend,
  artifactKey,
  signal,
}: {
  backend: StorageBackend;
  artifactKey: string;
  signal?: AbortSignal | undefined;
}): Promise<Found> {
  const [keys, meta] = await Promise.all([
    readSidecarBytes({ backend, key: keysSidecarKey(artifactKey), signal }).then(
      (bytes): Found["keys"] => (bytes ? { state: "present", bytes } : { state: "missing" }),
      (error: unknown): Found["keys"] => {
        if (isStorageError(error, "storage_aborted")) throw error;
        return { state: "unreachable", error };
      },
    ),
    readMetaSidecar({ backend, artifactKey, ...(signal ? { signal } : {}) }).then(
      (m): Found["meta"] => (m ? { state: "present", meta: m } : { state: "missing" }),
      (error: unknown): Found["meta"] => {
        if (isStorageError(error, "storage_aborted")) throw error;
        return isStorageError(error, "storage_corrupt") ? { state: "invalid", error } : { state: "unreachable", error };
      },
    ),
  ]);
  return { backend, keys, meta };
}

function keysVerdict({ bytes, record, ref }: { bytes: Buffer; record: BackupRecord; ref: ArtifactPartRef }): "ok" | "invalid" | "disagrees" {
  try {
    const keys = parseKeySidecar(bytes);
    return keys.backupId === record.id && (!ref.dekId || keys.dekId === ref.dekId.toLowerCase()) ? "ok" : "disagrees";
  } catch {
    return "invalid";
  }
}

function metaAgrees({ meta, record, ref }: { meta: MetaSidecar; record: BackupRecord; ref: ArtifactPartRef }): boolean {
  return meta.backupId === record.id && meta.part === ref.part && meta.size === ref.size && meta.sha256 === ref.sha256;
}

/** The key sidecar as the catalog holds it, when it agrees with the record. */
function keysFromCatalog({ record, ref }: { record: BackupRecord; ref: ArtifactPartRef }): Buffer | undefined {
  if (!ref.keySidecar) return undefined;
  try {
    const bytes = Buffer.from(serializeKeySidecar(parseKeySidecar(ref.keySidecar)));
    return keysVerdict({ bytes, record, ref }) === "ok" ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/** A tenant backup's compression as the catalog recorded it; backups from before zstd was an option are gzip. */
function contentEncodingOf(record: BackupRecord): string {
  const recorded = record.metadata?.contentEncoding;
  return typeof recorded === "string" ? recorded : "gzip";
}

/** The description made from the catalog alone, when no provider has a good one. */
function metaFromCatalog({ record, ref }: { record: BackupRecord; ref: ArtifactPartRef }): Buffer | undefined {
  if (record.backupType === "customer") return undefined;
  try {
    const tables = record.metadata?.tables;
    const rows = record.metadata?.rows;
    return encodeMetaSidecar({
      backupId: record.id,
      type: record.backupType,
      part: ref.part,
      tenantId: record.backupType === "tenant" ? record.tenantId : null,
      createdAt: record.createdAt,
      size: ref.size,
      sha256: ref.sha256,
      contentEncoding: record.backupType === "disaster" && ref.part === "data" ? "pg_dump-custom" : contentEncodingOf(record),
      manifest: {
        ...(typeof rows === "number" ? { rows } : {}),
        ...(tables && typeof tables === "object" ? { tables: Array.isArray(tables) ? tables.length : Object.keys(tables).length } : {}),
        ...(record.backupType === "tenant" ? { purpose: record.purpose, period: record.period } : {}),
        regeneratedFrom: "catalog",
      },
    });
  } catch {
    return undefined;
  }
}

/**
 * Makes one artifact's key sidecar, and the description it carries, the same on every provider in
 * `holders` (those that hold a good copy of the artifact). The key sidecar to spread is the first
 * valid one that agrees with the catalog (preferably the one equal to the catalog's), else the
 * catalog's; the description, the first that agrees with the catalog, else one rebuilt from it. A
 * provider whose description is still a `.meta.json` of its own (an older artifact) is left so when
 * it agrees. Healing rewrites the key sidecar with both. Sidecars are small: they are read whole.
 */
export async function healSidecars(args: {
  record: BackupRecord;
  ref: ArtifactPartRef;
  backends: StorageBackend[];
  holders: Set<string>;
  heal: boolean;
  signal?: AbortSignal | undefined;
}): Promise<SidecarOutcome[]> {
  const { record, ref, backends, holders, heal, signal } = args;
  const targets = backends.filter((b) => holders.has(b.name));
  const found = await Promise.all(targets.map((backend) => readSidecars({ backend, artifactKey: ref.key, signal })));
  const keysFound = (f: Found): SidecarOutcome["found"] => (f.keys.state === "present" ? keysVerdict({ bytes: f.keys.bytes, record, ref }) : f.keys.state);
  const metaFound = (f: Found): SidecarOutcome["found"] =>
    f.meta.state === "present" ? (metaAgrees({ meta: f.meta.meta, record, ref }) ? "ok" : "disagrees") : f.meta.state;

  const catalogKeys = keysFromCatalog({ record, ref });
  const agreeingKeys = found.filter((f) => keysFound(f) === "ok").map((f) => (f.keys as { bytes: Buffer }).bytes);
  const chosenKeys = (catalogKeys && agreeingKeys.find((b) => b.equals(catalogKeys))) ?? agreeingKeys[0] ?? catalogKeys;
  const agreeingMeta = found.find((f) => metaFound(f) === "ok")?.meta as { meta: MetaSidecar } | undefined;
  const chosenMeta = agreeingMeta ? Buffer.from(JSON.stringify(agreeingMeta.meta)) : metaFromCatalog({ record, ref });

  const outcomes: SidecarOutcome[] = [];
  for (const f of found) {
    const provider = f.backend.name;
    const keys: Seen = { provider, kind: "keys", found: keysFound(f) };
    const meta: Seen = { provider, kind: "meta", found: metaFound(f) };
    if (f.keys.state === "unreachable" || f.meta.state === "unreachable") {
      const detail = errorText(f.keys.state === "unreachable" ? f.keys.error : (f.meta as { error: unknown }).error);
      outcomes.push({ ...keys, state: "unreachable", detail }, { ...meta, state: "unreachable", detail });
      continue;
    }
    const keysGood = chosenKeys !== undefined && f.keys.state === "present" && f.keys.bytes.equals(chosenKeys);
    const metaGood = meta.found === "ok";
    if (keysGood && metaGood) {
      outcomes.push({ ...keys, state: "ok" }, { ...meta, state: "ok" });
      continue;
    }
    // Valid and agreeing but not the chosen bytes (e.g. another key wrapping): still different, spread the chosen one.
    const problem = (o: { found: SidecarOutcome["found"] }) => (o.found === "ok" ? "differs from the other providers' copy" : o.found);
    const unhealed = (o: Seen, detail: string): SidecarOutcome => ({ ...o, state: o.found === "ok" ? "disagrees" : o.found, detail });
    if (!heal || !chosenKeys) {
      const why = (o: Seen) => (chosenKeys ? problem(o) : `${problem(o)}; no good copy to heal from`);
      outcomes.push(keysGood ? { ...keys, state: "ok" } : unhealed(keys, why(keys)), metaGood ? { ...meta, state: "ok" } : unhealed(meta, why(meta)));
      continue;
    }
    try {
      if (chosenMeta) await putKeysSidecar({ backend: f.backend, artifactKey: ref.key, keys: chosenKeys, meta: chosenMeta, signal });
      else await f.backend.put(keysSidecarKey(ref.key), chosenKeys, { contentType: "application/json", ...(signal ? { signal } : {}) });
      outcomes.push(keysGood ? { ...keys, state: "ok" } : { ...keys, state: "healed", detail: problem(keys) });
      outcomes.push(
        metaGood
          ? { ...meta, state: "ok" }
          : chosenMeta
            ? { ...meta, state: "healed", detail: problem(meta) }
            : unhealed(meta, `${problem(meta)}; no good copy to heal from`),
      );
    } catch (error) {
      if (isStorageError(error, "storage_aborted")) throw error;
      const detail = (o: Seen) => `${problem(o)}; heal failed: ${errorText(error)}`;
      outcomes.push(keysGood ? { ...keys, state: "ok" } : unhealed(keys, detail(keys)), metaGood ? { ...meta, state: "ok" } : unhealed(meta, detail(meta)));
    }
  }
  return outcomes;
}
