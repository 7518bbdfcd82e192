import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { StorageBackend } from "../backend";
import { StorageError, abortedError, isPermanent, isStorageError } from "../errors";
import { SHA256_METADATA } from "./put-everywhere";
import { verifyObject } from "./verify";

export interface ReadWithFailoverOptions {
  /** Providers in order of preference. */
  backends: StorageBackend[];
  key: string;
  /** Lowercase hex SHA-256 of the whole object (from the catalog or the meta sidecar). */
  expectedSha256?: string;
  expectedSize?: number;
  /**
   * Hash each candidate completely (`verifyObject`) before streaming from it, so a corrupt copy is
   * skipped instead of failing at the end of the stream. Costs one extra download of the good copy;
   * right for restores ("verify the artifact first"). Needs `expectedSha256`. Default false.
   */
  verifyFirst?: boolean;
  signal?: AbortSignal | undefined;
}

export type FailoverStage = "verify" | "head" | "open" | "stream" | "end";

export interface FailoverFailure {
  provider: string;
  stage: FailoverStage;
  error: unknown;
}

export interface FailoverReport {
  /** Providers whose bytes made up the stream, in order (more than one after a mid-stream failover). */
  servedBy: string[];
  failures: FailoverFailure[];
  size: number;
  sha256: string;
}

export interface FailoverRead {
  /** The object's bytes. Errors (`storage_corrupt`, `storage_short_read`, …) if the end does not verify. */
  stream: Readable;
  /** The provider the stream started from. */
  provider: string;
  /** Failures so far (grows if the stream fails over mid-way); record them. */
  failures: FailoverFailure[];
  /** Settles when the stream has ended: resolves with the report once every byte verified, rejects with the stream's error. */
  done: Promise<FailoverReport>;
}

/**
 * Read an object from the first provider that can serve it, falling back to the next one:
 *
 *  - before any byte: on an error, a missing object, a size that is not `expectedSize`, a `sha256`
 *    metadata that is not `expectedSha256`, or (with `verifyFirst`) a copy whose bytes do not hash
 *    to `expectedSha256`;
 *  - mid-stream, when `expectedSha256` is given: if the current provider's stream breaks (or ends
 *    short of `expectedSize`), the rest is read from the next provider with a byte range starting
 *    where it stopped. The final checksum covers the spliced stream, so a splice of two different
 *    copies cannot pass.
 *
 * The checksum is only known at the end: without `verifyFirst`, a corrupt copy is detected after
 * its bytes were delivered, and the stream errors with `storage_corrupt` (the caller then retries,
 * e.g. with `verifyFirst`, or with that provider last). Rejects before streaming when no provider
 * can serve: `storage_not_found` when every provider lacks the object, `storage_unavailable`
 * (retryable) when any failure was retryable, else `storage_corrupt`.
 */
export async function readWithFailover(opts: ReadWithFailoverOptions): Promise<FailoverRead> {
  const { backends, key, expectedSize, signal } = opts;
  const expectedSha = opts.expectedSha256?.toLowerCase();
  if (backends.length === 0) {
    throw new StorageError({ code: "storage_invalid_argument", provider: "none", key, message: "readWithFailover needs at least one backend" });
  }
  if (opts.verifyFirst && expectedSha === undefined) {
    throw new StorageError({
      code: "storage_invalid_argument",
      provider: backends.map((b) => b.name).join(","),
      key,
      message: "verifyFirst needs expectedSha256",
    });
  }
  const failures: FailoverFailure[] = [];
  const group = backends.map((b) => b.name).join(",");

  // A copy's errors are seen by pump's iteration; before it starts (the reader aborted early) they
  // must not be uncaught ones.
  const openFrom = async (from: number, start: number) => {
    const opened = await openUsable({ opts, expectedSha, group, failures, from, start });
    opened?.stream.on("error", () => {});
    return opened;
  };

  const first = await openFrom(0, 0);
  if (!first) throw noProvider({ key, group, failures });
  let current = first;

  const servedBy = [backends[first.index]!.name];
  let resolveDone!: (r: FailoverReport) => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<FailoverReport>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  done.catch(() => {}); // the stream carries the error too; never an unhandled rejection

  async function* pump(): AsyncGenerator<Buffer> {
    const hash = createHash("sha256");
    let size = 0;
    for (;;) {
      const provider = backends[current.index]!.name;
      let failure: { stage: FailoverStage; error: unknown } | undefined;
      try {
        for await (const chunk of current.stream) {
          const buf = chunk as Buffer;
          hash.update(buf);
          size += buf.length;
          yield buf;
        }
        if (expectedSize !== undefined && size < expectedSize) {
          failure = {
            stage: "end",
            error: new StorageError({
              code: "storage_short_read",
              provider,
              key,
              message: `${provider}: ${key} ended after ${size} of ${expectedSize} bytes`,
              context: { expected: expectedSize, received: size },
            }),
          };
        }
      } catch (error) {
        if (isStorageError(error, "storage_aborted") || signal?.aborted) throw abortedError(provider, key);
        failure = { stage: "stream", error };
      }
      if (!failure) break;
      current.stream.destroy();
      failures.push({ provider, ...failure });
      // Splicing another copy in is only safe when the final checksum will check the whole.
      if (expectedSha === undefined) throw failure.error;
      const next = await openFrom(current.index + 1, size);
      if (!next) throw failure.error;
      current = next;
      servedBy.push(backends[next.index]!.name);
    }
    const sha256 = hash.digest("hex");
    checkWhole({ key, expectedSize, expectedSha, size, sha256, servedBy, failures });
    resolveDone({ servedBy: [...servedBy], failures: [...failures], size, sha256 });
  }

  const stream = Readable.from(pump(), { objectMode: false });
  stream.once("error", (err) => rejectDone(err));
  stream.once("close", () => {
    current.stream.destroy(); // a stream destroyed before its first read never ran pump: the copy it opened is let go here
    rejectDone(abortedError(group, key)); // no-op once resolved
  });
  return { stream, provider: servedBy[0]!, failures, done };
}

/** Open the object (from byte `start`) at the first usable provider from index `from`; undefined when none can. */
async function openUsable({
  opts,
  expectedSha,
  group,
  failures,
  from,
  start,
}: {
  opts: ReadWithFailoverOptions;
  expectedSha: string | undefined;
  group: string;
  failures: FailoverFailure[];
  from: number;
  start: number;
}): Promise<{ index: number; stream: Readable } | undefined> {
  const { backends, key, expectedSize, signal } = opts;
  for (let i = from; i < backends.length; i++) {
    const backend = backends[i]!;
    if (signal?.aborted) throw abortedError(group, key);
    if (opts.verifyFirst && start === 0) {
      const v = await verifyObject({
        backend,
        key,
        ...(expectedSha ? { expectedSha256: expectedSha } : {}),
        ...(expectedSize === undefined ? {} : { expectedSize }),
        ...(signal ? { signal } : {}),
      });
      if (!v.ok) {
        failures.push({ provider: backend.name, stage: "verify", error: v.error ?? problemError({ backend, key, problem: v.problem, actual: v }) });
        continue;
      }
    }
    let stage: FailoverStage = "head";
    try {
      const info = await backend.head(key, signal ? { signal } : {});
      if (!info) {
        failures.push({
          provider: backend.name,
          stage: "head",
          error: new StorageError({ code: "storage_not_found", provider: backend.name, key, message: `${backend.name}: object ${key} not found` }),
        });
        continue;
      }
      if (expectedSize !== undefined && info.size !== expectedSize) {
        failures.push({ provider: backend.name, stage: "head", error: problemError({ backend, key, problem: "size_mismatch", actual: { size: info.size } }) });
        continue;
      }
      const stored = info.metadata[SHA256_METADATA]?.toLowerCase();
      if (expectedSha !== undefined && stored !== undefined && stored !== expectedSha) {
        failures.push({
          provider: backend.name,
          stage: "head",
          error: problemError({ backend, key, problem: "checksum_mismatch", actual: { sha256: stored } }),
        });
        continue;
      }
      stage = "open";
      const stream = await backend.get(key, { ...(start > 0 ? { range: { start } } : {}), ...(signal ? { signal } : {}) });
      return { index: i, stream };
    } catch (error) {
      if (isStorageError(error, "storage_aborted")) throw error;
      failures.push({ provider: backend.name, stage, error });
    }
  }
  return undefined;
}

/** The spliced stream as a whole: its size and checksum must be the expected ones (a mismatch is recorded against the last provider). */
function checkWhole({
  key,
  expectedSize,
  expectedSha,
  size,
  sha256,
  servedBy,
  failures,
}: {
  key: string;
  expectedSize: number | undefined;
  expectedSha: string | undefined;
  size: number;
  sha256: string;
  servedBy: string[];
  failures: FailoverFailure[];
}): void {
  const last = servedBy.at(-1)!;
  if (expectedSize !== undefined && size !== expectedSize) {
    throw new StorageError({
      code: "storage_corrupt",
      provider: servedBy.join(","),
      key,
      message: `${key} from ${servedBy.join("+")} has ${size} bytes, expected ${expectedSize}`,
      context: { expected: expectedSize, actual: size, servedBy },
    });
  }
  if (expectedSha !== undefined && sha256 !== expectedSha) {
    const corrupt = new StorageError({
      code: "storage_corrupt",
      provider: servedBy.join(","),
      key,
      message: `${key} from ${servedBy.join("+")} does not match its checksum`,
      hint: "Read it again with verifyFirst, or from another provider, and heal the corrupt copy",
      context: { expected: expectedSha, actual: sha256, servedBy },
    });
    failures.push({ provider: last, stage: "end", error: corrupt });
    throw corrupt;
  }
}

function problemError(args: {
  backend: StorageBackend;
  key: string;
  problem: string | undefined;
  actual: { size?: number | undefined; sha256?: string | undefined };
}): StorageError {
  const { backend, key, problem, actual } = args;
  if (problem === "missing")
    return new StorageError({ code: "storage_not_found", provider: backend.name, key, message: `${backend.name}: object ${key} not found` });
  return new StorageError({
    code: "storage_corrupt",
    provider: backend.name,
    key,
    message: `${backend.name}: copy of ${key} failed verification (${problem ?? "unknown"})`,
    context: { problem, ...actual },
  });
}

function noProvider(args: { key: string; group: string; failures: FailoverFailure[] }): StorageError {
  const { key, group, failures } = args;
  const allMissing = failures.every((f) => isStorageError(f.error, "storage_not_found"));
  const anyRetryable = failures.some((f) => !isPermanent(f.error));
  const code = allMissing ? "storage_not_found" : anyRetryable ? "storage_unavailable" : "storage_corrupt";
  return new StorageError({
    code,
    provider: group,
    key,
    message: `no provider could serve ${key}: ${failures.map((f) => `${f.provider} (${f.stage}): ${f.error instanceof Error ? f.error.message : String(f.error)}`).join("; ")}`,
    cause: failures[0]?.error,
    context: { failures: failures.map((f) => ({ provider: f.provider, stage: f.stage, code: (f.error as { code?: string } | undefined)?.code })) },
  });
}
