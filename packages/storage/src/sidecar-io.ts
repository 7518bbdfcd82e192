import type { ObjectInfo, StorageBackend } from "./backend";
import { isStorageError } from "./errors";
import { metaSidecarKey, parseMetaSidecar, type MetaSidecar } from "./layout";
import { readAll } from "./streams";

const MAX_SIDECAR_BYTES = 1024 * 1024;

/**
 * The bytes of a sidecar object (meta or keys) in one provider; `null` when there is none. At most
 * 1 MiB is read: a sidecar is a few hundred bytes, so anything bigger under its key is cut short (and
 * then fails to parse) instead of being buffered whole. An empty object reads as an empty buffer (S3
 * refuses a range request on it). Other errors (unreachable, aborted) are thrown as they are.
 */
export async function readSidecarBytes(opts: { backend: StorageBackend; key: string; signal?: AbortSignal | undefined }): Promise<Buffer | null> {
  const { backend, key, signal } = opts;
  try {
    return await readAll(await backend.get(key, { range: { start: 0, end: MAX_SIDECAR_BYTES - 1 }, ...(signal ? { signal } : {}) }));
  } catch (err) {
    if (isStorageError(err, "storage_not_found")) return null;
    if (isStorageError(err, "storage_invalid_range")) return Buffer.alloc(0);
    throw err;
  }
}

/**
 * The meta sidecar of `artifactKey` in one provider, parsed and checked; `null` when there is none
 * (or it is empty). A sidecar that is not valid JSON of the right shape is `storage_corrupt` naming
 * the provider.
 */
export async function readMetaSidecar(opts: { backend: StorageBackend; artifactKey: string; signal?: AbortSignal }): Promise<MetaSidecar | null> {
  const { backend, artifactKey, signal } = opts;
  const key = metaSidecarKey(artifactKey);
  const bytes = await readSidecarBytes({ backend, key, signal });
  if (!bytes?.length) return null;
  return parseMetaSidecar(bytes, { provider: backend.name, key });
}

/**
 * For `putEverywhere({ existingChecksum })`: the checksum an existing artifact's meta sidecar
 * records, when the sidecar exists, is valid and agrees on the size; otherwise `undefined` (then
 * `putEverywhere` hashes the copy itself). Saves downloading an artifact just to compare it.
 */
export async function checksumFromMetaSidecar(args: { backend: StorageBackend; key: string; info: ObjectInfo }): Promise<string | undefined> {
  try {
    const meta = await readMetaSidecar({ backend: args.backend, artifactKey: args.key });
    return meta && meta.size === args.info.size ? meta.sha256 : undefined;
  } catch {
    return undefined;
  }
}
