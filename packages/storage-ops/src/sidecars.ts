import { errorText } from "@hesaab/config";
import { parseKeySidecar, serializeKeySidecar } from "@hesaab/crypto";
import type { BackupRecord } from "@hesaab/db";
import { encodeMetaSidecar, isStorageError, keysSidecarKey, metaSidecarKey, parseMetaSidecar, readSidecarBytes, type SidecarKind, type StorageBackend } from "@hesaab/storage";
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

interface Found {
  backend: StorageBackend;
  state: "present" | "missing" | "unreachable";
  bytes?: Buffer;
  error?: unknown;
}

async function readSidecar({ backend, key, signal }: { backend: StorageBackend; key: string; signal?: AbortSignal | undefined }): Promise<Found> {
  try {
    const bytes = await readSidecarBytes({ backend, key, signal });
    return bytes ? { backend, state: "present", bytes } : { backend, state: "missing" };
  } catch (error) {
    if (isStorageError(error, "storage_aborted")) throw error;
    return { backend, state: "unreachable", error };
  }
}

/** Does these bytes form a valid sidecar of this kind that agrees with the catalog? */
function judge({ kind, bytes, record, ref }: { kind: SidecarKind; bytes: Buffer; record: BackupRecord; ref: ArtifactPartRef }): "ok" | "invalid" | "disagrees" {
  try {
    if (kind === "meta") {
      const meta = parseMetaSidecar(bytes);
      return meta.backupId === record.id && meta.part === ref.part && meta.size === ref.size && meta.sha256 === ref.sha256 ? "ok" : "disagrees";
    }
    const keys = parseKeySidecar(bytes);
    return keys.backupId === record.id && (!ref.dekId || keys.dekId === ref.dekId.toLowerCase()) ? "ok" : "disagrees";
  } catch {
    return "invalid";
  }
}

/** A sidecar made from the catalog alone, when no provider has a good one. */
function fromCatalog({ kind, record, ref }: { kind: SidecarKind; record: BackupRecord; ref: ArtifactPartRef }): Buffer | undefined {
  try {
    if (kind === "keys") {
      if (!ref.keySidecar) return undefined;
      const bytes = Buffer.from(serializeKeySidecar(parseKeySidecar(ref.keySidecar)));
      return judge({ kind, bytes, record, ref }) === "ok" ? bytes : undefined;
    }
    if (record.backupType === "customer") return undefined;
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
      contentEncoding: record.backupType === "disaster" && ref.part === "data" ? "pg_dump-custom" : "gzip",
      manifest: {
        ...(typeof rows === "number" ? { rows } : {}),
        ...(tables && typeof tables === "object" ? { tables: Array.isArray(tables) ? tables.length : Object.keys(tables).length } : {}),
        regeneratedFrom: "catalog",
      },
    });
  } catch {
    return undefined;
  }
}

/**
 * Makes the two sidecars of one artifact byte-identical on every provider in `holders` (those
 * that hold a good copy of the artifact). The copy to spread is the first valid one that agrees
 * with the catalog (for the key sidecar, preferably the one equal to the catalog's), else one
 * rebuilt from the catalog. Sidecars are small: they are read whole.
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
  const outcomes: SidecarOutcome[] = [];
  const targets = backends.filter((b) => holders.has(b.name));
  for (const kind of ["keys", "meta"] as const) {
    const key = kind === "keys" ? keysSidecarKey(ref.key) : metaSidecarKey(ref.key);
    const found = await Promise.all(targets.map((backend) => readSidecar({ backend, key, signal })));
    const judged = found.map((f) => ({ ...f, verdict: f.state === "present" ? judge({ kind, bytes: f.bytes!, record, ref }) : undefined }));
    const agreeing = judged.filter((f) => f.verdict === "ok");
    const catalogBytes = kind === "keys" ? fromCatalog({ kind, record, ref }) : undefined;
    const chosen = (catalogBytes && agreeing.find((f) => f.bytes!.equals(catalogBytes))?.bytes) ?? agreeing[0]?.bytes ?? catalogBytes ?? fromCatalog({ kind, record, ref });
    for (const f of judged) {
      const foundState: SidecarOutcome["found"] = f.state === "missing" ? "missing" : f.state === "unreachable" ? "unreachable" : f.verdict === "ok" ? "ok" : f.verdict!;
      const base = { provider: f.backend.name, kind, found: foundState };
      if (f.state === "unreachable") {
        outcomes.push({ ...base, state: "unreachable", detail: errorText(f.error) });
        continue;
      }
      if (chosen && f.bytes?.equals(chosen)) {
        outcomes.push({ ...base, state: "ok" });
        continue;
      }
      // Valid and agreeing but not the chosen bytes (e.g. another key wrapping): still different, spread the chosen one.
      const problem = foundState === "ok" ? "differs from the other providers' copy" : foundState;
      if (!heal || !chosen) {
        outcomes.push({ ...base, state: foundState === "ok" ? "disagrees" : foundState, detail: chosen ? problem : `${problem}; no good copy to heal from` });
        continue;
      }
      try {
        await f.backend.put(key, chosen, { contentType: "application/json", ...(signal ? { signal } : {}) });
        outcomes.push({ ...base, state: "healed", detail: problem });
      } catch (error) {
        if (isStorageError(error, "storage_aborted")) throw error;
        outcomes.push({ ...base, state: foundState === "ok" ? "disagrees" : foundState, detail: `${problem}; heal failed: ${errorText(error)}` });
      }
    }
  }
  return outcomes;
}
