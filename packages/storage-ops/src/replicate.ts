import { noPublish } from "@hesaab/contracts";
import { errorText, isHesaabError } from "@hesaab/config";
import { raiseAlert, setProviderCopy, updateBackupRecord, type BackupRecord, type ProviderCopy } from "@hesaab/db";
import { isStorageError, putEverywhere, readWithFailover, verifyObject, type FailoverRead, type StorageBackend, type VerifyResult } from "@hesaab/storage";
import { eventProvider, insertVerification, loadRecord, withBackupLock } from "./catalog";
import type { StorageOpsDeps } from "./storage-ops-deps";
import { isGood, recordParts, type ArtifactPartRef } from "./parts";
import { healSidecars, type SidecarOutcome } from "./sidecars";

/** What one provider's copy of a backup (every artifact and both sidecars of each) was found to be. */
export type CopyFound = "ok" | "missing" | "corrupt" | "sidecar" | "unreachable";
/** What it is after healing. */
export type CopyState = "ok" | "healed" | "missing" | "corrupt" | "sidecar" | "unreachable";

export interface PartReplica {
  part: ArtifactPartRef["part"];
  key: string;
  check: Pick<VerifyResult, "ok" | "problem" | "size" | "sha256"> & { error?: string };
  /** Healed from this provider. */
  copiedFrom?: string;
  healError?: string;
}

export interface ProviderReplica {
  provider: string;
  found: CopyFound;
  state: CopyState;
  /** The catalog already knew this copy was not stored (a degraded upload): finding it missing is no surprise. */
  knownMissing: boolean;
  parts: PartReplica[];
  sidecars: SidecarOutcome[];
  copiedFrom?: string;
  /** Bytes written to this provider while healing. */
  bytesCopied: number;
  detail?: string;
}

export interface ReplicateResult {
  backupId: string;
  /** Why nothing was done (a record that is not completed/degraded). */
  skipped?: string;
  /** The record's status afterwards. */
  status: BackupRecord["status"];
  verificationStatus: BackupRecord["verificationStatus"];
  providers: ProviderReplica[];
  /** Providers that got a copy (or a sidecar) now. */
  healed: string[];
  /** Configured providers still without a good, complete copy. */
  degraded: string[];
  /** A provider could not be reached (or a heal failed in a way that may pass later): try again. */
  pending: boolean;
  /** No provider holds a good copy of some artifact of this backup. */
  lost: boolean;
}

export interface ReplicateOptions extends Omit<StorageOpsDeps, "catalog"> {
  /** The record, or its id (then `catalog` is required). */
  record: BackupRecord | string;
  /** Without a catalog the copies are checked and healed but nothing is recorded. */
  catalog?: StorageOpsDeps["catalog"] | undefined;
  /** Heal what is missing or corrupt. Default true; false only checks and records (a verification without repair). */
  heal?: boolean;
  /** Record the keyless verification (rows in `verifications`, `storage.verification.result.v1`). Default true. */
  recordVerification?: boolean;
  now?: () => Date;
}

/**
 * Makes every provider hold a byte-identical copy of a backup's artifacts and their sidecars:
 *
 *  [1] keyless check of every copy in every provider (size, then SHA-256 of the whole object,
 *      against the catalog), in parallel per provider;
 *  [2] a copy that is missing, or whose size or checksum is wrong, is streamed from a provider
 *      whose copy checked out (`readWithFailover` → `putEverywhere({ expectedSha256 })`, which
 *      refuses to complete a write whose bytes do not hash to the catalog's checksum; a corrupt
 *      copy is overwritten, a missing one written only if still absent); never buffered;
 *  [3] the two sidecars of each artifact are made byte-identical where the artifact now is;
 *  [4] the catalog: each provider's entry (status, verification, verifiedAt, error), the
 *      `b2_location` / `r2_location` columns, the record status (`degraded` → `completed` when
 *      every provider holds everything; `failed` when no provider holds a good copy), a row in
 *      `verifications` per provider checked;
 *  [5] events: `storage.replica.degraded.v1` for a copy found missing or corrupt that the catalog
 *      thought stored, `storage.replica.healed.v1` per provider healed,
 *      `storage.verification.result.v1` per provider checked; alerts for surprises.
 *
 * Idempotent: a second run finds every copy good and changes nothing but `verified_at`. A provider
 * that cannot be reached is left as it is and reported `pending` (the caller retries later).
 */
export async function replicateArtifact(opts: ReplicateOptions): Promise<ReplicateResult> {
  const { catalog } = opts;
  if (!catalog) {
    if (typeof opts.record === "string") throw new TypeError("replicateArtifact: a record id needs the catalog");
    return replicateLocked(opts, opts.record);
  }
  // One replication (or deletion) of a backup at a time, across replicas; the record is read
  // again under the lock, so a run that waited sees what the previous one did.
  const id = typeof opts.record === "string" ? opts.record : opts.record.id;
  return withBackupLock({ catalog, backupId: id }, async () => replicateLocked(opts, await loadRecord(catalog.db, id)));
}

async function replicateLocked(opts: ReplicateOptions, record: BackupRecord): Promise<ReplicateResult> {
  const { backends, catalog, signal } = opts;
  const publish = opts.publish ?? noPublish;
  const heal = opts.heal ?? true;
  const now = opts.now?.() ?? new Date();
  const base = {
    backupId: record.id,
    status: record.status,
    verificationStatus: record.verificationStatus,
    providers: [],
    healed: [],
    degraded: [],
    pending: false,
    lost: false,
  };
  if (!isGood(record)) return { ...base, skipped: `status is ${record.status}` };
  if (record.backupType === "customer") return { ...base, skipped: "customer exports are not kept in the providers" };
  const parts = recordParts(record);

  // [1] check
  const { checks, replicas } = await checkCopies({ record, parts, backends, signal });

  // [2] heal the artifacts
  const healing = await healArtifacts({ parts, checks, replicas, heal, signal });
  const lost = healing.lost;
  let pending = healing.pending;

  // [3] sidecars, where the artifact now is
  for (const [i, ref] of parts.entries()) {
    const holders = new Set(replicas.filter((r) => r.parts[i]!.check.ok || r.parts[i]!.copiedFrom).map((r) => r.provider));
    const outcomes = await healSidecars({ record, ref, backends, holders, heal, signal });
    for (const o of outcomes) replicas.find((r) => r.provider === o.provider)!.sidecars.push(o);
  }

  for (const r of replicas) summarize(r);
  if (replicas.some((r) => r.state === "unreachable")) pending = true;

  // [4] catalog
  const outcome = decideOutcome({ record, replicas, backends, lost });
  if (catalog) await recordInCatalog({ catalog, record, parts }, { replicas, outcome, now, recordVerification: opts.recordVerification });

  // [5] events and alerts
  await announce({ catalog, publish, record }, { replicas, lost, recordVerification: opts.recordVerification });

  return {
    ...base,
    status: outcome.status,
    verificationStatus: outcome.verificationStatus,
    providers: replicas,
    healed: replicas.filter((r) => r.state === "healed").map((r) => r.provider),
    degraded: outcome.expected.filter((n) => !outcome.holds(n)),
    pending,
    lost,
  };
}

type CopyChecks = { backend: StorageBackend; results: VerifyResult[] }[];

/** [1] The keyless check of every part in every provider, in parallel per provider. */
async function checkCopies(args: {
  record: BackupRecord;
  parts: ArtifactPartRef[];
  backends: StorageBackend[];
  signal?: AbortSignal | undefined;
}): Promise<{ checks: CopyChecks; replicas: ProviderReplica[] }> {
  const { record, parts, backends, signal } = args;
  const sig = signal ? { signal } : {};
  const checks = await Promise.all(
    backends.map(async (backend) => ({
      backend,
      results: await Promise.all(parts.map((ref) => verifyObject({ backend, key: ref.key, expectedSha256: ref.sha256, expectedSize: ref.size, ...sig }))),
    })),
  );
  const replicas: ProviderReplica[] = checks.map(({ backend, results }) => {
    const known = record.providers?.[backend.name];
    return {
      provider: backend.name,
      found: "ok",
      state: "ok",
      knownMissing: known !== undefined && known.status !== "stored",
      parts: results.map((r, i) => ({
        part: parts[i]!.part,
        key: parts[i]!.key,
        check: {
          ok: r.ok,
          problem: r.problem,
          size: r.size,
          sha256: r.sha256,
          ...(r.problem === "unreadable" && r.error !== undefined ? { error: errorText(r.error) } : {}),
        },
      })),
      sidecars: [],
      bytesCopied: 0,
    };
  });
  return { checks, replicas };
}

/** [2] Copies each bad part from a provider whose copy checked out (with `heal`); says whether a part is lost and whether to try again. */
async function healArtifacts(args: {
  parts: ArtifactPartRef[];
  checks: CopyChecks;
  replicas: ProviderReplica[];
  heal: boolean;
  signal?: AbortSignal | undefined;
}): Promise<{ lost: boolean; pending: boolean }> {
  const { parts, checks, replicas, heal, signal } = args;
  let lost = false;
  let pending = false;
  for (const [i, ref] of parts.entries()) {
    const good = checks.filter((c) => c.results[i]!.ok).map((c) => c.backend);
    const bad = checks.filter((c) => !c.results[i]!.ok && c.results[i]!.problem !== "unreadable");
    if (good.length === 0 && !checks.some((c) => c.results[i]!.problem === "unreadable")) lost = true;
    if (!heal || good.length === 0) continue;
    for (const c of bad) {
      const replica = replicas.find((r) => r.provider === c.backend.name)!;
      const part = replica.parts[i]!;
      const copied = await copyPart({ ref, from: good, to: c.backend, overwrite: c.results[i]!.problem !== "missing", signal });
      if (copied.ok) {
        part.copiedFrom = copied.copiedFrom;
        replica.copiedFrom ??= copied.copiedFrom;
        replica.bytesCopied += ref.size;
      } else {
        part.healError = errorText(copied.error);
        if (isHesaabError(copied.error) && copied.error.retryable) pending = true;
      }
    }
  }
  return { lost, pending };
}

interface ReplicationOutcome {
  status: BackupRecord["status"];
  verificationStatus: BackupRecord["verificationStatus"];
  /** Replicas that could be checked (not unreachable). */
  checked: ProviderReplica[];
  /** Every provider the backup should be in: the configured ones and those the record names. */
  expected: string[];
  holds: (name: string) => boolean;
}

/** [4] The record's status and verification status after this run. */
function decideOutcome(args: { record: BackupRecord; replicas: ProviderReplica[]; backends: StorageBackend[]; lost: boolean }): ReplicationOutcome {
  const { record, replicas, backends, lost } = args;
  const holds = (name: string): boolean => {
    const r = replicas.find((x) => x.provider === name);
    return r ? r.state === "ok" || r.state === "healed" : record.providers?.[name]?.status === "stored";
  };
  const expected = [...new Set([...backends.map((b) => b.name), ...Object.keys(record.providers ?? {})])];
  const holding = expected.filter(holds);
  let status: BackupRecord["status"] = record.status;
  if (holding.length === expected.length) status = "completed";
  else if (holding.length > 0) status = "degraded";
  else if (lost) status = "failed";
  const checked = replicas.filter((r) => r.state !== "unreachable");
  let verificationStatus = record.verificationStatus;
  if (checked.length > 0) {
    const goodNow = checked.filter((r) => r.state === "ok" || r.state === "healed").length;
    verificationStatus = goodNow === replicas.length ? "verified" : goodNow > 0 ? "partial" : "failed";
  }
  return { status, verificationStatus, checked, expected, holds };
}

/** [4] Each provider's entry, the location columns and the record's status; a `verifications` row per provider checked. */
async function recordInCatalog(
  { catalog, record, parts }: { catalog: NonNullable<StorageOpsDeps["catalog"]>; record: BackupRecord; parts: ArtifactPartRef[] },
  {
    replicas,
    outcome,
    now,
    recordVerification,
  }: { replicas: ProviderReplica[]; outcome: ReplicationOutcome; now: Date; recordVerification: boolean | undefined },
): Promise<void> {
  const { status, verificationStatus, checked } = outcome;
  const dataKey = parts[0]!.key;
  for (const r of replicas) {
    const good = r.state === "ok" || r.state === "healed";
    if (r.state === "unreachable") {
      await setProviderCopy(catalog.db, { id: record.id, provider: r.provider, copy: { location: dataKey, error: r.detail ?? "unreachable" } });
    } else if (good) {
      await setProviderCopy(catalog.db, {
        id: record.id,
        provider: r.provider,
        copy: { location: dataKey, status: "stored", size: parts[0]!.size, sha256: parts[0]!.sha256, verification: "verified", verifiedAt: now.toISOString() },
        clear: ["error"],
      });
    } else {
      const copy: Partial<ProviderCopy> = {
        location: dataKey,
        status: r.state === "corrupt" ? "corrupt" : r.state === "missing" ? "missing" : "stored",
        verification: "failed",
        verifiedAt: now.toISOString(),
        error: r.detail ?? r.state,
      };
      await setProviderCopy(catalog.db, { id: record.id, provider: r.provider, copy });
    }
    if (recordVerification !== false && r.found !== "unreachable") {
      await insertVerification(catalog.db, {
        backupId: record.id,
        provider: r.provider,
        depth: "keyless",
        ok: r.found === "ok",
        detail: r.found === "ok" ? undefined : describeFound(r),
        at: now,
      });
    }
  }
  const location = (name: "b2" | "r2"): { b2Location?: string | null; r2Location?: string | null } => {
    const r = replicas.find((x) => x.provider === name);
    if (!r || r.state === "unreachable") return {};
    return { [`${name}Location`]: r.state === "ok" || r.state === "healed" ? dataKey : null };
  };
  await updateBackupRecord(catalog.db, {
    id: record.id,
    set: {
      status,
      verificationStatus,
      verifiedAt: checked.length > 0 ? now : record.verifiedAt,
      ...location("b2"),
      ...location("r2"),
      ...(status === "failed" && record.status !== "failed"
        ? { errorMessage: `no provider holds a good copy: ${replicas.map((r) => `${r.provider} ${describeFound(r)}`).join("; ")}` }
        : {}),
    },
  });
}

/** [5] Verification results, degraded and healed replicas; alerts for surprises and for a lost backup. */
async function announce(
  { catalog, publish, record }: { catalog: StorageOpsDeps["catalog"] | undefined; publish: NonNullable<ReplicateOptions["publish"]>; record: BackupRecord },
  { replicas, lost, recordVerification }: { replicas: ProviderReplica[]; lost: boolean; recordVerification: boolean | undefined },
): Promise<void> {
  for (const r of replicas) {
    const provider = eventProvider(r.provider);
    if (r.found !== "unreachable" && recordVerification !== false && provider) {
      await publish("storage.verification.result.v1", {
        backupId: record.id,
        provider,
        depth: "keyless",
        ok: r.found === "ok",
        ...(r.found === "ok" ? {} : { detail: describeFound(r) }),
      });
    }
    const surprise = r.found !== "ok" && r.found !== "unreachable" && !(r.knownMissing && r.found === "missing");
    if (surprise && provider) {
      await publish("storage.replica.degraded.v1", {
        backupId: record.id,
        provider,
        reason: r.found === "corrupt" ? "corrupt" : "missing",
        detail: describeFound(r),
      });
    }
    if (r.state === "healed" && provider) {
      const from = eventProvider(r.copiedFrom ?? replicas.find((x) => x.state === "ok")?.provider ?? "");
      if (from) await publish("storage.replica.healed.v1", { backupId: record.id, provider, copiedFrom: from, size: r.bytesCopied });
    }
    if (surprise && catalog) {
      const healed = r.state === "healed";
      await raiseAlert(
        { catalog, publish },
        {
          severity: healed ? "warning" : "critical",
          code: healed ? "replica_healed" : "replica_unhealthy",
          message: `backup ${record.id}: the ${r.provider} copy was ${describeFound(r)}${healed ? `; healed from ${r.copiedFrom ?? "another provider"}` : "; not healed"}`,
          context: { backupId: record.id, provider: r.provider, found: r.found, state: r.state, tenantId: record.tenantId },
        },
      );
    }
  }
  if (lost && catalog && record.status !== "failed") {
    await raiseAlert(
      { catalog, publish },
      {
        severity: "critical",
        code: "backup_lost",
        message: `backup ${record.id}: no provider holds a good copy`,
        context: { backupId: record.id, tenantId: record.tenantId, providers: replicas.map((r) => ({ provider: r.provider, found: r.found })) },
      },
    );
  }
}

/** Folds a provider's part checks and sidecar outcomes into `found` and `state`. */
function summarize(r: ProviderReplica): void {
  const partBad = r.parts.filter((p) => !p.check.ok && p.check.problem !== "unreadable");
  const partUnreachable = r.parts.some((p) => p.check.problem === "unreadable");
  const sidecarBad = r.sidecars.filter((s) => s.found !== "ok" && s.found !== "unreachable");
  const sidecarUnreachable = r.sidecars.some((s) => s.state === "unreachable");
  r.found = partBad.some((p) => p.check.problem !== "missing")
    ? "corrupt"
    : partBad.length > 0
      ? "missing"
      : partUnreachable
        ? "unreachable"
        : sidecarBad.length > 0
          ? "sidecar"
          : sidecarUnreachable
            ? "unreachable"
            : "ok";
  const partsFixed = r.parts.every((p) => p.check.ok || p.copiedFrom);
  const sidecarsFixed = r.sidecars.length > 0 && r.sidecars.every((s) => s.state === "ok" || s.state === "healed");
  if (partsFixed && sidecarsFixed) {
    r.state = r.found === "ok" ? "ok" : "healed";
  } else if (partUnreachable || sidecarUnreachable) {
    r.state = "unreachable";
  } else {
    r.state = r.found === "ok" ? "sidecar" : r.found;
  }
  const details = [
    ...r.parts
      .filter((p) => !p.check.ok)
      .map((p) => `${p.part} ${p.check.problem}${p.check.error ? ` (${p.check.error})` : ""}${p.healError ? ` (heal failed: ${p.healError})` : ""}`),
    ...r.sidecars.filter((s) => s.found !== "ok").map((s) => `${s.kind} sidecar ${s.found}${s.detail && s.state !== "healed" ? ` (${s.detail})` : ""}`),
  ];
  if (details.length) r.detail = details.join(", ");
}

function describeFound(r: ProviderReplica): string {
  return r.detail ?? r.found;
}

async function copyPart(args: {
  ref: ArtifactPartRef;
  from: StorageBackend[];
  to: StorageBackend;
  overwrite: boolean;
  signal?: AbortSignal | undefined;
}): Promise<{ ok: true; copiedFrom: string } | { ok: false; error: unknown }> {
  const { ref, from, to, overwrite, signal } = args;
  let read: FailoverRead | undefined;
  try {
    read = await readWithFailover({ backends: from, key: ref.key, expectedSha256: ref.sha256, expectedSize: ref.size, ...(signal ? { signal } : {}) });
    read.done.catch(() => {});
    await putEverywhere({
      backends: [to],
      key: ref.key,
      source: read.stream,
      expectedSha256: ref.sha256,
      expectedSize: ref.size,
      onExisting: overwrite ? "overwrite" : "verify",
      contentType: "application/octet-stream",
      ...(signal ? { signal } : {}),
    });
    const report = await read.done.catch(() => undefined);
    return { ok: true, copiedFrom: report?.servedBy.at(-1) ?? read.provider };
  } catch (error) {
    read?.stream.destroy();
    if (isStorageError(error, "storage_aborted")) throw error;
    return { ok: false, error };
  }
}
