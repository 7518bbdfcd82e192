import { inArray, sql } from "drizzle-orm";
import pMap from "p-map";
import { noPublish, type Publish } from "@hesaab/contracts";
import { errorText } from "@hesaab/config";
import { backupRecords, raiseAlert, type BackupRecord } from "@hesaab/db";
import { isPermanent, isStorageError, parseObjectKey, readMetaSidecar, type ListEntry, type StorageBackend } from "@hesaab/storage";
import type { StorageOpsDeps } from "./storage-ops-deps";
import { LAYOUT_PREFIXES, listInventory, type Listed } from "./inventory";
import { isGood, recordParts, type ArtifactPartRef } from "./parts";
import { replicateArtifact } from "./replicate";

export interface InventoryIssue {
  provider: string;
  key: string;
  backupId?: string | undefined;
  tenantId?: string | null;
  reason: string;
  size?: number;
}

export interface ReconcileReport {
  at: string;
  /** What each reachable provider's listing held under the layout's prefixes. */
  listed: Record<string, { artifacts: number; objects: number; bytes: number }>;
  /** Catalog records whose artifacts must be in the providers. */
  records: number;
  /** The catalog says stored; the object is absent. */
  missing: InventoryIssue[];
  /** The catalog already knew the copy was not stored (a degraded backup); replication was tried again. */
  degraded: InventoryIssue[];
  /** In a bucket, but not in the catalog, or the catalog says deleted/expired/failed, or outside the layout. Reported, never deleted. */
  extra: InventoryIssue[];
  /** Size in the listing, or the description's checksum, disagrees with the catalog; or the key sidecar or the description is missing. */
  corrupt: InventoryIssue[];
  /** Backups replication made whole (or partly whole) again, and the providers it wrote to (or found good and recorded). */
  healed: { backupId: string; providers: string[] }[];
  /** Backups still missing a copy after this run. */
  unhealed: { backupId: string; providers: string[]; pending: boolean }[];
  /** Providers whose listing failed (retryable errors); nothing was concluded about them. */
  unreachable: { provider: string; error: string }[];
}

export interface ReconcileOptions extends StorageOpsDeps {
  /** Replicate every backup found missing, corrupt or degraded. Default true. */
  heal?: boolean;
  /** Read every artifact's description and compare its checksum with the catalog (a HEAD of the key sidecar per artifact per provider). Default true. */
  checkMetaSidecars?: boolean;
  /** Records checked at once (each does a HEAD or a sidecar GET per provider). Default 8. */
  concurrency?: number;
  /** Listing prefixes. Default the layout's: `tenants/`, `disaster/`. */
  prefixes?: string[];
  now?: () => Date;
}

type LightRecord = Pick<
  BackupRecord,
  | "id"
  | "backupType"
  | "tenantId"
  | "status"
  | "filename"
  | "fileSize"
  | "checksum"
  | "encryptionKeyId"
  | "b2Location"
  | "r2Location"
  | "providers"
  | "metadata"
  | "createdAt"
>;

/**
 * Sweeps both inventories against the catalog (the buckets are the truth, the catalog an index):
 *
 *  [1] list every provider (`groupArtifacts`: artifact + sidecars per key); a provider whose
 *      listing fails retryably is reported unreachable and left out, a permanent failure (a missing
 *      bucket, bad credentials) throws;
 *  [2] load the catalog (light columns) after the listings, so every listed object's record exists;
 *  [3] per good record, per provider, per artifact: absent (confirmed by a HEAD, which also covers
 *      keys outside the listed prefixes and objects written meanwhile) → missing or degraded; listed
 *      size ≠ catalog → corrupt; the key sidecar absent → corrupt; the artifact's description (on the
 *      key sidecar, or an older `.meta.json`) absent or its checksum ≠ catalog → corrupt;
 *  [4] what no record claims (or a deleted/expired/failed one does) → extra, confirmed by a HEAD,
 *      reported with one alert, never deleted;
 *  [5] every backup with a problem goes through `replicateArtifact`, which re-checks and heals.
 *
 * Memory: one entry per listed artifact and one light row per record (tens of MB for 100 000 backups).
 */
export async function reconcile(opts: ReconcileOptions): Promise<ReconcileReport> {
  const { catalog, backends, signal } = opts;
  const publish = opts.publish ?? noPublish;
  const now = opts.now?.() ?? new Date();
  const prefixes = opts.prefixes ?? LAYOUT_PREFIXES;
  const report: ReconcileReport = {
    at: now.toISOString(),
    listed: {},
    records: 0,
    missing: [],
    degraded: [],
    extra: [],
    corrupt: [],
    healed: [],
    unhealed: [],
    unreachable: [],
  };

  // [1] inventories
  const { inventories, strays } = await listProviders({ catalog, publish, backends, prefixes, signal, report });
  const reachable = backends.filter((b) => inventories.has(b.name));

  // [2] catalog
  const records = await loadRecords(catalog);

  // [3] what the catalog says must be there
  const { claimed, toReplicate } = await checkRecords({ opts, records, reachable, inventories, report });

  // [4] what nothing accounts for
  await findExtras({ catalog, publish, signal, records, reachable, inventories, strays, claimed, report });

  // [5] heal
  await heal({ opts, toReplicate, report });
  return report;
}

/** [1] Lists every provider; a retryable listing failure marks the provider unreachable, a permanent one alerts and throws. */
async function listProviders({
  catalog,
  publish,
  backends,
  prefixes,
  signal,
  report,
}: {
  catalog: StorageOpsDeps["catalog"];
  publish: Publish;
  backends: readonly StorageBackend[];
  prefixes: string[];
  signal: AbortSignal | undefined;
  report: ReconcileReport;
}): Promise<{ inventories: Map<string, Map<string, Listed>>; strays: Map<string, ListEntry[]> }> {
  const inventories = new Map<string, Map<string, Listed>>();
  const strays = new Map<string, ListEntry[]>();
  for (const backend of backends) {
    try {
      const { items, stray } = await listInventory({ backend, prefixes, signal });
      inventories.set(backend.name, items);
      strays.set(backend.name, stray);
      const all = [...items.values()].flatMap((l) => [l.artifact, l.keys, l.meta]).filter((e): e is ListEntry => e !== undefined);
      report.listed[backend.name] = {
        artifacts: [...items.values()].filter((l) => l.artifact).length,
        objects: all.length + stray.length,
        bytes: all.reduce((s, e) => s + e.size, 0) + stray.reduce((s, e) => s + e.size, 0),
      };
    } catch (error) {
      if (isStorageError(error, "storage_aborted")) throw error;
      if (isPermanent(error)) {
        await raiseAlert(
          { catalog, publish },
          {
            severity: "critical",
            code: "storage_unusable",
            message: `reconciliation: ${backend.name} cannot be listed: ${errorText(error)}`,
            context: { provider: backend.name },
          },
        );
        throw error;
      }
      report.unreachable.push({ provider: backend.name, error: errorText(error) });
    }
  }
  return { inventories, strays };
}

/** [2] The catalog's tenant and disaster records, light columns only; loaded after the listings, so every listed object's record exists. */
async function loadRecords(catalog: StorageOpsDeps["catalog"]): Promise<LightRecord[]> {
  return await catalog.db
    .select({
      id: backupRecords.id,
      backupType: backupRecords.backupType,
      tenantId: backupRecords.tenantId,
      status: backupRecords.status,
      filename: backupRecords.filename,
      fileSize: backupRecords.fileSize,
      checksum: backupRecords.checksum,
      encryptionKeyId: backupRecords.encryptionKeyId,
      b2Location: backupRecords.b2Location,
      r2Location: backupRecords.r2Location,
      providers: backupRecords.providers,
      metadata: sql<
        Record<string, unknown>
      >`jsonb_build_object('key', ${backupRecords.metadata} -> 'key', 'config', (${backupRecords.metadata} -> 'config') - 'keySidecar'::text)`,
      createdAt: backupRecords.createdAt,
    })
    .from(backupRecords)
    .where(inArray(backupRecords.backupType, ["tenant", "disaster"]));
}

/** [3] Per good record, per reachable provider, per artifact: missing, degraded or corrupt; returns the keys live records claim and the backups to replicate. */
async function checkRecords({
  opts,
  records,
  reachable,
  inventories,
  report,
}: {
  opts: ReconcileOptions;
  records: LightRecord[];
  reachable: StorageBackend[];
  inventories: Map<string, Map<string, Listed>>;
  report: ReconcileReport;
}): Promise<{ claimed: Set<string>; toReplicate: Set<string> }> {
  const { signal } = opts;
  const claimed = new Set<string>(); // artifact keys some live record accounts for
  const toReplicate = new Set<string>();
  const checkRecord = async (record: LightRecord): Promise<void> => {
    const full = record as BackupRecord;
    let parts: ArtifactPartRef[];
    try {
      parts = recordParts(full);
    } catch {
      return; // a record that never stored anything (failed early, running)
    }
    if (record.status === "running" || record.status === "pending") {
      for (const p of parts) claimed.add(p.key);
      return;
    }
    if (!isGood(full)) return;
    report.records++;
    for (const p of parts) claimed.add(p.key);
    for (const backend of reachable) {
      const inventory = inventories.get(backend.name)!;
      for (const part of parts) {
        const issue = { provider: backend.name, key: part.key, backupId: record.id, tenantId: record.tenantId };
        let listed = inventory.get(part.key);
        if (!listed?.artifact) {
          const info = await backend.head(part.key, signal ? { signal } : {}).catch(() => undefined);
          if (info) listed = { ...listed, artifact: { key: part.key, size: info.size, lastModified: info.lastModified } };
        }
        if (!listed?.artifact) {
          const known = record.providers?.[backend.name];
          const saysStored = known
            ? known.status === "stored"
            : (backend.name === "b2" ? record.b2Location : backend.name === "r2" ? record.r2Location : null) !== null;
          (saysStored ? report.missing : report.degraded).push({
            ...issue,
            reason: saysStored ? "absent, though the catalog says stored" : `not stored (${known?.status ?? "unknown"})`,
          });
          toReplicate.add(record.id);
          continue;
        }
        if (listed.artifact.size !== part.size) {
          report.corrupt.push({ ...issue, size: listed.artifact.size, reason: `size ${listed.artifact.size}, catalog ${part.size}` });
          toReplicate.add(record.id);
          continue;
        }
        const sidecarsListed = inventory.has(part.key);
        if (sidecarsListed && !listed.keys) {
          report.corrupt.push({ ...issue, reason: "keys sidecar missing" });
          toReplicate.add(record.id);
          continue;
        }
        if (opts.checkMetaSidecars ?? true) {
          const problem = await metaProblem({ backend, part, signal });
          if (problem) {
            report.corrupt.push({ ...issue, reason: problem });
            toReplicate.add(record.id);
            continue;
          }
        }
        const known = record.providers?.[backend.name];
        if (known && known.status !== "stored") {
          // Present and plausible, but the catalog does not count it: replication verifies it and records it.
          report.degraded.push({ ...issue, reason: `present, but the catalog says ${known.status}` });
          toReplicate.add(record.id);
        }
      }
    }
  };
  await pMap(records, checkRecord, { concurrency: Math.max(1, opts.concurrency ?? 8) }); // the first error stops new work and is thrown

  return { claimed, toReplicate };
}

/** [4] What no live record claims → extra, confirmed by a HEAD, reported with one alert, never deleted. */
async function findExtras({
  catalog,
  publish,
  signal,
  records,
  reachable,
  inventories,
  strays,
  claimed,
  report,
}: {
  catalog: StorageOpsDeps["catalog"];
  publish: Publish;
  signal: AbortSignal | undefined;
  records: LightRecord[];
  reachable: StorageBackend[];
  inventories: Map<string, Map<string, Listed>>;
  strays: Map<string, ListEntry[]>;
  claimed: Set<string>;
  report: ReconcileReport;
}): Promise<void> {
  const byId = new Map(records.map((r) => [r.id, r]));
  for (const backend of reachable) {
    for (const [key, listed] of inventories.get(backend.name)!) {
      if (claimed.has(key)) continue;
      const parsed = parseObjectKey(key);
      const record = parsed ? byId.get(parsed.backupId) : undefined;
      const reason = !record ? "not in the catalog" : `the catalog says ${record.status}`;
      for (const entry of [listed.artifact, listed.keys, listed.meta]) {
        if (!entry) continue;
        if (!(await backend.head(entry.key, signal ? { signal } : {}).catch(() => true))) continue; // gone meanwhile
        report.extra.push({
          provider: backend.name,
          key: entry.key,
          backupId: parsed?.backupId,
          tenantId: parsed?.tenantId ?? null,
          size: entry.size,
          reason: entry === listed.artifact ? reason : `${reason} (sidecar${listed.artifact ? "" : " without its artifact"})`,
        });
      }
    }
    for (const entry of strays.get(backend.name) ?? [])
      report.extra.push({ provider: backend.name, key: entry.key, size: entry.size, reason: "outside the layout" });
  }
  if (report.extra.length > 0) {
    await raiseAlert(
      { catalog, publish },
      {
        severity: "warning",
        code: "storage_extra_objects",
        message: `reconciliation found ${report.extra.length} object(s) the catalog does not account for; nothing was deleted`,
        context: { count: report.extra.length, sample: report.extra.slice(0, 20).map((e) => ({ provider: e.provider, key: e.key, reason: e.reason })) },
      },
    );
  }
}

/** [5] Every backup with a problem goes through `replicateArtifact`, which re-checks and heals. */
async function heal({ opts, toReplicate, report }: { opts: ReconcileOptions; toReplicate: Set<string>; report: ReconcileReport }): Promise<void> {
  if (opts.heal ?? true) {
    for (const id of toReplicate) {
      try {
        const result = await replicateArtifact({ ...opts, record: id, heal: true });
        // Healed: copied now, or found good where the catalog had it as not stored (recorded now).
        const whole = result.providers.filter((p) => p.state === "healed" || (p.state === "ok" && p.knownMissing)).map((p) => p.provider);
        if (whole.length) report.healed.push({ backupId: id, providers: whole });
        if (result.degraded.length) report.unhealed.push({ backupId: id, providers: result.degraded, pending: result.pending });
      } catch (error) {
        if (isStorageError(error, "storage_aborted")) throw error;
        report.unhealed.push({ backupId: id, providers: [], pending: true });
      }
    }
  } else {
    for (const id of toReplicate) report.unhealed.push({ backupId: id, providers: [], pending: false });
  }
}

async function metaProblem({
  backend,
  part,
  signal,
}: {
  backend: StorageBackend;
  part: ArtifactPartRef;
  signal?: AbortSignal | undefined;
}): Promise<string | undefined> {
  try {
    const meta = await readMetaSidecar({ backend, artifactKey: part.key, ...(signal ? { signal } : {}) });
    if (!meta) return "description missing";
    if (meta.sha256 !== part.sha256) return "description's checksum differs from the catalog";
    if (meta.size !== part.size) return "description's size differs from the catalog";
    return undefined;
  } catch (error) {
    if (isStorageError(error, "storage_aborted")) throw error;
    if (isStorageError(error, "storage_corrupt")) return "description invalid";
    return undefined; // unreadable now: not a finding
  }
}
