import type { ObjectInfo, StorageBackend } from "./backend";
import { isStorageError } from "./errors";
import { metaSidecarKey, parseMetaSidecar, type MetaSidecar } from "./layout";
import { readAll } from "./streams";

const MAX_SIDECAR_BYTES = 1024 * 1024;

/**
 * The meta sidecar of `artifactKey` in one provider, parsed and checked; `null` when there is none.
 * A sidecar that is not valid JSON of the right shape is `storage_corrupt` naming the provider.
 */
export async function readMetaSidecar(opts: { backend: StorageBackend; artifactKey: string; signal?: AbortSignal }): Promise<MetaSidecar | null> {
  const { backend, artifactKey, signal } = opts;
  const key = metaSidecarKey(artifactKey);
  let bytes: Buffer;
  try {
    bytes = await readAll(await backend.get(key, { range: { start: 0, end: MAX_SIDECAR_BYTES - 1 }, ...(signal ? { signal } : {}) }));
  } catch (err) {
    if (isStorageError(err, "storage_not_found") || isStorageError(err, "storage_invalid_range")) return null;
    throw err;
  }
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
