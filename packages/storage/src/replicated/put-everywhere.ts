import { createHash } from "node:crypto";
import { PassThrough, type Readable } from "node:stream";
import { SHA256_METADATA, type ObjectInfo, type PutResult, type StorageBackend } from "../backend";
import { StorageError, abortedError, isPermanent, isStorageError } from "../errors";
import { verifyObject } from "./verify";

export { SHA256_METADATA };

export interface PutEverywhereOptions {
  /** The providers to write to. Names must be unique. */
  backends: StorageBackend[];
  key: string;
  /**
   * A stream: read exactly once, destroyed when `putEverywhere` throws. Or the bytes themselves (a
   * small artifact built in memory): hashed up front (so they act as `expectedSha256` and are stored
   * as metadata `sha256`) and handed whole to every provider, which may then retry them.
   */
  source: Readable | Buffer;
  contentType?: string;
  /** Stored on every copy. `sha256` is added when `expectedSha256` is given. */
  metadata?: Record<string, string>;
  /**
   * The SHA-256 (hex) the bytes must have, when the caller knows it before writing (replication of
   * a catalogued artifact, a sidecar). Lets existing copies be compared before reading the source,
   * is stored as metadata `sha256`, and a source that does not match fails with `storage_corrupt`
   * before any provider completes its write.
   */
  expectedSha256?: string;
  expectedSize?: number;
  /**
   * What to do when the key already exists in a provider. `"verify"` (default): same bytes → that
   * provider counts as done without writing; different bytes → `storage_split_brain`. `"overwrite"`:
   * write anyway (only for objects that are meant to change, like a re-wrapped key sidecar).
   */
  onExisting?: "verify" | "overwrite";
  /**
   * The caller has just minted `key` (it holds a fresh unique id, like a new backup's), so no
   * provider can hold it yet: step 1 (`head` every provider) is skipped and every provider is
   * written. Saves a request per provider, which counts when thousands of small artifacts are
   * written. Never set it for a key that may exist: an existing copy would be overwritten unchecked.
   * A provider that is down fails at its put instead of at its head, with the same outcome.
   */
  knownAbsent?: boolean;
  /**
   * How to learn the checksum of an existing copy that has no `sha256` metadata (a streamed upload
   * only knows its checksum at the end, so its copies carry none). Default: read and hash the copy
   * (`verifyObject`), concurrently with the write. A caller with a catalog or a `.meta.json`
   * sidecar can answer without a download. Return `undefined` to fall back to hashing.
   */
  existingChecksum?: (args: { backend: StorageBackend; key: string; info: ObjectInfo }) => Promise<string | undefined>;
  /** Drop a provider that accepts no bytes for this long (ms): a stalled provider must not hold the others. Default 120 000. */
  stallTimeoutMs?: number;
  signal?: AbortSignal | undefined;
}

export interface ProviderOutcome {
  provider: string;
  ok: boolean;
  /** The provider already held these exact bytes; nothing was written to it. */
  alreadyStored: boolean;
  /** Bytes handed to this provider (the whole object when ok). */
  size: number;
  /** The object's SHA-256, when ok. */
  sha256?: string;
  etag?: string;
  /** Why this provider failed (a `StorageError` from the backend or from the tee). */
  error?: unknown;
}

export interface PutEverywhereResult {
  key: string;
  sha256: string;
  size: number;
  outcomes: ProviderOutcome[];
  /** Providers that hold a complete, identical copy now. Never empty (that throws). */
  okProviders: string[];
  /** Providers that do not: the artifact is degraded until healed. */
  failedProviders: string[];
}

const HIGH_WATER = 1024 * 1024;

interface Existing {
  backend: StorageBackend;
  info: ObjectInfo;
  /** Resolves to the existing copy's checksum, or rejects when it cannot be learned. */
  checksum: Promise<string>;
}

interface Branch {
  backend: StorageBackend;
  pass: PassThrough;
  written: number;
  error: unknown;
  result: PutResult | undefined;
  settled: Promise<void>;
  /** Resolves when the branch fails (to wake a writer waiting for "drain"). */
  failedSignal: Promise<void>;
  fail: (err: unknown) => void;
}

/**
 * Write one stream to every provider at once, reading the source once (pgBackRest's archive-push:
 * "source file is read once and copied to all repos"):
 *
 *  1. `head` every provider (skipped with `knownAbsent`). A provider that errors is failed (not written). An existing copy is
 *     compared (see `onExisting`): equal → done, different → `storage_split_brain` (not retryable:
 *     two different artifacts under one name is for a person to resolve).
 *  2. Tee: every chunk of the source is hashed and written to every live provider, waiting for the
 *     slowest (backpressure: a slow provider slows the source, memory stays bounded). A provider
 *     whose put fails, or that takes no bytes for `stallTimeoutMs`, is dropped; the others go on.
 *     When every provider has failed the source is destroyed.
 *  3. At the end of the source, before any provider completes its write: check `expectedSha256` /
 *     `expectedSize` and the checksums of existing copies; on a mismatch every write is aborted.
 *  4. Return per-provider outcomes. No provider ok → `storage_all_providers_failed` (retryable when
 *     any failure was). A source error is rethrown as is, after aborting every write.
 */
export async function putEverywhere(opts: PutEverywhereOptions): Promise<PutEverywhereResult> {
  if (Buffer.isBuffer(opts.source)) return putBufferEverywhere({ ...opts, bytes: opts.source });
  const { backends, key, signal } = opts;
  const source = opts.source;
  const names = backends.map((b) => b.name);
  const group = names.join(",");
  if (backends.length === 0 || new Set(names).size !== names.length) {
    source.destroy();
    throw new StorageError({
      code: "storage_invalid_argument",
      provider: group || "none",
      key,
      message: "putEverywhere needs at least one backend, with unique names",
    });
  }
  const expectedSha = opts.expectedSha256?.toLowerCase();
  const outcomes = new Map<string, ProviderOutcome>(names.map((n) => [n, { provider: n, ok: false, alreadyStored: false, size: 0 }]));
  const fail = (provider: string, error: unknown): void => {
    const o = outcomes.get(provider)!;
    o.ok = false;
    o.error ??= error;
  };

  // 1. What is already there.
  const { targets, existing } = await headEverywhere({ opts, source, expectedSha, outcomes, fail });

  if (targets.length === 0 && existing.length === 0) {
    source.destroy();
    throw allFailed({ key, group, outcomes });
  }
  if (targets.length === 0 && expectedSha !== undefined) {
    // Every reachable provider already holds the bytes: nothing to read.
    source.destroy();
    return finish({ key, sha256: expectedSha, size: opts.expectedSize ?? existing[0]!.info.size, outcomes, group });
  }

  // 2. Tee.
  const metadata = { ...opts.metadata, ...(expectedSha ? { [SHA256_METADATA]: expectedSha } : {}) };
  const branches = targets.map((backend) => openBranch({ backend, key, metadata, contentType: opts.contentType, signal }));
  const { sha256, size } = await teeSource({ opts, source, branches, existing, group, outcomes, fail });

  // 3. Judge before completing any write.
  try {
    checkSource({ group, key, sha256, size, expectedSha, expectedSize: opts.expectedSize });
    if (expectedSha === undefined) await judgeExisting({ existing, sha256, size, key, outcomes });
  } catch (err) {
    await abortBranches(branches, err);
    throw err;
  }

  // 4. Complete the writes.
  await completeWrites({ branches, key, size, sha256, outcomes, fail });
  return finish({ key, sha256, size, outcomes, group });
}

/** 1. `head` every provider: the ones to write (`targets`) and the copies already there (`existing`, judged now when the checksum is known). */
async function headEverywhere({
  opts,
  source,
  expectedSha,
  outcomes,
  fail,
}: {
  opts: PutEverywhereOptions;
  source: Readable;
  expectedSha: string | undefined;
  outcomes: Map<string, ProviderOutcome>;
  fail: (provider: string, error: unknown) => void;
}): Promise<{ targets: StorageBackend[]; existing: Existing[] }> {
  const { backends, key, signal } = opts;
  const targets: StorageBackend[] = [];
  const existing: Existing[] = [];
  try {
    const heads = await Promise.all(
      backends.map(async (backend) => {
        if (opts.knownAbsent) return { backend, info: null };
        try {
          return { backend, info: await backend.head(key, signal ? { signal } : {}) };
        } catch (error) {
          if (isStorageError(error, "storage_aborted")) throw error;
          return { backend, info: undefined, error };
        }
      }),
    );
    for (const h of heads) {
      if (h.info === undefined) fail(h.backend.name, h.error);
      else if (h.info === null || opts.onExisting === "overwrite") targets.push(h.backend);
      else existing.push({ backend: h.backend, info: h.info, checksum: checksumOf({ backend: h.backend, key, info: h.info, opts }) });
    }
    // With the checksum known up front, existing copies are judged before reading anything.
    if (expectedSha !== undefined) await judgeExisting({ existing, sha256: expectedSha, size: opts.expectedSize, key, outcomes });
  } catch (err) {
    source.destroy();
    for (const e of existing) e.checksum.catch(() => {});
    throw err;
  }
  return { targets, existing };
}

/** 2. Tee: every chunk of the source hashed and written to every live branch, at the slowest one's pace. */
async function teeSource({
  opts,
  source,
  branches,
  existing,
  group,
  outcomes,
  fail,
}: {
  opts: PutEverywhereOptions;
  source: Readable;
  branches: Branch[];
  existing: Existing[];
  group: string;
  outcomes: Map<string, ProviderOutcome>;
  fail: (provider: string, error: unknown) => void;
}): Promise<{ sha256: string; size: number }> {
  const { key, signal } = opts;
  const hash = createHash("sha256");
  let size = 0;
  const stallMs = opts.stallTimeoutMs ?? 120_000;
  const onAbort = (): void => {
    source.destroy(abortedError(group, key));
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const chunk of source) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      hash.update(buf);
      size += buf.length;
      const live = branches.filter((b) => b.error === undefined);
      if (live.length === 0 && branches.length > 0 && existing.length === 0) break;
      await Promise.all(live.map((b) => writeChunk({ branch: b, chunk: buf, stallMs, key })));
    }
  } catch (err) {
    signal?.removeEventListener("abort", onAbort);
    await abortBranches(branches, err);
    for (const e of existing) e.checksum.catch(() => {});
    throw signal?.aborted ? abortedError(group, key) : err;
  }
  signal?.removeEventListener("abort", onAbort);
  if (branches.length > 0 && branches.every((b) => b.error !== undefined) && existing.length === 0) {
    source.destroy();
    for (const b of branches) fail(b.backend.name, b.error);
    throw allFailed({ key, group, outcomes });
  }
  const sha256 = hash.digest("hex");

  return { sha256, size };
}

/** 4. Complete the writes and record each provider's outcome. */
async function completeWrites({
  branches,
  key,
  size,
  sha256,
  outcomes,
  fail,
}: {
  branches: Branch[];
  key: string;
  size: number;
  sha256: string;
  outcomes: Map<string, ProviderOutcome>;
  fail: (provider: string, error: unknown) => void;
}): Promise<void> {
  for (const b of branches) if (b.error === undefined) b.pass.end();
  await Promise.all(branches.map((b) => b.settled));
  for (const b of branches) {
    const o = outcomes.get(b.backend.name)!;
    o.size = b.written;
    if (b.error !== undefined) {
      fail(b.backend.name, b.error);
    } else if (b.result && b.result.size !== size) {
      fail(
        b.backend.name,
        new StorageError({
          code: "storage_corrupt",
          provider: b.backend.name,
          key,
          message: `${b.backend.name}: stored ${b.result.size} of ${size} bytes of ${key}`,
        }),
      );
    } else {
      o.ok = true;
      o.sha256 = sha256;
      if (b.result?.etag) o.etag = b.result.etag;
    }
  }
}

/**
 * `putEverywhere` for bytes in memory: the checksum is known before anything is written, so
 * existing copies are judged first and every remaining provider gets one whole-body put, at once.
 */
async function putBufferEverywhere(opts: PutEverywhereOptions & { bytes: Buffer }): Promise<PutEverywhereResult> {
  const { backends, key, bytes, signal } = opts;
  const names = backends.map((b) => b.name);
  const group = names.join(",");
  if (backends.length === 0 || new Set(names).size !== names.length) {
    throw new StorageError({
      code: "storage_invalid_argument",
      provider: group || "none",
      key,
      message: "putEverywhere needs at least one backend, with unique names",
    });
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const size = bytes.length;
  const expectedSha = opts.expectedSha256?.toLowerCase();
  checkSource({ group, key, sha256, size, expectedSha, expectedSize: opts.expectedSize });
  const outcomes = new Map<string, ProviderOutcome>(names.map((n) => [n, { provider: n, ok: false, alreadyStored: false, size: 0 }]));
  const targets: StorageBackend[] = [];
  const existing: Existing[] = [];
  try {
    if (opts.knownAbsent) targets.push(...backends);
    else {
      await Promise.all(
        backends.map(async (backend) => {
          let info: ObjectInfo | null;
          try {
            info = await backend.head(key, signal ? { signal } : {});
          } catch (error) {
            if (isStorageError(error, "storage_aborted")) throw error;
            outcomes.get(backend.name)!.error = error;
            return;
          }
          if (info === null || opts.onExisting === "overwrite") targets.push(backend);
          else existing.push({ backend, info, checksum: checksumOf({ backend, key, info, opts }) });
        }),
      );
    }
    await judgeExisting({ existing, sha256, size, key, outcomes });
  } catch (err) {
    for (const e of existing) e.checksum.catch(() => {});
    throw err;
  }
  const metadata = { ...opts.metadata, [SHA256_METADATA]: sha256 };
  await Promise.all(
    targets.map(async (backend) => {
      const o = outcomes.get(backend.name)!;
      try {
        const r = await backend.put(key, bytes, { metadata, ...(opts.contentType ? { contentType: opts.contentType } : {}), ...(signal ? { signal } : {}) });
        if (r.size !== size)
          throw new StorageError({
            code: "storage_corrupt",
            provider: backend.name,
            key,
            message: `${backend.name}: stored ${r.size} of ${size} bytes of ${key}`,
          });
        Object.assign(o, { ok: true, size, sha256, ...(r.etag ? { etag: r.etag } : {}) });
      } catch (error) {
        o.error ??= error;
      }
    }),
  );
  if (signal?.aborted) throw abortedError(group, key);
  return finish({ key, sha256, size, outcomes, group });
}

function checksumOf(args: { backend: StorageBackend; key: string; info: ObjectInfo; opts: PutEverywhereOptions }): Promise<string> {
  const { backend, key, info, opts } = args;
  const stored = info.metadata[SHA256_METADATA];
  const p = (async () => {
    if (stored) return stored.toLowerCase();
    const known = await opts.existingChecksum?.({ backend, key, info });
    if (known) return known.toLowerCase();
    const v = await verifyObject({ backend, key, ...(opts.signal ? { signal: opts.signal } : {}) });
    if (!v.ok || v.sha256 === undefined)
      throw (
        v.error ??
        new StorageError({ code: "storage_unavailable", provider: backend.name, key, message: `${backend.name}: could not read the existing copy of ${key}` })
      );
    return v.sha256;
  })();
  p.catch(() => {}); // observed later; never an unhandled rejection
  return p;
}

/** Compare existing copies with the bytes being written; equal → done, different → split brain, unknowable → that provider failed. */
async function judgeExisting(args: {
  existing: Existing[];
  sha256: string;
  size: number | undefined;
  key: string;
  outcomes: Map<string, ProviderOutcome>;
}): Promise<void> {
  const { existing, sha256, size, key, outcomes } = args;
  const conflicts: Array<{ provider: string; existingSha256: string; existingSize: number }> = [];
  for (const e of existing) {
    const o = outcomes.get(e.backend.name)!;
    let theirs: string;
    try {
      theirs = await e.checksum;
    } catch (error) {
      if (isStorageError(error, "storage_aborted")) throw error;
      o.error = error;
      continue;
    }
    if (theirs !== sha256 || (size !== undefined && e.info.size !== size)) {
      conflicts.push({ provider: e.backend.name, existingSha256: theirs, existingSize: e.info.size });
    } else {
      o.ok = true;
      o.alreadyStored = true;
      o.size = e.info.size;
      o.sha256 = sha256;
    }
  }
  if (conflicts.length > 0) {
    throw new StorageError({
      code: "storage_split_brain",
      provider: conflicts.map((c) => c.provider).join(","),
      key,
      message: `${key} already exists in ${conflicts.map((c) => c.provider).join(" and ")} with different bytes`,
      hint: "Two different artifacts claim one name: compare them with the catalog before deleting either",
      context: { sha256, size, conflicts },
    });
  }
}

function openBranch(args: {
  backend: StorageBackend;
  key: string;
  metadata: Record<string, string>;
  contentType: string | undefined;
  signal: AbortSignal | undefined;
}): Branch {
  const { backend, key, metadata, contentType, signal } = args;
  const pass = new PassThrough({ highWaterMark: HIGH_WATER });
  pass.on("error", () => {}); // a branch's failure is recorded in `error`, not thrown at the process
  // Each branch has its own signal: dropping a branch aborts its put (a stalled provider included),
  // so waiting for every put to settle always ends. Backends honour signals by contract.
  const ac = new AbortController();
  const onOuterAbort = (): void => ac.abort();
  signal?.addEventListener("abort", onOuterAbort, { once: true });
  let wake!: () => void;
  const failedSignal = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const branch: Branch = {
    backend,
    pass,
    written: 0,
    error: undefined,
    result: undefined,
    settled: Promise.resolve(),
    failedSignal,
    fail: (err) => {
      if (branch.error !== undefined) return;
      branch.error = err;
      wake();
      if (!pass.destroyed) pass.destroy(err instanceof Error ? err : new Error(String(err)));
      ac.abort();
    },
  };
  branch.settled = backend
    .put(key, pass, { metadata, ...(contentType ? { contentType } : {}), signal: ac.signal })
    .then(
      (r) => {
        branch.result = r;
      },
      (err: unknown) => branch.fail(err),
    )
    .finally(() => signal?.removeEventListener("abort", onOuterAbort));
  return branch;
}

/** Write one chunk to one branch, waiting for "drain" (backpressure), the branch's failure, or the stall timeout. */
async function writeChunk(args: { branch: Branch; chunk: Buffer; stallMs: number; key: string }): Promise<void> {
  const { branch, chunk, stallMs, key } = args;
  if (branch.error !== undefined) return;
  branch.written += chunk.length;
  if (branch.pass.write(chunk)) return;
  let timer: NodeJS.Timeout | undefined;
  let onDrain: (() => void) | undefined;
  try {
    await Promise.race([
      new Promise<void>((resolve) => {
        onDrain = resolve;
        branch.pass.once("drain", onDrain);
      }),
      branch.failedSignal,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          branch.fail(
            new StorageError({
              code: "storage_unavailable",
              provider: branch.backend.name,
              key,
              message: `${branch.backend.name}: took no bytes for ${stallMs} ms, dropped from the write`,
              context: { stallMs },
            }),
          );
          resolve();
        }, stallMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onDrain) branch.pass.off("drain", onDrain);
  }
}

async function abortBranches(branches: Branch[], err: unknown): Promise<void> {
  for (const b of branches) b.fail(err);
  await Promise.all(branches.map((b) => b.settled));
}

/** The source's bytes are the ones the caller promised (checksum and size), or `storage_corrupt` before any write completes. */
function checkSource({
  group,
  key,
  sha256,
  size,
  expectedSha,
  expectedSize,
}: {
  group: string;
  key: string;
  sha256: string;
  size: number;
  expectedSha: string | undefined;
  expectedSize: number | undefined;
}): void {
  if (expectedSha !== undefined && sha256 !== expectedSha) {
    throw new StorageError({
      code: "storage_corrupt",
      provider: group,
      key,
      message: `source bytes for ${key} do not match the expected checksum`,
      context: { expected: expectedSha, actual: sha256 },
    });
  }
  if (expectedSize !== undefined && size !== expectedSize) {
    throw new StorageError({
      code: "storage_corrupt",
      provider: group,
      key,
      message: `source for ${key} has ${size} bytes, expected ${expectedSize}`,
      context: { expected: expectedSize, actual: size },
    });
  }
}

function allFailed(args: { key: string; group: string; outcomes: Map<string, ProviderOutcome> }): StorageError {
  const { key, group, outcomes } = args;
  const failures = [...outcomes.values()].filter((o) => !o.ok);
  const retryable = failures.some((o) => !isPermanent(o.error));
  return new StorageError({
    code: "storage_all_providers_failed",
    provider: group,
    key,
    retryable,
    message: `${key} could not be written to any provider: ${failures.map((o) => describe(o.provider, o.error)).join("; ")}`,
    cause: failures[0]?.error,
    context: { failures: failures.map((o) => ({ provider: o.provider, code: (o.error as { code?: string } | undefined)?.code })) },
  });
}

/** `provider: message`; a StorageError's message already starts with its provider's name. */
function describe(provider: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.startsWith(`${provider}: `) ? message : `${provider}: ${message}`;
}

function finish(args: { key: string; sha256: string; size: number; outcomes: Map<string, ProviderOutcome>; group: string }): PutEverywhereResult {
  const { key, sha256, size, outcomes, group } = args;
  const list = [...outcomes.values()];
  const okProviders = list.filter((o) => o.ok).map((o) => o.provider);
  const failedProviders = list.filter((o) => !o.ok).map((o) => o.provider);
  if (okProviders.length === 0) throw allFailed({ key, group, outcomes });
  return { key, sha256, size, outcomes: list, okProviders, failedProviders };
}
