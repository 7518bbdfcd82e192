import type { ObjectInfo, StorageBackend } from "./backend";
import { isStorageError } from "./errors";
import { META_METADATA, keysSidecarKey, metaMetadata, metaSidecarKey, parseMetaMetadata, parseMetaSidecar, type MetaSidecar } from "./layout";
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
 * The description of `artifactKey` in one provider, parsed and checked: from its key sidecar's
 * metadata, else (an artifact written before the description moved there) from its `.meta.json`;
 * `null` when neither has one. One that is not valid is `storage_corrupt` naming the provider.
 */
export async function readMetaSidecar(opts: { backend: StorageBackend; artifactKey: string; signal?: AbortSignal | undefined }): Promise<MetaSidecar | null> {
  const { backend, artifactKey, signal } = opts;
  const keysKey = keysSidecarKey(artifactKey);
  const info = await backend.head(keysKey, signal ? { signal } : {});
  const inline = info && parseMetaMetadata(info.metadata, { provider: backend.name, key: keysKey });
  if (inline) return inline;
  const key = metaSidecarKey(artifactKey);
  const bytes = await readSidecarBytes({ backend, key, signal });
  if (!bytes?.length) return null;
  return parseMetaSidecar(bytes, { provider: backend.name, key });
}

/** Writes the key sidecar of `artifactKey`, carrying the artifact's description (`encodeMetaSidecar`'s bytes) as its metadata. */
export async function putKeysSidecar(opts: {
  backend: StorageBackend;
  artifactKey: string;
  keys: Buffer;
  meta: Buffer;
  signal?: AbortSignal | undefined;
}): Promise<void> {
  await opts.backend.put(keysSidecarKey(opts.artifactKey), opts.keys, {
    contentType: "application/json",
    metadata: metaMetadata(opts.meta),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
}

/**
 * Replaces the body of an existing key sidecar (a re-wrapped data key) and keeps the description
 * its metadata carries. A sidecar that carries none (the description is in a `.meta.json`) is
 * replaced as it is.
 */
export async function rewriteKeysSidecar(opts: {
  backend: StorageBackend;
  artifactKey: string;
  keys: Buffer;
  signal?: AbortSignal | undefined;
}): Promise<void> {
  const { backend, signal } = opts;
  const key = keysSidecarKey(opts.artifactKey);
  const info = await backend.head(key, signal ? { signal } : {});
  const described = info?.metadata[META_METADATA];
  await backend.put(key, opts.keys, {
    contentType: "application/json",
    ...(described !== undefined ? { metadata: { [META_METADATA]: described } } : {}),
    ...(signal ? { signal } : {}),
  });
}

/**
 * For `putEverywhere({ existingChecksum })`: the checksum an existing artifact's description
 * records, when it exists, is valid and agrees on the size; otherwise `undefined` (then
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
