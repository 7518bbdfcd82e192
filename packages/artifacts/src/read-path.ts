import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { PassThrough, Writable, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { decodeContent } from "./content-encoding";
import { ArtifactsError } from "./errors";
import { createDecryptStream, parseKeySidecar, type ArtifactIdentity, type KeyRing, type KeySidecar } from "@hesaab/crypto";
import { StorageError, isStorageError, keysSidecarKey, readSidecarBytes, readWithFailover, type FailoverFailure, type StorageBackend } from "@hesaab/storage";

/**
 * The read path, the write path backwards:
 *
 *     provider (failover) ─▶ [SHA-256 + size checked] ─▶ BKP1 decrypt (authenticated) ─▶ gunzip / zstd -d ─▶ plaintext
 *
 * A restore never streams from a provider straight into the database: `stageArtifact` first
 * downloads a verified copy (checksum, with failover to the other provider), `verifyStaged` then
 * decrypts and decompresses all of it to nowhere, and only then `openStaged` feeds the load.
 * How the plaintext is decompressed is what the artifact's authenticated header says (contentEncoding:
 * none, gzip or zstd), not the catalog: gzip and zstd backups restore side by side.
 */

export interface ArtifactRef {
  key: string;
  /** From the catalog or the meta sidecar. */
  sha256: string;
  size: number;
  identity: ArtifactIdentity;
  /** The key sidecar from the catalog; when absent it is read from the provider that serves the artifact. */
  sidecar?: KeySidecar | string | undefined;
  /** Plaintext bytes the backup recorded; `verifyStaged` checks that decrypting gives exactly these. */
  plaintextBytes?: number;
}

/** Decrypts (and decompresses, as its header says) a ciphertext stream into a plaintext stream. Errors propagate: the plaintext stream fails, it never ends short. */
export async function decryptArtifact({
  ciphertext,
  ref,
  keyRing,
}: {
  ciphertext: Readable;
  ref: ArtifactRef & { sidecar: KeySidecar | string };
  keyRing: KeyRing;
}): Promise<Readable> {
  const { dek, dekId } = await keyRing.openArtifact({ sidecar: ref.sidecar, expect: ref.identity });
  const decrypt = createDecryptStream({ dek, dekId, expect: ref.identity });
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const decode = decodeContent({ encoding: () => decrypt.header!.contentEncoding, key: ref.key });
  pipeline(ciphertext, decrypt, decode, out)
    .catch((err: unknown) => out.destroy(err as Error))
    .finally(() => dek.reveal().fill(0));
  return out;
}

export interface StagedArtifact {
  file: string;
  provider: string;
  failures: FailoverFailure[];
  sidecar: KeySidecar;
  ref: ArtifactRef;
  remove(): Promise<void>;
}

/**
 * Downloads a verified copy of the artifact to `dir`: from the first provider whose copy hashes to
 * the catalog's checksum (failover on error, absence or mismatch), with its key sidecar.
 */
export async function stageArtifact({
  ref,
  backends,
  dir,
  signal,
}: {
  ref: ArtifactRef;
  backends: StorageBackend[];
  dir: string;
  signal?: AbortSignal | undefined;
}): Promise<StagedArtifact> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${ref.identity.backupId}.bkp1`);
  const failures: FailoverFailure[] = [];
  let candidates = backends;
  let provider: string | undefined;
  // The checksum is known only at the end of a copy: a corrupt copy fails the download late. Then
  // try again without that provider, so one bad copy costs one download, not a restore.
  while (!provider) {
    const read = await readWithFailover({ backends: candidates, key: ref.key, expectedSha256: ref.sha256, expectedSize: ref.size, signal });
    try {
      await pipeline(read.stream, createWriteStream(file), { signal });
      const report = await read.done;
      failures.push(...report.failures);
      provider = report.servedBy[report.servedBy.length - 1] ?? read.provider;
    } catch (err) {
      await rm(file, { force: true });
      read.done.catch(() => {});
      failures.push(...read.failures, { provider: read.provider, stage: "end", error: err });
      candidates = candidates.filter((b) => b.name !== read.provider);
      if (!isStorageError(err) || err.code !== "storage_corrupt" || candidates.length === 0) throw err;
    }
  }
  let sidecar: KeySidecar;
  if (ref.sidecar) sidecar = parseKeySidecar(ref.sidecar);
  else {
    const backend = backends.find((b) => b.name === provider)!;
    const key = keysSidecarKey(ref.key);
    const bytes = await readSidecarBytes({ backend, key, signal });
    if (!bytes)
      throw new StorageError({
        code: "storage_not_found",
        provider,
        key,
        message: `${provider}: the artifact has no key sidecar`,
        hint: "Run `hesaab storage replicate <backup id>` to heal its sidecars from the other provider or the catalog",
      });
    sidecar = parseKeySidecar(bytes);
  }
  return { file, provider, failures, sidecar, ref, remove: () => rm(file, { force: true }) };
}

/**
 * Decrypts and decompresses the whole staged artifact to nowhere: every tag, the final chunk and each
 * gzip member's trailer (zstd frame's checksum) are checked, and the plaintext's size against the recorded one when the ref
 * has it (members and frames are checked one by one: the size is what would show one missing). Returns
 * plaintext bytes.
 */
export async function verifyStaged({ staged, keyRing }: { staged: StagedArtifact; keyRing: KeyRing }): Promise<number> {
  const plaintext = await openStaged({ staged, keyRing });
  let bytes = 0;
  await pipeline(
    plaintext,
    new Writable({
      highWaterMark: 1 << 20,
      write(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        cb();
      },
    }),
  );
  const expected = staged.ref.plaintextBytes;
  if (expected !== undefined && bytes !== expected) {
    throw new ArtifactsError({
      code: "artifact_plaintext_mismatch",
      message: `${staged.ref.key} decrypts to ${bytes} bytes, the backup recorded ${expected}`,
      hint: "This copy is not the backup that was taken: use the other provider's copy, or another backup",
      context: { key: staged.ref.key, provider: staged.provider, bytes, expected },
    });
  }
  return bytes;
}

export function openStaged({ staged, keyRing }: { staged: StagedArtifact; keyRing: KeyRing }): Promise<Readable> {
  return decryptArtifact({ ciphertext: createReadStream(staged.file, { highWaterMark: 1 << 20 }), ref: { ...staged.ref, sidecar: staged.sidecar }, keyRing });
}
