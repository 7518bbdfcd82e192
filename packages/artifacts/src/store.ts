import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  createEncryptStream,
  encryptBuffer,
  serializeKeySidecar,
  type ArtifactIdentity,
  type ContentEncoding,
  type KeyRing,
  type KeySidecar,
  type SealedArtifactKeys,
} from "@hesaab/crypto";
import {
  encodeMetaSidecar,
  putEverywhere,
  putKeysSidecar,
  StorageError,
  type ArtifactPart,
  type BackupType,
  type ManifestSummary,
  type ProviderOutcome,
  type PutEverywhereResult,
  type StorageBackend,
  UploadEtags,
} from "@hesaab/storage";
import { compressBytes, compressStream, type Compression } from "./content-encoding";

/**
 * The write path of every artifact, spelled out once:
 *
 *     plaintext ─▶ gzip or zstd (optional) ─▶ BKP1 encrypt ─▶ [SHA-256 + size] ─▶ tee ─▶ every provider
 *
 * then, on every provider that holds the artifact, its key sidecar `<key>.keys.json` (the wrapped
 * data key) carrying the artifact's description (what, whose, when, size, checksum) as metadata, so
 * the bucket describes itself. A provider that took the artifact but not the sidecar counts as
 * failed: without it the copy is not usable on its own, and storage-svc heals it like a missing one.
 *
 * A plaintext given as a `Buffer` (a small tenant's script, built in memory) takes the same steps
 * without streams: compress, one `encryptBuffer`, one whole-body put per provider.
 *
 * gzip is @hesaab/gzip's: libdeflate when built (a stream becomes a series of 1 MiB gzip members,
 * two compressed at once), node:zlib otherwise; gunzip reads either as one stream. zstd is
 * @hesaab/zstd's, the same shape (1 MiB frames; `zstd -d` reads them as one stream). The BKP1 header's
 * contentEncoding says which: the read path decodes by it.
 */

export interface StoreArtifactOptions {
  plaintext: Readable | Buffer;
  identity: ArtifactIdentity;
  keyRing: KeyRing;
  /** This artifact's keys when already sealed (`KeyRing.sealNewArtifacts` for a batch); sealed here otherwise. Its data key is wiped after use. */
  sealed?: SealedArtifactKeys;
  backends: StorageBackend[];
  key: string;
  /** gzip level (1-9) to compress before encrypting; `false` when the plaintext is already compressed (pg_dump -Fc). */
  gzipLevel: number | false;
  /** zstd level (1-19): compress with zstd instead of gzip (BACKUP_COMPRESSION=zstd). Not with `gzipLevel: false`. */
  zstdLevel?: number | undefined;
  meta: { type: BackupType; part?: ArtifactPart; createdAt: Date; manifest?: ManifestSummary | (() => ManifestSummary) };
  /**
   * `key` names an id minted for this very artifact (a new backup's id), so no provider can hold it
   * yet: skip the existence check, a request per provider (putEverywhere's `knownAbsent`). Leave it
   * unset when the key may already exist (a retried write under the same id). Default false.
   */
  freshKey?: boolean;
  /**
   * Also compute the ETags an S3-compatible provider would answer for this artifact uploaded in parts
   * of this size (`UploadEtags`; `S3_DEFAULT_PART_SIZE` for our s3 backend): a provider that answers
   * one of them proved its copy, no read-back needed. Two MD5 passes over the artifact. Default: off.
   */
  etagPartSize?: number;
  signal?: AbortSignal | undefined;
}

export interface StoredArtifact {
  key: string;
  size: number;
  sha256: string;
  contentEncoding: ContentEncoding;
  sidecar: KeySidecar;
  dekId: string;
  outcomes: ProviderOutcome[];
  okProviders: string[];
  failedProviders: string[];
  /** With `etagPartSize`: the ETags that prove a provider's copy (`etagProvesCopy(outcome.etag, uploadEtags)`). */
  uploadEtags?: string[];
}

export async function storeArtifact(opts: StoreArtifactOptions): Promise<StoredArtifact> {
  const { identity, keyRing, backends, key, signal } = opts;
  const compression = compressionOf(opts);
  const contentEncoding = compression?.codec ?? "none";
  const sealed = opts.sealed ?? (await keyRing.sealNewArtifact(identity));
  const etags = opts.etagPartSize === undefined ? undefined : new UploadEtags(opts.etagPartSize);
  let result: PutEverywhereResult;
  try {
    result = Buffer.isBuffer(opts.plaintext)
      ? await storeBytes({ ...opts, plaintext: opts.plaintext, sealed, compression, etags })
      : await storeStream({ ...opts, plaintext: opts.plaintext, sealed, compression, etags });
  } finally {
    sealed.dek.reveal().fill(0);
  }

  const manifest = typeof opts.meta.manifest === "function" ? opts.meta.manifest() : (opts.meta.manifest ?? {});
  const keysJson = Buffer.from(serializeKeySidecar(sealed.sidecar));
  const metaJson = encodeMetaSidecar({
    backupId: identity.backupId,
    type: opts.meta.type,
    part: opts.meta.part,
    tenantId: identity.kind === "platform" ? null : identity.tenantId,
    createdAt: opts.meta.createdAt,
    size: result.size,
    sha256: result.sha256,
    contentEncoding: opts.meta.type === "disaster" && opts.meta.part !== "config" ? "pg_dump-custom" : contentEncoding,
    manifest,
  });
  const outcomes = [...result.outcomes];
  await Promise.all(
    outcomes.map(async (outcome, i) => {
      if (!outcome.ok) return;
      const backend = backends.find((b) => b.name === outcome.provider)!;
      try {
        await putKeysSidecar({ backend, artifactKey: key, keys: keysJson, meta: metaJson, signal });
      } catch (error) {
        outcomes[i] = { ...outcome, ok: false, error };
      }
    }),
  );
  const okProviders = outcomes.filter((o) => o.ok).map((o) => o.provider);
  if (okProviders.length === 0) {
    throw new StorageError({
      code: "storage_all_providers_failed",
      provider: backends.map((b) => b.name).join(","),
      key,
      retryable: true,
      message: `no provider holds ${key} with its sidecars`,
      cause: outcomes.find((o) => o.error)?.error,
    });
  }
  return {
    key,
    size: result.size,
    sha256: result.sha256,
    contentEncoding,
    sidecar: sealed.sidecar,
    dekId: sealed.sidecar.dekId,
    outcomes,
    okProviders,
    failedProviders: outcomes.filter((o) => !o.ok).map((o) => o.provider),
    ...(etags ? { uploadEtags: etags.digests() } : {}),
  };
}

function compressionOf(opts: StoreArtifactOptions): Compression | undefined {
  if (opts.gzipLevel === false) {
    if (opts.zstdLevel !== undefined) throw new RangeError("zstdLevel with gzipLevel: false: an already compressed plaintext is not compressed again");
    return undefined;
  }
  return opts.zstdLevel === undefined ? { codec: "gzip", level: opts.gzipLevel } : { codec: "zstd", level: opts.zstdLevel };
}

type Sealing = StoreArtifactOptions & { sealed: SealedArtifactKeys; compression: Compression | undefined; etags: UploadEtags | undefined };

async function storeStream(opts: Sealing & { plaintext: Readable }): Promise<PutEverywhereResult> {
  const { sealed, identity, compression, signal } = opts;
  const encrypt = createEncryptStream({ dek: sealed.dek, dekId: sealed.dekId, ...identity, contentEncoding: compression?.codec ?? "none" });
  const source = new PassThrough({ highWaterMark: 1 << 20 });
  const stages: NodeJS.ReadWriteStream[] = compression ? [compressStream(compression), encrypt] : [encrypt];
  if (opts.etags) stages.push(UploadEtags.tap(opts.etags));
  // The chain runs while putEverywhere reads `source`; its failure (a database error mid-export)
  // destroys `source`, which makes putEverywhere abort every upload: nothing partial is kept.
  const chain = pipeline([opts.plaintext, ...stages, source], { signal }).catch((err: unknown) => {
    source.destroy(err instanceof Error ? err : new Error(String(err)));
    throw err;
  });
  chain.catch(() => {}); // awaited below; until then a failure must not count as unhandled
  let result;
  try {
    result = await putEverywhere({
      backends: opts.backends,
      key: opts.key,
      source,
      signal,
      contentType: "application/octet-stream",
      knownAbsent: opts.freshKey ?? false,
    });
  } finally {
    await chain.catch(() => {});
  }
  await chain;
  return result;
}

async function storeBytes(opts: Sealing & { plaintext: Buffer }): Promise<PutEverywhereResult> {
  const { sealed, identity, compression } = opts;
  const body = compression ? await compressBytes(compression, opts.plaintext) : opts.plaintext;
  const artifact = encryptBuffer({ dek: sealed.dek, dekId: sealed.dekId, ...identity, contentEncoding: compression?.codec ?? "none" }, body);
  opts.etags?.update(artifact);
  return putEverywhere({
    backends: opts.backends,
    key: opts.key,
    source: artifact,
    ...(opts.signal ? { signal: opts.signal } : {}),
    contentType: "application/octet-stream",
    knownAbsent: opts.freshKey ?? false,
  });
}
