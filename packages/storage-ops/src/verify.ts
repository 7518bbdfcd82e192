import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { and, inArray, sql } from "drizzle-orm";
import { noPublish } from "@hesaab/contracts";
import { errorText } from "@hesaab/config";
import { stageArtifact, verifyStaged, type ArtifactRef, type StagedArtifact } from "@hesaab/artifacts";
import type { KeyRing } from "@hesaab/crypto";
import { backupRecords, raiseAlert, recordedPlaintext, setProviderCopy, type BackupRecord } from "@hesaab/db";
import { isStorageError, type StorageBackend } from "@hesaab/storage";
import { eventProvider, insertVerification, loadRecord } from "./catalog";
import type { KeyRings, StorageOpsDeps } from "./storage-ops-deps";
import { GOOD_STATUSES, recordBytes, recordParts, type ArtifactPartRef } from "./parts";
import { replicateArtifact, type ReplicateResult } from "./replicate";

export interface DeepCheck {
  provider: string;
  ok: boolean;
  /** Plaintext bytes decrypted and decompressed (every part). */
  plaintextBytes?: number;
  /** Ciphertext bytes downloaded for the check. */
  bytesRead: number;
  detail?: string;
}

export interface VerifyBackupResult {
  backupId: string;
  type: BackupRecord["backupType"];
  tenantId: string | null;
  /** The keyless check (and the healing it triggered). */
  keyless: ReplicateResult;
  /** Present when a deep check was asked for. */
  deep?: { skipped?: string; providers: DeepCheck[]; healed?: ReplicateResult };
}

/** One backup of several checked: its result, how many are done, how many there are. */
export type VerifiedHook = (result: VerifyBackupResult, done: number, total: number) => Promise<void>;

/** Whether a check found a copy lost or a deep check failing. */
export const verifyFailed = (r: VerifyBackupResult): boolean => r.keyless.lost || Boolean(r.deep?.providers.some((p) => !p.ok));

export interface VerifyBackupOptions extends StorageOpsDeps {
  record: BackupRecord | string;
  /** Also decrypt and decompress every copy (authenticated: every GCM tag, the final chunk, the gzip trailer). */
  deep?: boolean;
  keyRings?: KeyRings;
  /** Where copies are staged for a deep check. Default: a temporary directory, removed after. */
  workDir?: string;
  /** Heal what a check finds wrong. Default true. */
  heal?: boolean;
  now?: () => Date;
}

/** Why a deep check of this record cannot run here, if it cannot. */
export function deepSkipReason(record: Pick<BackupRecord, "backupType">, keyRings: KeyRings | undefined): string | undefined {
  if (record.backupType === "tenant" && !keyRings?.tenant) return "tenant keys are not configured (BACKUP_MASTER_KEYS and the catalog's tenant keys)";
  if (record.backupType === "disaster" && !keyRings?.disaster) return "disaster-recovery keys are not configured (DR_MASTER_KEYS)";
  if (record.backupType === "customer") return "customer exports are not kept in the providers";
  return undefined;
}

/**
 * Verifies one backup in every provider: keyless always (size + SHA-256 of the ciphertext against
 * the catalog, healing a bad copy from a good one: see `replicateArtifact`), and deep on request:
 * each provider's copy is staged on its own (no failover: the point is to test that copy),
 * decrypted with the key ring of its type and decompressed to nowhere. A failed deep check is
 * recorded (`verifications`, `storage.verification.result.v1` ok=false, an alert) and healing is
 * tried from a copy that passed.
 */
export async function verifyBackup(opts: VerifyBackupOptions): Promise<VerifyBackupResult> {
  const { catalog, backends, signal } = opts;
  const publish = opts.publish ?? noPublish;
  const now = opts.now ?? (() => new Date());
  const record = typeof opts.record === "string" ? await loadRecord(catalog.db, opts.record) : opts.record;
  const keyless = await replicateArtifact({ ...opts, record, heal: opts.heal ?? true, now });
  const result: VerifyBackupResult = { backupId: record.id, type: record.backupType, tenantId: record.tenantId, keyless };
  if (!opts.deep) return result;
  if (keyless.skipped) return { ...result, deep: { skipped: keyless.skipped, providers: [] } };
  const skip = deepSkipReason(record, opts.keyRings);
  if (skip) return { ...result, deep: { skipped: skip, providers: [] } };
  const keyRing = (record.backupType === "tenant" ? opts.keyRings?.tenant : opts.keyRings?.disaster)!;
  const fresh = await loadRecord(catalog.db, record.id);
  const parts = recordParts(fresh);
  const candidates = backends.filter((b) => keyless.providers.some((p) => p.provider === b.name && (p.state === "ok" || p.state === "healed")));
  const ownDir = opts.workDir === undefined;
  const dir = opts.workDir ?? (await mkdtemp(path.join(os.tmpdir(), "hesaab-verify-")));
  const checks: DeepCheck[] = [];
  try {
    for (const backend of candidates) {
      const check = await deepCheckCopy({ record: fresh, parts, backend, keyRing, dir: path.join(dir, `${record.id}-${backend.name}`), signal });
      checks.push(check);
      const at = now();
      await insertVerification(catalog.db, { backupId: record.id, provider: backend.name, depth: "deep", ok: check.ok, detail: check.detail, at });
      if (check.ok) await setProviderCopy(catalog.db, { id: record.id, provider: backend.name, copy: { deepVerifiedAt: at.toISOString() } });
      else
        await setProviderCopy(catalog.db, {
          id: record.id,
          provider: backend.name,
          copy: { verification: "failed", error: `deep verification failed: ${check.detail}` },
        });
      const provider = eventProvider(backend.name);
      if (provider)
        await publish("storage.verification.result.v1", {
          backupId: record.id,
          provider,
          depth: "deep",
          ok: check.ok,
          ...(check.detail ? { detail: check.detail } : {}),
        });
      if (!check.ok) {
        await raiseAlert(
          { catalog, publish },
          {
            severity: "critical",
            code: "deep_verification_failed",
            message: `backup ${record.id}: the ${backend.name} copy failed deep verification: ${check.detail}`,
            context: { backupId: record.id, provider: backend.name, tenantId: record.tenantId },
          },
        );
      }
    }
  } finally {
    if (ownDir) await rm(dir, { recursive: true, force: true });
  }
  const deep: NonNullable<VerifyBackupResult["deep"]> = { providers: checks };
  const failed = checks.filter((c) => !c.ok).map((c) => c.provider);
  if (failed.length > 0 && (opts.heal ?? true)) {
    // A copy that decrypts nowhere but hashes right means the catalog's checksum is of bad bytes
    // (nothing to heal from); a copy that changed since the keyless check is healed from a good one.
    deep.healed = await replicateArtifact({ ...opts, record: fresh.id, heal: true, now });
  }
  if (failed.length > 0 && failed.length === checks.length) {
    await catalog.db
      .update(backupRecords)
      .set({ verificationStatus: "failed", verifiedAt: now() })
      .where(inArray(backupRecords.id, [record.id]));
  }
  return { ...result, deep };
}

/** Stage one provider's copy of every part and decrypt it to nowhere. */
async function deepCheckCopy(args: {
  record: BackupRecord;
  parts: ArtifactPartRef[];
  backend: StorageBackend;
  keyRing: KeyRing;
  dir: string;
  signal?: AbortSignal | undefined;
}): Promise<DeepCheck> {
  const { record, parts, backend, keyRing, dir, signal } = args;
  let plaintextBytes = 0;
  let bytesRead = 0;
  for (const part of parts) {
    let staged: StagedArtifact | undefined;
    try {
      staged = await stageArtifact({ ref: artifactRefFor(record, part), backends: [backend], dir: path.join(dir, part.part), ...(signal ? { signal } : {}) });
      bytesRead += part.size;
      plaintextBytes += await verifyStaged({ staged, keyRing });
    } catch (error) {
      if (isStorageError(error, "storage_aborted")) throw error;
      return { provider: backend.name, ok: false, bytesRead, detail: `${part.part}: ${errorText(error)}` };
    } finally {
      await staged?.remove();
      await rm(path.join(dir, part.part), { recursive: true, force: true });
    }
  }
  return { provider: backend.name, ok: true, plaintextBytes, bytesRead };
}

/** How to open one artifact of a record: its identity and the catalog's key sidecar (or the provider's); its header says how it is compressed. */
export function artifactRefFor(record: BackupRecord, part: ArtifactPartRef): ArtifactRef {
  const disaster = record.backupType === "disaster";
  return {
    key: part.key,
    sha256: part.sha256,
    size: part.size,
    identity: disaster ? { kind: "platform", tenantId: "", backupId: record.id } : { kind: "tenant", tenantId: record.tenantId ?? "", backupId: record.id },
    ...(part.keySidecar ? { sidecar: part.keySidecar as unknown as NonNullable<ArtifactRef["sidecar"]> } : {}),
    ...recordedPlaintext(record),
  };
}

export interface DeepSampleOptions extends StorageOpsDeps {
  keyRings?: KeyRings;
  /** Percent (0-100) of the good backups to check per run. */
  percent: number;
  /** At most this many ciphertext bytes downloaded per run (every provider's copy counts). At least one backup is checked when any qualifies. */
  maxBytes: number;
  workDir?: string;
  heal?: boolean;
  now?: () => Date;
  /** Called after each backup is checked (live progress of an operation). */
  onVerified?: VerifiedHook | undefined;
}

export interface DeepSampleReport {
  /** Good backups of a type whose keys are configured. */
  candidates: number;
  selected: number;
  /** Ciphertext bytes the selection downloads (every provider). */
  plannedBytes: number;
  results: VerifyBackupResult[];
  /** Backup types left out, and why. */
  skippedTypes: { type: string; reason: string; backups: number }[];
  failed: string[];
}

/**
 * The scheduled deep check over a sample: backups never deep-checked first (newest first), then
 * those checked longest ago, until `percent` of the candidates or `maxBytes` of downloads is
 * reached. Over successive runs every backup gets its turn.
 */
export async function deepVerifySample(opts: DeepSampleOptions): Promise<DeepSampleReport> {
  const { catalog, backends } = opts;
  // Light columns: one row per good backup, the record itself is read when its turn comes.
  const rows = await catalog.db
    .select({
      id: backupRecords.id,
      backupType: backupRecords.backupType,
      fileSize: backupRecords.fileSize,
      providers: backupRecords.providers,
      createdAt: backupRecords.createdAt,
      metadata: sql<Record<string, unknown>>`jsonb_build_object('config', jsonb_build_object('size', ${backupRecords.metadata} -> 'config' -> 'size'))`,
    })
    .from(backupRecords)
    .where(and(inArray(backupRecords.status, [...GOOD_STATUSES]), inArray(backupRecords.backupType, ["tenant", "disaster"])));
  type Candidate = (typeof rows)[number];
  const skippedTypes = new Map<string, { reason: string; backups: number }>();
  const candidates: Candidate[] = [];
  for (const r of rows) {
    const reason = deepSkipReason(r, opts.keyRings);
    if (!reason) candidates.push(r);
    else skippedTypes.set(r.backupType, { reason, backups: (skippedTypes.get(r.backupType)?.backups ?? 0) + 1 });
  }
  const lastDeep = (r: Candidate): number => {
    const times = backends.map((b) => r.providers?.[b.name]?.deepVerifiedAt).map((t) => (t ? Date.parse(t) : 0));
    return times.length ? Math.min(...times) : 0;
  };
  candidates.sort((a, b) => lastDeep(a) - lastDeep(b) || b.createdAt.getTime() - a.createdAt.getTime());
  const want = Math.min(candidates.length, Math.ceil((Math.max(0, Math.min(100, opts.percent)) / 100) * candidates.length));
  const selected: Candidate[] = [];
  let plannedBytes = 0;
  for (const r of candidates) {
    if (selected.length >= want) break;
    const bytes = recordBytes(r as BackupRecord) * backends.length;
    if (selected.length > 0 && plannedBytes + bytes > opts.maxBytes) continue;
    selected.push(r);
    plannedBytes += bytes;
  }
  const results: VerifyBackupResult[] = [];
  for (const r of selected) {
    const result = await verifyBackup({ ...opts, record: r.id, deep: true });
    results.push(result);
    await opts.onVerified?.(result, results.length, selected.length);
  }
  return {
    candidates: candidates.length,
    selected: selected.length,
    plannedBytes,
    results,
    skippedTypes: [...skippedTypes].map(([type, v]) => ({ type, ...v })),
    failed: results.filter(verifyFailed).map((r) => r.backupId),
  };
}
