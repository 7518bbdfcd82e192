import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { storeArtifact, type StoredArtifact } from "@hesaab/artifacts";
import { newId } from "@hesaab/contracts";
import type { ArtifactIdentity, KeyRing, KeySidecar } from "@hesaab/crypto";
import { insertBackupRecord, updateBackupRecord, writeAudit, type CatalogDb, type ProviderCopy } from "@hesaab/db";
import {
  disasterBackupKey,
  etagProvesCopy,
  keysSidecarKey,
  metaSidecarKey,
  S3_DEFAULT_PART_SIZE,
  verifyObject,
  withKeyPrefix,
  type ManifestSummary,
  type StorageBackend,
  type VerifyResult,
} from "@hesaab/storage";
import { buildConfigBundle, type ConfigBundle } from "./config-bundle";
import { describe } from "./describe";
import { DrError } from "./errors";
import { countRows, serverFacts, type DrManifest } from "./manifest";
import { connect, dumpDatabase } from "./pg-tools";
import { dumpRoles, type RolesDump } from "./roles";
import { rootedKey } from "./rooted-backend";

/**
 * A full disaster-recovery backup of the platform database:
 *
 *     [config files read]  (first: a missing file fails in a second, not after the dump)
 *     catalog record `running` (when a catalog is given)
 *     REPEATABLE READ transaction ─ pg_export_snapshot(), the server's roles ─┬─ pg_dump -Fc --snapshot ─▶ BKP1 (platform key) ─▶ SHA-256 ─▶ tee ─▶ B2, R2
 *                                                          └─ exact row counts, same snapshot (in parallel; the upload ends only once they are in)
 *     config bundle + manifest + roles (JSON, gzip) ─▶ BKP1 ─▶ B2, R2
 *     every copy proved: the provider's ETag of what it stored matches the one computed over the bytes sent, or else size + SHA-256 read back
 *     catalog record `completed` (every provider verified) or `degraded` (some), expires_at = created + retention
 *
 * pg_dump compresses (-Fc), so the data part is encrypted with content encoding `none` (no second
 * gzip). Any failure before a provider holds a verified copy leaves no completed record: the record
 * is marked `failed` and the objects already written are deleted (best effort; what remains is an
 * incomplete backup that listings show as such and restores skip).
 */

const DAY_MS = 86_400_000;

export type BackupPhase = "preparing" | "dumping" | "storing-config" | "verifying" | "recording";

export interface BackupProgress {
  phase: BackupPhase;
  /** pg_dump bytes read so far (phase `dumping`). */
  dumpBytes: number;
}

export interface BackupPlatformOptions {
  /** The platform database (the whole database is dumped, the backup system's `backup` schema included). */
  platformUrl: string;
  /** Needs DR master keys (`new KeyRing({ drMasterKeys })`). */
  keyRing: KeyRing;
  backends: StorageBackend[];
  /** The catalog, when there is one: a record `running` → `completed` / `degraded` / `failed`, and an audit entry. */
  catalog?: CatalogDb | undefined;
  /** Configuration files to bundle (compose files, env files): encrypted like everything else. */
  configFiles?: string[] | undefined;
  /** The deployed git commit (see `deployedGitCommit`). */
  gitCommit?: string | null | undefined;
  /** Days the backup is kept (DISASTER_BACKUP_RETENTION_DAYS). Default 90. */
  retentionDays?: number | undefined;
  /** Key prefix for every object (tests; buckets shared with other data). */
  root?: string | undefined;
  purpose?: "scheduled" | "on_demand" | undefined;
  /** Dedup key of a scheduled run (the schedule's period), recorded in the catalog. */
  period?: string | undefined;
  /** Default: a new `bkp_…` id. */
  backupId?: string | undefined;
  /** Who asked, for the audit trail (`system:dr-svc`, `cli:<user>`). */
  requestedBy?: string | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: BackupProgress) => void) | undefined;
  /** The clock (tests). */
  now?: (() => Date) | undefined;
}

export interface DisasterPartResult {
  /** The object key (below the root). */
  key: string;
  /** The key as stored in the bucket (with the root). */
  location: string;
  size: number;
  sha256: string;
  dekId: string;
  sidecar: KeySidecar;
}

/**
 * How a copy was proved: the provider's ETag of what it stored equals the one computed over the
 * bytes sent (`upload-etag`, no download), or it was read back in full (`read-back`: the provider's
 * ETag is opaque, e.g. the fs backend, or did not match).
 */
export type VerifiedBy = "upload-etag" | "read-back";

export interface ProviderReport {
  provider: string;
  /** Holds both parts, with sidecars, both proved to have the right size and checksum. */
  ok: boolean;
  stored: boolean;
  verified: boolean;
  /** How both parts were proved (when verified; `read-back` when either part was read back). */
  verifiedBy?: VerifiedBy;
  problem?: string;
}

export interface DisasterBackupResult {
  backupId: string;
  status: "completed" | "degraded";
  createdAt: Date;
  completedAt: Date;
  expiresAt: Date;
  data: DisasterPartResult;
  config: DisasterPartResult;
  providers: ProviderReport[];
  manifest: DrManifest;
  durationMs: number;
  /** Where the time went: the dump and its upload (snapshot to data part stored), then the config part and the proof of every copy. */
  phasesMs: { dump: number; configAndVerify: number };
}

export async function backupPlatform(opts: BackupPlatformOptions): Promise<DisasterBackupResult> {
  const started = Date.now();
  const createdAt = opts.now?.() ?? new Date();
  const backupId = opts.backupId ?? newId("bkp", createdAt.getTime());
  const backends = opts.backends.map((b) => withKeyPrefix(b, opts.root ?? ""));
  if (backends.length === 0)
    throw new DrError({ code: "dr_invalid_argument", message: "a disaster backup needs at least one storage provider", hint: "Configure B2_* and/or R2_*" });
  const retentionDays = opts.retentionDays ?? 90;
  const expiresAt = new Date(createdAt.getTime() + retentionDays * DAY_MS);
  const identity: ArtifactIdentity = { kind: "platform", tenantId: "", backupId };
  const keys = { data: disasterBackupKey({ backupId, createdAt, part: "data" }), config: disasterBackupKey({ backupId, createdAt, part: "config" }) };
  const progress = (phase: BackupPhase, dumpBytes = 0) => opts.onProgress?.({ phase, dumpBytes });
  const { catalog, signal } = opts;
  const gitCommit = opts.gitCommit ?? null;

  progress("preparing");
  const bundle = await buildConfigBundle(opts.configFiles ?? []);
  let recorded = false;
  // After the snapshot is exported, so the dump does not carry this backup's own `running` record
  // (a database restored from it would show the backup running forever).
  const recordRunning = async () => {
    if (!catalog) return;
    await insertBackupRecord(catalog, {
      id: backupId,
      backupType: "disaster",
      tenantId: null,
      filename: rootedKey(opts.root, keys.data),
      encryptionKeyId: "",
      status: "running",
      purpose: opts.purpose ?? "on_demand",
      period: opts.period ?? null,
      createdAt,
      expiresAt,
      metadata: { gitCommit, configKey: rootedKey(opts.root, keys.config) },
    });
    recorded = true;
  };

  const written: StoredArtifact[] = [];
  try {
    // 1. The dump and the row counts, in one snapshot.
    const dumpStarted = Date.now();
    const dumped = await dumpInSnapshot({ opts, identity, backends, key: keys.data, createdAt, gitCommit, progress, afterSnapshot: recordRunning });
    written.push(dumped.data);
    const dumpMs = Date.now() - dumpStarted;
    // Proving the data part (reading it back where its ETag does not) starts now, beside the config part's upload.
    progress("verifying");
    const dataChecks = verifyPart({ backends, artifact: dumped.data, signal });
    dataChecks.catch(() => {});
    const manifest: DrManifest = {
      format: "hesaab-dr-manifest",
      version: 1,
      backupId,
      createdAt: createdAt.toISOString(),
      gitCommit,
      ...dumped.facts,
      tables: dumped.tables,
      configFiles: bundle.files.map((f) => f.path),
    };

    // 2. The configuration bundle, carrying the full manifest.
    progress("storing-config");
    const config = await storeConfig({ opts, identity, backends, keys, createdAt, bundle, manifest, dumped });
    written.push(config);

    // 3. Every copy proved: by the upload's ETag, or read back (size + SHA-256, keyless), in every provider at once.
    const { providers, okProviders } = await verifyCopies({ backends, backupId, dataChecks, config, signal });
    const status = okProviders.length === backends.length ? "completed" : "degraded";
    const completedAt = opts.now?.() ?? new Date();
    const result: DisasterBackupResult = {
      backupId,
      status,
      createdAt,
      completedAt,
      expiresAt,
      data: partResult(dumped.data, opts.root),
      config: partResult(config, opts.root),
      providers,
      manifest,
      durationMs: Date.now() - started,
      phasesMs: { dump: dumpMs, configAndVerify: Date.now() - dumpStarted - dumpMs },
    };
    if (catalog) {
      progress("recording");
      await recordCompleted({ catalog, result, requestedBy: opts.requestedBy });
    }
    return result;
  } catch (err) {
    await undoFailed({ opts, backends, backupId, written, recorded, err });
    throw err;
  }
}

/** 2. The configuration bundle, carrying the full manifest (and the roles, which the dump leaves out). */
function storeConfig({
  opts,
  identity,
  backends,
  keys,
  createdAt,
  bundle,
  manifest,
  dumped,
}: {
  opts: BackupPlatformOptions;
  identity: ArtifactIdentity;
  backends: StorageBackend[];
  keys: { config: string };
  createdAt: Date;
  bundle: Awaited<ReturnType<typeof buildConfigBundle>>;
  manifest: DrManifest;
  dumped: { roles: ConfigBundle["roles"] };
}): Promise<StoredArtifact> {
  const { signal } = opts;
  return storeArtifact({
    plaintext: Readable.from([Buffer.from(JSON.stringify({ ...bundle, manifest, ...(dumped.roles ? { roles: dumped.roles } : {}) } satisfies ConfigBundle))]),
    identity,
    keyRing: opts.keyRing,
    backends,
    key: keys.config,
    gzipLevel: 6,
    etagPartSize: S3_DEFAULT_PART_SIZE,
    meta: { type: "disaster", part: "config", createdAt, manifest: { ...summaryOf(manifest), files: bundle.files.length } },
    signal,
  });
}

/** 3. Every copy proved (upload ETag, or read back), in every provider at once; no verified copy anywhere is `dr_storage_failed`. */
async function verifyCopies({
  backends,
  backupId,
  dataChecks,
  config,
  signal,
}: {
  backends: StorageBackend[];
  backupId: string;
  dataChecks: Promise<PartCheck[]>;
  config: StoredArtifact;
  signal: AbortSignal | undefined;
}): Promise<{ providers: ProviderReport[]; okProviders: ProviderReport[] }> {
  const [dataResults, configResults] = await Promise.all([dataChecks, verifyPart({ backends, artifact: config, signal })]);
  const providers = backends.map((backend, i) => providerReport({ provider: backend.name, checks: [dataResults[i]!, configResults[i]!] }));
  const okProviders = providers.filter((p) => p.ok);
  if (okProviders.length === 0) {
    throw new DrError({
      code: "dr_storage_failed",
      message: `no provider holds a verified copy of disaster backup ${backupId}: ${providers.map((p) => `${p.provider}: ${p.problem}`).join("; ")}`,
      retryable: true,
    });
  }
  return { providers, okProviders };
}

/** A failed backup leaves nothing behind: the parts written are removed, a recorded run is marked failed and audited. */
async function undoFailed({
  opts,
  backends,
  backupId,
  written,
  recorded,
  err,
}: {
  opts: BackupPlatformOptions;
  backends: StorageBackend[];
  backupId: string;
  written: StoredArtifact[];
  recorded: boolean;
  err: unknown;
}): Promise<void> {
  const { catalog } = opts;
  await Promise.all(written.map((artifact) => removeEverywhere({ backends, key: artifact.key })));
  if (catalog && recorded) {
    const { code, message } = describe(err);
    await updateBackupRecord(catalog, {
      id: backupId,
      set: { status: "failed", errorMessage: `${code}: ${message}`.slice(0, 2000), completedAt: new Date() },
    }).catch(() => {});
    await writeAudit(catalog, {
      actor: opts.requestedBy ?? "system:dr",
      action: "dr.backup",
      targetType: "backup",
      targetId: backupId,
      outcome: "failed",
      details: { code, message },
    }).catch(() => {});
  }
}

interface DumpContext {
  opts: BackupPlatformOptions;
  identity: ArtifactIdentity;
  backends: StorageBackend[];
  key: string;
  createdAt: Date;
  gitCommit: string | null;
  progress: (phase: BackupPhase, dumpBytes?: number) => void;
  /** Runs once the snapshot is exported, before pg_dump starts. */
  afterSnapshot: () => Promise<void>;
}

/**
 * pg_dump reads the snapshot our REPEATABLE READ transaction exported, and the row counts are taken
 * in that same transaction while the dump runs, so the manifest describes exactly what was dumped.
 * The transaction stays open until pg_dump is done. The dump stream does not end before the counts
 * are in (a gate's flush waits for them), so the data part's meta sidecar carries them too.
 */
async function dumpInSnapshot(
  ctx: DumpContext,
): Promise<{ data: StoredArtifact; tables: Record<string, number>; facts: Awaited<ReturnType<typeof serverFacts>>; roles: RolesDump }> {
  const { opts } = ctx;
  let snap;
  try {
    snap = await connect(opts.platformUrl);
  } catch (err) {
    throw new DrError({
      code: "dr_dump_failed",
      message: describe(err).message,
      retryable: true,
      cause: err,
      hint: "Check PLATFORM_DATABASE_URL and that PostgreSQL is running",
    });
  }
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  let done = false;
  try {
    await snap.query("begin isolation level repeatable read, read only");
    const { rows } = await snap.query<{ s: string }>("select pg_export_snapshot() as s");
    const facts = await serverFacts(snap);
    const roles = await dumpRoles(snap); // the server's, which pg_dump leaves out: a rebuild creates them first
    await ctx.afterSnapshot();
    const dump = dumpDatabase({ url: opts.platformUrl, snapshot: rows[0]!.s, signal: stop.signal });
    let tables: Record<string, number> | undefined;
    const counting = countRows(snap).then((t) => {
      tables = t;
      return t;
    });
    counting.catch((err: unknown) =>
      dump.destroy(new DrError({ code: "dr_dump_failed", message: `row counts failed: ${describe(err).message}`, retryable: true, cause: err })),
    );
    let bytes = 0;
    let reported = 0;
    const gate = new Transform({
      highWaterMark: 1 << 20,
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        if (bytes - reported >= 16 << 20) {
          reported = bytes;
          ctx.progress("dumping", bytes);
        }
        cb(null, chunk);
      },
      flush(cb) {
        counting.then(
          () => cb(),
          (err: unknown) => cb(err as Error),
        );
      },
    });
    const piping = pipeline(dump, gate).catch(() => {}); // a dump failure destroys `gate`, which fails the upload
    ctx.progress("dumping", 0);
    const summary = (): ManifestSummary => ({
      ...summaryOf({ gitCommit: ctx.gitCommit, ...facts, tables: tables ?? {} }),
    });
    let data: StoredArtifact;
    try {
      data = await storeArtifact({
        plaintext: gate,
        identity: ctx.identity,
        keyRing: opts.keyRing,
        backends: ctx.backends,
        key: ctx.key,
        gzipLevel: false,
        etagPartSize: S3_DEFAULT_PART_SIZE,
        meta: { type: "disaster", part: "data", createdAt: ctx.createdAt, manifest: summary },
        signal: opts.signal,
      });
    } finally {
      stop.abort(); // pg_dump is done, or must stop now
      await piping;
    }
    // The gate let the stream end only after the counts were in.
    const counted = await counting;
    done = true;
    return { data, tables: counted, facts, roles };
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    // On failure the counts may still run: closing the connection ends the transaction without waiting for them.
    if (done) await snap.query("rollback").catch(() => {});
    await snap.end().catch(() => {});
  }
}

function summaryOf(m: Pick<DrManifest, "gitCommit" | "serverVersion" | "databaseName" | "databaseSizeBytes" | "tables">): ManifestSummary {
  return {
    tables: Object.keys(m.tables).length,
    rows: Object.values(m.tables).reduce((a, b) => a + b, 0),
    gitCommit: m.gitCommit,
    serverVersion: m.serverVersion,
    databaseName: m.databaseName,
    databaseSizeBytes: m.databaseSizeBytes,
  };
}

function partResult(artifact: StoredArtifact, root: string | undefined): DisasterPartResult {
  return {
    key: artifact.key,
    location: rootedKey(root, artifact.key),
    size: artifact.size,
    sha256: artifact.sha256,
    dekId: artifact.dekId,
    sidecar: artifact.sidecar,
  };
}

type PartCheck = { stored: true; result: VerifyResult; by: VerifiedBy } | { stored: false; problem: string };

/**
 * Per backend, in order: the upload's failure, the provider's own checksum of what it stored (its
 * ETag equals one computed here over the bytes sent: `etagProvesCopy`), or else the copy read back
 * (size + SHA-256). A copy that differs from what was sent never matches, so it is read back and
 * reported corrupt.
 */
function verifyPart({
  backends,
  artifact,
  signal,
}: {
  backends: StorageBackend[];
  artifact: StoredArtifact;
  signal?: AbortSignal | undefined;
}): Promise<PartCheck[]> {
  return Promise.all(
    backends.map(async (backend): Promise<PartCheck> => {
      const outcome = artifact.outcomes.find((o) => o.provider === backend.name);
      if (!artifact.okProviders.includes(backend.name)) {
        return { stored: false, problem: `upload of ${artifact.key} failed: ${outcome?.error ? describe(outcome.error).message : "unknown"}` };
      }
      if (etagProvesCopy(outcome?.etag, artifact.uploadEtags ?? [])) {
        return {
          stored: true,
          by: "upload-etag",
          result: { provider: backend.name, key: artifact.key, ok: true, size: artifact.size, sha256: artifact.sha256 },
        };
      }
      const result = await verifyObject({
        backend,
        key: artifact.key,
        expectedSha256: artifact.sha256,
        expectedSize: artifact.size,
        ...(signal ? { signal } : {}),
      });
      return { stored: true, by: "read-back", result };
    }),
  );
}

function providerReport({ provider, checks }: { provider: string; checks: PartCheck[] }): ProviderReport {
  const notStored = checks.find((c) => !c.stored);
  if (notStored && !notStored.stored) return { provider, ok: false, stored: false, verified: false, problem: notStored.problem };
  const bad = checks.map((c) => (c.stored ? c.result : undefined)).find((r) => r && !r.ok);
  if (bad) return { provider, ok: false, stored: true, verified: false, problem: `verification of ${bad.key} failed: ${bad.problem}` };
  // read back when any part was: the weaker proof names the copy's
  const verifiedBy = checks.some((c) => c.stored && c.by === "read-back") ? "read-back" : "upload-etag";
  return { provider, ok: true, stored: true, verified: true, verifiedBy };
}

async function removeEverywhere({ backends, key }: { backends: StorageBackend[]; key: string }): Promise<void> {
  await Promise.all(backends.flatMap((b) => [key, keysSidecarKey(key), metaSidecarKey(key)].map((k) => b.delete(k).catch(() => {}))));
}

async function recordCompleted({
  catalog,
  result,
  requestedBy,
}: {
  catalog: CatalogDb;
  result: DisasterBackupResult;
  requestedBy?: string | undefined;
}): Promise<void> {
  const now = result.completedAt;
  const providers: Record<string, ProviderCopy> = {};
  for (const p of result.providers) {
    providers[p.provider] = {
      location: result.data.location,
      status: p.ok ? "stored" : p.stored ? "corrupt" : "failed",
      ...(p.ok ? { size: result.data.size, sha256: result.data.sha256, verifiedAt: now.toISOString() } : {}),
      verification: p.ok ? "verified" : "failed",
      ...(p.problem ? { error: p.problem } : {}),
    };
  }
  const okNamed = (name: string) => result.providers.some((p) => p.provider === name && p.ok);
  await updateBackupRecord(catalog, {
    id: result.backupId,
    set: {
      status: result.status,
      fileSize: result.data.size,
      checksum: result.data.sha256,
      encryptionKeyId: result.data.dekId,
      b2Location: okNamed("b2") ? result.data.location : null,
      r2Location: okNamed("r2") ? result.data.location : null,
      providers,
      keySidecar: result.data.sidecar as unknown as Record<string, unknown>,
      verificationStatus: result.status === "completed" ? "verified" : "partial",
      verifiedAt: now,
      completedAt: now,
      expiresAt: result.expiresAt,
      metadata: {
        gitCommit: result.manifest.gitCommit,
        serverVersion: result.manifest.serverVersion,
        databaseName: result.manifest.databaseName,
        databaseSizeBytes: result.manifest.databaseSizeBytes,
        tables: result.manifest.tables,
        configFiles: result.manifest.configFiles,
        config: {
          key: result.config.location,
          size: result.config.size,
          sha256: result.config.sha256,
          dekId: result.config.dekId,
          keySidecar: result.config.sidecar,
        },
        durationMs: result.durationMs,
      },
    },
  });
  await writeAudit(catalog, {
    actor: requestedBy ?? "system:dr",
    action: "dr.backup",
    targetType: "backup",
    targetId: result.backupId,
    outcome: "ok",
    details: { status: result.status, size: result.data.size, providers: result.providers.map((p) => ({ provider: p.provider, ok: p.ok })) },
  });
}
