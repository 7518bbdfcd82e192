import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { decryptArtifact, openStaged, stageArtifact, type ArtifactRef } from "@hesaab/artifacts";
import { redactUrl } from "@hesaab/config";
import { parseKeySidecar, type ArtifactIdentity, type KeyRing } from "@hesaab/crypto";
import { keysSidecarKey, readAll, readWithFailover, withKeyPrefix, type StorageBackend } from "@hesaab/storage";
import { parseConfigBundle, writeConfigBundle, type ConfigBundle } from "./config-bundle";
import { describe } from "./describe";
import { DrError } from "./errors";
import { findDisasterBackup, type DisasterBackupCopy, type DisasterBackupEntry, type DisasterPartCopy } from "./list";
import { compareCounts, countRowsOf, parseManifest, type DrManifest, type ManifestComparison } from "./manifest";
import { createDatabase, probeDatabase, restoreDump, type DumpSection } from "./pg-tools";
import { createMissingRoles, type RolesReport } from "./roles";

/**
 * A restore from nothing but the buckets and DR_MASTER_KEYS:
 *
 *     target probed: reachable, empty (else refused, naming some of its tables)
 *       ║ beside it: listing of disaster/ in every provider (meta sidecars) → the backup (by id, or the newest complete one)
 *     for each provider holding a complete copy, preferred first, until one works, both parts at once:
 *         config part: download (SHA-256 + size checked) → authenticated decrypt → bundle + manifest
 *         data part:   download (SHA-256 + size checked) → authenticated decrypt to a temp file (every tag, the final chunk)
 *     ── nothing has touched the target until here ──
 *     the backup's roles the target server lacks created (existing ones left alone)
 *     create the target database if it does not exist
 *     pg_restore -j N of definitions and data from the temp file (objects owned by their roles again; `roles: skip`: by the restoring user)
 *     pg_restore -j N of post-data (indexes, constraints, grants) ║ beside it: row counts of every table
 *     counts compared with the manifest; configuration files written to --config-dir
 *
 * A provider that is down, misses the backup, or serves a corrupt, truncated or undecryptable copy
 * is recorded in the report and the next one is used.
 */

export type RestorePhase = "probing" | "listing" | "fetching" | "restoring" | "checking" | "writing-config";

export interface RestorePlatformOptions {
  /** The backup to restore; or `latest`. */
  backupId?: string | undefined;
  latest?: boolean | undefined;
  /** Preferred provider first (`--from`); the others are fallbacks. */
  backends: StorageBackend[];
  /** Needs the DR master key version the backup's key sidecar names. */
  keyRing: KeyRing;
  /** The database to restore into: must be empty (or not exist yet: it is created after verification). */
  targetUrl: string;
  /** Where to write the configuration files of the bundle (re-rooted below it). Not written when absent. */
  configDir?: string | undefined;
  /** pg_restore jobs. Default 2. */
  jobs?: number | undefined;
  /** Restore into a database that is not empty (objects of the same names are dropped first). */
  allowNonEmpty?: boolean | undefined;
  /**
   * The backup's roles: `missing` (default) creates on the target server those it lacks (existing ones
   * are left as they are) before pg_restore applies GRANTs to them; `skip` creates none.
   */
  roles?: "missing" | "skip" | undefined;
  /** Temp files go below it (the decrypted dump: as large as the dump). Default the OS temp dir. */
  workDir?: string | undefined;
  root?: string | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: { phase: RestorePhase; provider?: string }) => void) | undefined;
}

export interface RestoreFailure {
  provider: string;
  stage: "listing" | "config" | "data";
  code: string;
  message: string;
}

export interface RestoreReport {
  /** Every table of the manifest is present with its row count. */
  ok: boolean;
  backupId: string;
  createdAt: string;
  requestedProvider: string;
  providerUsed: string;
  /** True when the requested provider could not serve the backup and another did. */
  fellBack: boolean;
  /** Why providers were passed over. */
  failures: RestoreFailure[];
  target: string;
  createdDatabase: boolean;
  gitCommit: string | null;
  serverVersion: string;
  sourceDatabase: string;
  sourceSizeBytes: number;
  tables: ManifestComparison["tables"];
  mismatches: number;
  configFiles: { path: string; writtenTo: string | null }[];
  /** What became of the backup's roles; null when skipped, or the backup carries none (made before roles were). */
  roles: RolesReport | null;
  bytes: { artifact: number; dump: number };
  durationsMs: { fetch: number; restore: number; check: number; total: number };
}

export async function restorePlatform(opts: RestorePlatformOptions): Promise<RestoreReport> {
  const started = Date.now();
  if (Boolean(opts.backupId) === Boolean(opts.latest)) {
    throw new DrError({ code: "dr_invalid_argument", message: "give a backup id or latest, not both and not neither" });
  }
  const backends = opts.backends.map((b) => withKeyPrefix(b, opts.root ?? ""));
  if (backends.length === 0)
    throw new DrError({ code: "dr_invalid_argument", message: "a restore needs at least one storage provider", hint: "Configure B2_* and/or R2_*" });
  const progress = (phase: RestorePhase, provider?: string) => opts.onProgress?.({ phase, ...(provider ? { provider } : {}) });
  const { signal } = opts;

  // The target's probe beside the listing: a refusal still comes before any download, and wins over a listing's failure.
  progress("probing");
  progress("listing");
  const [probe, { entry, failures }] = await both(checkTarget(opts), locateBackup({ opts, backends, signal }));

  const work = await mkdtemp(path.join(opts.workDir ?? os.tmpdir(), "hesaab-dr-restore-"));
  try {
    progress("fetching");
    const fetchStarted = Date.now();
    const fetched = await fetchVerified({ entry, backends, keyRing: opts.keyRing, work, failures, signal, progress });
    const fetchMs = Date.now() - fetchStarted;

    // Everything is verified: only now is the target touched.
    progress("restoring", fetched.provider);
    const restoreStarted = Date.now();
    const { roles, createdDatabase, actual, checkMs } = await restoreInto({ opts, probe, fetched, signal, progress });
    const restoreMs = Date.now() - restoreStarted;
    const comparison: ManifestComparison = compareCounts({ manifest: fetched.manifest, actual });

    let written: string[] = [];
    if (opts.configDir) {
      progress("writing-config");
      await mkdir(opts.configDir, { recursive: true });
      written = await writeConfigBundle({ bundle: fetched.bundle, dir: opts.configDir });
    }
    const requested = backends[0]!.name;
    return {
      ok: comparison.ok,
      backupId: entry.backupId,
      createdAt: fetched.manifest.createdAt,
      requestedProvider: requested,
      providerUsed: fetched.provider,
      fellBack: fetched.provider !== requested,
      failures,
      target: redactUrl(opts.targetUrl),
      createdDatabase,
      gitCommit: fetched.manifest.gitCommit,
      serverVersion: fetched.manifest.serverVersion,
      sourceDatabase: fetched.manifest.databaseName,
      sourceSizeBytes: fetched.manifest.databaseSizeBytes,
      tables: comparison.tables,
      mismatches: comparison.tables.filter((t) => !t.ok).length,
      configFiles: fetched.bundle.files.map((f, i) => ({ path: f.path, writtenTo: written[i] ?? null })),
      roles,
      bytes: fetched.bytes,
      durationsMs: { fetch: fetchMs, restore: restoreMs, check: checkMs, total: Date.now() - started },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The target first: refusing takes a second, not a download. A database with objects is refused unless `allowNonEmpty`. */
async function checkTarget(opts: RestorePlatformOptions): Promise<{ exists: boolean; objects: string[] }> {
  const probe = await probeDatabase(opts.targetUrl);
  if (probe.objects.length > 0 && !opts.allowNonEmpty) {
    throw new DrError({
      code: "dr_target_not_empty",
      message: `the target database ${redactUrl(opts.targetUrl)} is not empty: it holds ${probe.objects.slice(0, 5).join(", ")}${probe.objects.length > 5 ? " and more" : ""}`,
      hint: "Restore into a new, empty database, or pass --force-non-empty to drop and replace objects of the same names",
      context: { objects: probe.objects.slice(0, 20) },
    });
  }
  return probe;
}

/** The backup asked for (or the latest complete one) in the providers' listings; what a provider lacks or cannot list goes to `failures`. */
async function locateBackup({
  opts,
  backends,
  signal,
}: {
  opts: RestorePlatformOptions;
  backends: StorageBackend[];
  signal: AbortSignal | undefined;
}): Promise<{ entry: DisasterBackupEntry; failures: RestoreFailure[] }> {
  const found = await findDisasterBackup({ backends, backupId: opts.backupId, ...(signal ? { signal } : {}) });
  const failures: RestoreFailure[] = found.providers
    .filter((p) => !p.ok)
    .map((p) => ({ provider: p.provider, stage: "listing" as const, code: p.errorCode ?? "unexpected", message: p.error ?? "listing failed" }));
  if (found.providers.every((p) => !p.ok)) {
    throw new DrError({
      code: "dr_listing_failed",
      message: `no provider could be listed: ${failures.map((f) => `${f.provider}: ${f.message}`).join("; ")}`,
      retryable: true,
    });
  }
  const searched = found.providers.filter((p) => p.ok).map((p) => p.provider);
  const entry = found.entry;
  if (!entry) {
    throw new DrError({
      code: "dr_backup_not_found",
      message: opts.backupId
        ? `disaster backup ${opts.backupId} is not in ${searched.join(" or ")}`
        : `no complete disaster backup in ${searched.join(" or ")}${found.incomplete ? ` (${found.incomplete} incomplete)` : ""}`,
      hint: "Check the bucket names and the key prefix; `hesaab dr list` shows what each provider holds",
    });
  }
  for (const copy of entry.copies) {
    if (!copy.complete) failures.push({ provider: copy.provider, stage: "listing", code: "dr_backup_incomplete", message: copy.problems.join("; ") });
  }
  for (const b of backends) {
    if (searched.includes(b.name) && !entry.copies.some((c) => c.provider === b.name)) {
      failures.push({ provider: b.name, stage: "listing", code: "dr_backup_not_found", message: `${entry.backupId} is not in this provider` });
    }
  }
  return { entry, failures };
}

/**
 * Everything is verified: only now is the target touched (roles, the database, pg_restore), and the
 * restored rows counted. pg_restore runs in two steps: definitions and data, then the post-data
 * section (indexes, constraints, triggers, grants) while the exact counts run beside it: they need
 * only the data, and the tables are still in the cache. A count waits for (or holds back) a
 * constraint's lock on its table a moment: nothing more. Over a database that is not empty
 * (`--clean`), pg_restore runs in one step: its drops must take constraints away before the tables
 * they join, which sections run one by one cannot do; the counts follow it.
 */
async function restoreInto({
  opts,
  probe,
  fetched,
  signal,
  progress,
}: {
  opts: RestorePlatformOptions;
  probe: { exists: boolean; objects: string[] };
  fetched: Fetched;
  signal: AbortSignal | undefined;
  progress: (phase: RestorePhase) => void;
}): Promise<{ roles: RolesReport | null; createdDatabase: boolean; actual: Record<string, number>; checkMs: number }> {
  let createdDatabase = false;
  const roles = fetched.bundle.roles && opts.roles !== "skip" ? await createMissingRoles({ targetUrl: opts.targetUrl, dump: fetched.bundle.roles }) : null;
  if (!probe.exists) {
    await createDatabase(opts.targetUrl);
    createdDatabase = true;
  }
  const clean = Boolean(opts.allowNonEmpty && probe.objects.length > 0);
  const restore = (sections?: DumpSection[]) =>
    restoreDump({
      file: fetched.dumpFile,
      targetUrl: opts.targetUrl,
      jobs: opts.jobs ?? 2,
      clean,
      owners: roles?.owners ?? false, // every owner there, and the restorer may act as each: objects get their owners back
      ...(sections ? { sections } : {}),
      ...(signal ? { signal } : {}),
    });
  let checkMs = 0;
  const count = async () => {
    progress("checking");
    const started = Date.now();
    const counts = await countRowsOf({ url: opts.targetUrl, tables: Object.keys(fetched.manifest.tables), connections: Math.min(2, opts.jobs ?? 2) });
    checkMs = Date.now() - started;
    return counts;
  };
  let actual: Record<string, number>;
  if (clean) {
    await restore();
    actual = await count();
  } else {
    await restore(["pre-data", "data"]);
    [, actual] = await both(restore(["post-data"]), count());
  }
  return { roles, createdDatabase, actual, checkMs };
}

/**
 * Two things run at once, both awaited (nothing runs on after this returns); the first's failure
 * wins: a target refused says more than a listing, a failed pg_restore more than counts of a half-built database.
 */
async function both<A, B>(first: Promise<A>, second: Promise<B>): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled([first, second]);
  if (a.status === "rejected") throw a.reason;
  if (b.status === "rejected") throw b.reason;
  return [a.value, b.value];
}

interface Fetched {
  provider: string;
  dumpFile: string;
  bundle: ConfigBundle;
  manifest: DrManifest;
  bytes: { artifact: number; dump: number };
}

async function fetchVerified(args: {
  entry: DisasterBackupEntry;
  backends: StorageBackend[];
  keyRing: KeyRing;
  work: string;
  failures: RestoreFailure[];
  signal?: AbortSignal | undefined;
  progress: (phase: RestorePhase, provider?: string) => void;
}): Promise<Fetched> {
  const { entry, backends, keyRing, work, failures, signal } = args;
  const identity: ArtifactIdentity = { kind: "platform", tenantId: "", backupId: entry.backupId };
  for (const backend of backends) {
    const copy = entry.copies.find((c) => c.provider === backend.name && c.complete);
    if (!copy) continue;
    args.progress("fetching", backend.name);
    const dir = path.join(work, backend.name);
    const fetched = await fetchCopy({ copy, backupId: entry.backupId, identity, backend, keyRing, dir, signal });
    if ("dumpFile" in fetched) return { provider: backend.name, ...fetched, bytes: { artifact: copy.data!.size, dump: (await stat(fetched.dumpFile)).size } };
    if (signal?.aborted) throw fetched.error;
    const { code, message } = describe(fetched.error);
    failures.push({ provider: backend.name, stage: fetched.failed, code, message });
    await rm(dir, { recursive: true, force: true });
  }
  throw new DrError({
    code: "dr_backup_unusable",
    message: `no provider holds a usable copy of ${entry.backupId}: ${failures.map((f) => `${f.provider} (${f.stage}): ${f.code}: ${f.message}`).join("; ")}`,
    ...(failures.some((f) => f.code.startsWith("key_"))
      ? { hint: "Check DR_MASTER_KEYS: it must hold the key version the backup was sealed (or re-wrapped) with" }
      : {}),
    context: { failures },
  });
}

/**
 * Both parts of one provider's copy at once: the small config part costs no time of its own beside
 * the data part. The first part to fail stops the other; when this returns, both have stopped.
 */
async function fetchCopy(args: {
  copy: DisasterBackupCopy;
  backupId: string;
  identity: ArtifactIdentity;
  backend: StorageBackend;
  keyRing: KeyRing;
  dir: string;
  signal?: AbortSignal | undefined;
}): Promise<Omit<Fetched, "provider" | "bytes"> | { failed: "config" | "data"; error: unknown }> {
  const { copy, backupId, identity, backend, keyRing, dir } = args;
  const controller = new AbortController();
  const stop = () => controller.abort(args.signal?.reason);
  args.signal?.addEventListener("abort", stop, { once: true });
  let failure: { failed: "config" | "data"; error: unknown } | undefined;
  const part = <T>(failed: "config" | "data", running: Promise<T>) =>
    running.catch((error: unknown) => {
      failure ??= { failed, error };
      controller.abort(error);
      throw error;
    });
  const { signal } = controller;
  const dumpFile = path.join(dir, `${backupId}.dump`);
  try {
    const [config] = await Promise.allSettled([
      part("config", readConfigPart({ part: copy.config!, backupId, identity, backend, keyRing, dir: path.join(dir, "config"), signal })),
      part("data", fetchDump({ part: copy.data!, identity, backend, keyRing, file: dumpFile, signal })),
    ]);
    if (failure) return failure;
    return { dumpFile, ...(config as PromiseFulfilledResult<{ bundle: ConfigBundle; manifest: DrManifest }>).value };
  } finally {
    args.signal?.removeEventListener("abort", stop);
  }
}

/** The config part: download (SHA-256 + size checked) → authenticated decrypt → the bundle, whose manifest must name this backup. */
async function readConfigPart(args: {
  part: DisasterPartCopy;
  backupId: string;
  identity: ArtifactIdentity;
  backend: StorageBackend;
  keyRing: KeyRing;
  dir: string;
  signal: AbortSignal;
}): Promise<{ bundle: ConfigBundle; manifest: DrManifest }> {
  const staged = await stagePart(args);
  const bundle = parseConfigBundle((await readAll(await openStaged({ staged, keyRing: args.keyRing }))).toString("utf8"));
  if (!bundle.manifest) throw new DrError({ code: "dr_manifest_mismatch", message: "the configuration bundle carries no manifest" });
  const manifest = parseManifest(JSON.stringify(bundle.manifest));
  if (manifest.backupId !== args.backupId)
    throw new DrError({ code: "dr_manifest_mismatch", message: `the manifest names backup ${manifest.backupId}, not ${args.backupId}` });
  return { bundle, manifest };
}

/**
 * The data part in one pass: download ─▶ SHA-256 + size ─▶ authenticated decrypt ─▶ the dump file.
 * The checksum is known only at the end and the decryptor authenticates chunk by chunk, so the file
 * counts only once both finished without error (else it is removed by the caller): the same checks as
 * staging the ciphertext and decrypting it afterwards, at half the disk and one write instead of two.
 */
async function fetchDump(args: {
  part: DisasterPartCopy;
  identity: ArtifactIdentity;
  backend: StorageBackend;
  keyRing: KeyRing;
  file: string;
  signal?: AbortSignal | undefined;
}): Promise<void> {
  const { part, identity, backend, keyRing, file, signal } = args;
  await mkdir(path.dirname(file), { recursive: true });
  const sidecar = parseKeySidecar(JSON.parse((await readAll(await backend.get(keysSidecarKey(part.key), signal ? { signal } : {}))).toString("utf8")));
  const read = await readWithFailover({
    backends: [backend],
    key: part.key,
    expectedSha256: part.sha256,
    expectedSize: part.size,
    ...(signal ? { signal } : {}),
  });
  try {
    const plaintext = await decryptArtifact({
      ciphertext: read.stream,
      ref: { key: part.key, sha256: part.sha256, size: part.size, identity, sidecar },
      keyRing,
    });
    await pipeline(plaintext, expectPgDump(), createWriteStream(file), ...(signal ? [{ signal }] : []));
  } catch (err) {
    read.stream.destroy();
    read.done.catch(() => {}); // the pipeline's error says it first
    throw err;
  }
  await read.done;
}

function stagePart({
  part,
  identity,
  backend,
  dir,
  signal,
}: {
  part: DisasterPartCopy;
  identity: ArtifactIdentity;
  backend: StorageBackend;
  dir: string;
  signal?: AbortSignal | undefined;
}) {
  const ref: ArtifactRef = { key: part.key, sha256: part.sha256, size: part.size, identity };
  return stageArtifact({ ref, backends: [backend], dir, ...(signal ? { signal } : {}) });
}

/** Passes bytes through, refusing a plaintext that does not start like a pg_dump custom archive. */
function expectPgDump(): Transform {
  let head = Buffer.alloc(0);
  let checked = false;
  return new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb) {
      if (!checked) {
        head = Buffer.concat([head, chunk]);
        if (head.length < 5) return cb();
        checked = true;
        if (head.subarray(0, 5).toString("latin1") !== "PGDMP")
          return cb(new DrError({ code: "dr_manifest_mismatch", message: "the data part is not a pg_dump custom-format archive" }));
        const out = head;
        head = Buffer.alloc(0);
        return cb(null, out);
      }
      cb(null, chunk);
    },
    flush(cb) {
      cb(checked ? null : new DrError({ code: "dr_manifest_mismatch", message: "the data part is empty" }));
    },
  });
}
