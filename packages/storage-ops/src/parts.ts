import type { BackupRecord } from "@hesaab/db";
import type { ArtifactPart } from "@hesaab/storage";
import { StorageOpsError } from "./errors";

/**
 * One object a backup consists of. A tenant backup is one artifact; a disaster backup is two (the
 * pg_dump and the configuration bundle, the latter described in `metadata.config`). Each artifact
 * has its key sidecar next to it (`<key>.keys.json`, whose metadata describes the artifact; older
 * artifacts have a `<key>.meta.json` for that).
 */
export interface ArtifactPartRef {
  part: ArtifactPart;
  /** Object key in every provider (relative to the backend, which may carry a key prefix). */
  key: string;
  size: number;
  /** Lowercase hex SHA-256 of the ciphertext, as the catalog records it. */
  sha256: string;
  /** The dek id the key sidecar must name (hex), when the catalog knows it. */
  dekId?: string | undefined;
  /** The key sidecar as the catalog holds it, when it does. */
  keySidecar?: Record<string, unknown> | undefined;
}

/** Statuses whose artifacts must exist in the providers. */
export const GOOD_STATUSES = ["completed", "degraded"] as const;

export function isGood(record: Pick<BackupRecord, "status">): boolean {
  return (GOOD_STATUSES as readonly string[]).includes(record.status);
}

/** The key of a backup's main artifact: `metadata.key`, else a provider location, else a filename that is a full key. */
export function recordKey(record: BackupRecord): string | undefined {
  const fromMeta = record.metadata?.key;
  if (typeof fromMeta === "string" && fromMeta) return fromMeta;
  for (const copy of Object.values(record.providers ?? {})) if (copy?.location) return copy.location;
  if (record.b2Location) return record.b2Location;
  if (record.r2Location) return record.r2Location;
  return record.filename.includes("/") ? record.filename : undefined;
}

/**
 * The artifacts of a record, data first. Throws `storage_ops_record_incomplete` when the record
 * names no key or has no checksum (a record that never completed).
 */
export function recordParts(record: BackupRecord): ArtifactPartRef[] {
  const key = recordKey(record);
  if (!key || !/^[0-9a-f]{64}$/.test(record.checksum)) {
    throw new StorageOpsError({
      code: "storage_ops_record_incomplete",
      message: `backup ${record.id} has no stored location or checksum`,
      context: { backupId: record.id },
    });
  }
  const parts: ArtifactPartRef[] = [
    {
      part: "data",
      key,
      size: record.fileSize,
      sha256: record.checksum,
      dekId: record.encryptionKeyId || undefined,
      keySidecar: record.keySidecar ?? undefined,
    },
  ];
  const config = record.metadata?.config as { key?: unknown; size?: unknown; sha256?: unknown; dekId?: unknown; keySidecar?: unknown } | undefined;
  if (record.backupType === "disaster" && config && typeof config.key === "string" && typeof config.size === "number" && typeof config.sha256 === "string") {
    parts.push({
      part: "config",
      key: config.key,
      size: config.size,
      sha256: config.sha256,
      dekId: typeof config.dekId === "string" ? config.dekId : undefined,
      keySidecar: typeof config.keySidecar === "object" && config.keySidecar !== null ? (config.keySidecar as Record<string, unknown>) : undefined,
    });
  }
  return parts;
}

/** The bytes a backup occupies in one provider (every part; sidecars are small and not counted). */
export function recordBytes(record: BackupRecord): number {
  const config = record.metadata?.config as { size?: unknown } | undefined;
  return record.fileSize + (record.backupType === "disaster" && typeof config?.size === "number" ? config.size : 0);
}
