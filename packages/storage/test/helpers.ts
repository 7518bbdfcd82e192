import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { testProviderConfig, testProviders, uniquePrefix } from "@hesaab/testkit";
import { fsBackend, isStorageError, s3Backend, type S3BackendConfig, type StorageBackend, type StorageError } from "../src";

/** A fresh fs backend in a temp directory; `cleanup` removes it. */
export async function tempFsBackend(name = "fs"): Promise<{ backend: StorageBackend; root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), "hesaab-storage-"));
  return { backend: fsBackend({ name, root }), root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** The S3 backend config of one local s3rver endpoint (b2 or r2), with fast failure by default. */
export function s3Config(which: "b2" | "r2", overrides: Partial<S3BackendConfig> = {}): S3BackendConfig {
  const { kind: _kind, ...base } = testProviderConfig(which);
  return {
    ...base,
    partSize: 5 * 1024 * 1024,
    queueSize: 2,
    ...overrides,
  };
}

export function s3Test(which: "b2" | "r2", overrides: Partial<S3BackendConfig> = {}): StorageBackend {
  return s3Backend(s3Config(which, overrides));
}

function rawClient(which: "b2" | "r2"): S3Client {
  const p = testProviders()[which];
  return new S3Client({
    endpoint: p.endpoint,
    region: p.region,
    forcePathStyle: true,
    credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** Delete every object under `prefix` in the provider's shared test bucket. */
export async function deletePrefix(which: "b2" | "r2", prefix: string): Promise<void> {
  const b = s3Test(which);
  for await (const e of b.list(prefix)) await b.delete(e.key);
}

/** A new, empty bucket on the provider's s3rver; `cleanup` empties and removes it. */
export async function freshBucket(which: "b2" | "r2"): Promise<{ bucket: string; cleanup: () => Promise<void> }> {
  const client = rawClient(which);
  const bucket = `t-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    bucket,
    cleanup: async () => {
      const list = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      for (const o of list.Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! }));
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      client.destroy();
    },
  };
}

export { uniquePrefix };

/** The StorageError `p` rejects with (fails the test when it resolves or rejects with anything else). */
export async function errorOf(p: Promise<unknown>): Promise<StorageError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isStorageError(err)) throw new Error(`expected a StorageError, got ${String(err)}`);
  return err;
}
