import { createHash } from "node:crypto";
import type { StorageBackend } from "../backend";
import { isStorageError } from "../errors";

export interface VerifyObjectOptions {
  backend: StorageBackend;
  key: string;
  /** Lowercase hex SHA-256 the bytes must have. */
  expectedSha256?: string;
  expectedSize?: number;
  signal?: AbortSignal | undefined;
}

export type VerifyProblem = "missing" | "size_mismatch" | "checksum_mismatch" | "unreadable";

export interface VerifyResult {
  provider: string;
  key: string;
  /** The object exists, was read to the end, and matches every expectation given. */
  ok: boolean;
  problem?: VerifyProblem | undefined;
  /** What was read (absent when the object could not be read at all). */
  size?: number | undefined;
  sha256?: string | undefined;
  /** The error behind `missing` / `unreadable`. */
  error?: unknown;
}

/**
 * Keyless verification: stream the whole object through SHA-256 without keeping it, and compare
 * size and checksum with what the catalog (or a sidecar) says. Never throws for a bad, missing or
 * unreadable object: it reports (`problem`, `error`), so a sweep can record the result per provider.
 * Only a programming error or an abort throws.
 */
export async function verifyObject(opts: VerifyObjectOptions): Promise<VerifyResult> {
  const { backend, key, expectedSha256, expectedSize, signal } = opts;
  const base = { provider: backend.name, key };
  if (expectedSize !== undefined) {
    // A cheap first look: a wrong size needs no download.
    try {
      const info = await backend.head(key, signal ? { signal } : {});
      if (!info) return { ...base, ok: false, problem: "missing" };
      if (info.size !== expectedSize) return { ...base, ok: false, problem: "size_mismatch", size: info.size };
    } catch (error) {
      if (isStorageError(error, "storage_aborted")) throw error;
      return { ...base, ok: false, problem: "unreadable", error };
    }
  }
  const hash = createHash("sha256");
  let size = 0;
  try {
    const stream = await backend.get(key, signal ? { signal } : {});
    for await (const chunk of stream) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch (error) {
    if (isStorageError(error, "storage_aborted")) throw error;
    if (isStorageError(error, "storage_not_found")) return { ...base, ok: false, problem: "missing", error };
    return { ...base, ok: false, problem: "unreadable", error };
  }
  const sha256 = hash.digest("hex");
  if (expectedSize !== undefined && size !== expectedSize) return { ...base, ok: false, problem: "size_mismatch", size, sha256 };
  if (expectedSha256 !== undefined && sha256 !== expectedSha256.toLowerCase()) return { ...base, ok: false, problem: "checksum_mismatch", size, sha256 };
  return { ...base, ok: true, size, sha256 };
}
