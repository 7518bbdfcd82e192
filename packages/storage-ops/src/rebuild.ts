import { errorText } from "@hesaab/config";
import { backupPurpose } from "@hesaab/contracts";
import { parseKeySidecar, type KeySidecar } from "@hesaab/crypto";
import { backupRecords, writeAudit, type NewBackupRecord, type ProviderCopy } from "@hesaab/db";
import { isStorageError, keysSidecarKey, readMetaSidecar, readSidecarBytes, type ListEntry, type MetaSidecar, type StorageBackend } from "@hesaab/storage";
import type { StorageOpsDeps } from "./storage-ops-deps";
import { StorageOpsError } from "./errors";
import { LAYOUT_PREFIXES, listInventory, type Inventory } from "./inventory";

const DAY_MS = 86_400_000;

export interface RebuildOptions extends StorageOpsDeps {
  /** The provider whose listing and sidecars the records are rebuilt from. */
  from: string;
  /** Retention, to recompute `expires_at` = `created_at` + days. */
  retention: { tenantDays: number; disasterDays: number };
  /** Build and report the records, insert nothing. */
  dryRun?: boolean;
}

export interface RebuiltRecord {
  id: string;
  type: "tenant" | "disaster";
  tenantId: string | null;
  key: string;
  size: number;
  checksum: string;
  createdAt: string;
  expiresAt: string;
  status: "completed" | "degraded";
  providers: Record<string, ProviderCopy["status"] | "unchecked">;
  hasKeySidecar: boolean;
}

export interface RebuildReport {
  from: string;
  dryRun: boolean;
  /** Every record rebuilt from the bucket (inserted or not). */
  records: RebuiltRecord[];
  inserted: number;
  /** Ids already in the catalog: left as they were. */
  existing: string[];
  /** Objects that could not become a record, and why (no description, a mismatch, …). */
  problems: { key: string; problem: string }[];
  /** Objects outside the layout (not rebuilt). */
  strays: number;
  /** The other configured providers, listed to fill in their per-provider state. */
  others: { provider: string; listed: boolean; error?: string; onlyThere: number }[];
}

interface Part {
  key: string;
  entry: ListEntry;
  meta: MetaSidecar;
  sidecar: KeySidecar | undefined;
}

/**
 * Rebuilds `backup_records` from one bucket alone (the buckets are the truth; the catalog is an
 * index): every artifact with a valid description (its key sidecar's metadata, or an older .meta.json) becomes a record with its id, type, tenant,
 * key, size, checksum, creation time (from the description), expiry (creation + retention days),
 * key sidecar (from `<key>.keys.json`) and, for disaster backups, the config bundle.
 *
 * The other configured providers are listed too: a provider holding the same key with the same
 * size counts as `stored` (verification pending), one without it as `missing`, one that cannot be
 * listed as `failed` ("not checked"). Status: `completed` when every provider holds it, else
 * `degraded` (storage-svc then heals it). Objects only in another bucket are counted, not added:
 * run the rebuild again `--from` that provider (existing ids are left alone).
 *
 * `purpose` and `period` come from the description's manifest summary (tenant backups write them;
 * `on_demand`/none otherwise). Not in the buckets, so not rebuilt: per-table row counts, restore
 * operations, audit history, tenant key seeds (`tenant_keys`: the disaster backup holds those).
 */
export async function rebuildCatalog(opts: RebuildOptions): Promise<RebuildReport> {
  const { backends, signal } = opts;
  const source = backends.find((b) => b.name === opts.from);
  if (!source) {
    throw new StorageOpsError({
      code: "storage_ops_no_provider",
      message: `provider ${opts.from} is not configured`,
      hint: `Set the ${opts.from.toUpperCase()}_* variables`,
      context: { provider: opts.from },
    });
  }
  const report: RebuildReport = { from: opts.from, dryRun: opts.dryRun ?? false, records: [], inserted: 0, existing: [], problems: [], strays: 0, others: [] };
  const sourceInventory = await listInventory({ backend: source, signal });
  report.strays = sourceInventory.stray.length;
  const others = await listOthers({ backends, source, sourceInventory, signal, report });

  // Read every artifact's sidecars from the source.
  const { dataParts, configParts } = await readParts({ source, sourceInventory, signal, report });

  const rows = buildRows({ opts, source, others, dataParts, configParts, report });
  if (report.dryRun) return report;

  await insertRows({ opts, source, rows, report });
  return report;
}

/** Lists the other providers, so each rebuilt record can say which of them hold its artifact. */
async function listOthers({
  backends,
  source,
  sourceInventory,
  signal,
  report,
}: {
  backends: readonly StorageBackend[];
  source: StorageBackend;
  sourceInventory: Inventory;
  signal: AbortSignal | undefined;
  report: RebuildReport;
}): Promise<{ backend: StorageBackend; inventory?: Inventory; error?: string }[]> {
  const others: { backend: StorageBackend; inventory?: Inventory; error?: string }[] = [];
  for (const backend of backends.filter((b) => b !== source)) {
    try {
      const inventory = await listInventory({ backend, prefixes: LAYOUT_PREFIXES, signal });
      others.push({ backend, inventory });
      const onlyThere = [...inventory.items.entries()].filter(([k, l]) => l.artifact && !sourceInventory.items.get(k)?.artifact).length;
      report.others.push({ provider: backend.name, listed: true, onlyThere });
    } catch (error) {
      if (isStorageError(error, "storage_aborted")) throw error;
      others.push({ backend, error: errorText(error) });
      report.others.push({ provider: backend.name, listed: false, error: errorText(error), onlyThere: 0 });
    }
  }
  return others;
}

/** Reads every artifact's sidecars from the source: the data parts and the disaster backups' config parts, by backup id. */
async function readParts({
  source,
  sourceInventory,
  signal,
  report,
}: {
  source: StorageBackend;
  sourceInventory: Inventory;
  signal: AbortSignal | undefined;
  report: RebuildReport;
}): Promise<{ dataParts: Map<string, Part>; configParts: Map<string, Part> }> {
  const dataParts = new Map<string, Part>();
  const configParts = new Map<string, Part>();
  for (const [key, listed] of sourceInventory.items) {
    if (!listed.artifact) {
      report.problems.push({ key, problem: "sidecars without their artifact" });
      continue;
    }
    let meta: MetaSidecar | null;
    try {
      meta = await readMetaSidecar({ backend: source, artifactKey: key, ...(signal ? { signal } : {}) });
    } catch (error) {
      if (isStorageError(error, "storage_aborted")) throw error;
      report.problems.push({ key, problem: `description unreadable: ${errorText(error)}` });
      continue;
    }
    if (!meta) {
      report.problems.push({ key, problem: "no description: the artifact cannot be described" });
      continue;
    }
    const parsedId = key.slice(key.lastIndexOf("/") + 1).split(".")[0];
    if (meta.backupId !== parsedId) {
      report.problems.push({ key, problem: `the description names backup ${meta.backupId}` });
      continue;
    }
    if (meta.size !== listed.artifact.size)
      report.problems.push({ key, problem: `listed size ${listed.artifact.size} differs from the description's ${meta.size}` });
    let sidecar: KeySidecar | undefined;
    if (listed.keys) {
      try {
        const bytes = await readSidecarBytes({ backend: source, key: keysSidecarKey(key), signal });
        if (bytes) sidecar = parseKeySidecar(bytes);
        else report.problems.push({ key, problem: "no key sidecar" });
      } catch (error) {
        if (isStorageError(error, "storage_aborted")) throw error;
        report.problems.push({ key, problem: `key sidecar invalid: ${errorText(error)}` });
      }
    } else {
      report.problems.push({ key, problem: "no key sidecar" });
    }
    (meta.part === "config" ? configParts : dataParts).set(meta.backupId, { key, entry: listed.artifact, meta, sidecar });
  }
  for (const [id, part] of configParts) if (!dataParts.has(id)) report.problems.push({ key: part.key, problem: "config bundle without its data artifact" });
  return { dataParts, configParts };
}

/** One catalog row per data part, with each provider's state; fills `report.records`. */
function buildRows({
  opts,
  source,
  others,
  dataParts,
  configParts,
  report,
}: {
  opts: RebuildOptions;
  source: StorageBackend;
  others: { backend: StorageBackend; inventory?: Inventory; error?: string }[];
  dataParts: Map<string, Part>;
  configParts: Map<string, Part>;
  report: RebuildReport;
}): NewBackupRecord[] {
  const rows: NewBackupRecord[] = [];
  for (const [id, data] of dataParts) {
    const { meta } = data;
    const config = meta.type === "disaster" ? configParts.get(id) : undefined;
    const createdAt = new Date(meta.createdAt);
    const days = meta.type === "disaster" ? opts.retention.disasterDays : opts.retention.tenantDays;
    const expiresAt = new Date(createdAt.getTime() + days * DAY_MS);
    const providers: Record<string, ProviderCopy> = {};
    const states: RebuiltRecord["providers"] = {};
    const sourceOk = meta.size === data.entry.size && (!config || config.meta.size === config.entry.size);
    providers[source.name] = sourceOk
      ? { location: data.key, status: "stored", size: meta.size, sha256: meta.sha256, verification: "pending" }
      : { location: data.key, status: "corrupt", error: "listed size differs from the description" };
    states[source.name] = providers[source.name]!.status;
    for (const other of others) {
      const has = (part: Part | undefined) => !part || other.inventory?.items.get(part.key)?.artifact?.size === part.meta.size;
      if (!other.inventory) {
        providers[other.backend.name] = { location: data.key, status: "failed", error: `not checked: ${other.error}` };
        states[other.backend.name] = "unchecked";
      } else if (has(data) && has(config)) {
        providers[other.backend.name] = { location: data.key, status: "stored", size: meta.size, sha256: meta.sha256, verification: "pending" };
        states[other.backend.name] = "stored";
      } else {
        providers[other.backend.name] = { location: data.key, status: "missing" };
        states[other.backend.name] = "missing";
      }
    }
    const status = Object.values(providers).every((p) => p.status === "stored") ? "completed" : "degraded";
    const purpose = backupPurpose.catch("on_demand").parse(meta.manifest.purpose);
    const period = typeof meta.manifest.period === "string" ? meta.manifest.period : null;
    rows.push({
      id,
      backupType: meta.type,
      tenantId: meta.tenantId,
      filename: meta.type === "tenant" ? data.key.slice(data.key.lastIndexOf("/") + 1) : data.key,
      fileSize: meta.size,
      checksum: meta.sha256,
      encryptionKeyId: data.sidecar?.dekId ?? "",
      b2Location: providers.b2?.status === "stored" ? data.key : null,
      r2Location: providers.r2?.status === "stored" ? data.key : null,
      providers,
      keySidecar: (data.sidecar as unknown as Record<string, unknown> | undefined) ?? null,
      status,
      verificationStatus: "pending",
      purpose,
      period,
      createdAt,
      completedAt: data.entry.lastModified,
      expiresAt,
      metadata: {
        key: data.key,
        ...(typeof meta.manifest.rows === "number" ? { rows: meta.manifest.rows } : {}),
        manifest: meta.manifest,
        contentEncoding: meta.contentEncoding,
        rebuiltFrom: source.name,
        rebuiltAt: new Date().toISOString(),
        ...(config
          ? {
              config: {
                key: config.key,
                size: config.meta.size,
                sha256: config.meta.sha256,
                dekId: config.sidecar?.dekId ?? null,
                keySidecar: config.sidecar ?? null,
              },
            }
          : {}),
      },
    });
    report.records.push({
      id,
      type: meta.type,
      tenantId: meta.tenantId,
      key: data.key,
      size: meta.size,
      checksum: meta.sha256,
      createdAt: createdAt.toISOString(),
      expiresAt: expiresAt.toISOString(),
      status,
      providers: states,
      hasKeySidecar: data.sidecar !== undefined,
    });
  }
  report.records.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  return rows;
}

/** Inserts the rows in batches, leaving existing ids alone, and audits the rebuild. */
async function insertRows({
  opts,
  source,
  rows,
  report,
}: {
  opts: RebuildOptions;
  source: StorageBackend;
  rows: NewBackupRecord[];
  report: RebuildReport;
}): Promise<void> {
  const { catalog } = opts;
  for (let i = 0; i < rows.length; i += 200) {
    const batch = rows.slice(i, i + 200);
    const inserted = await catalog.db.insert(backupRecords).values(batch).onConflictDoNothing({ target: backupRecords.id }).returning({ id: backupRecords.id });
    report.inserted += inserted.length;
    const got = new Set(inserted.map((r) => r.id));
    report.existing.push(...batch.map((r) => r.id).filter((id) => !got.has(id)));
  }
  await writeAudit(catalog.db, {
    actor: opts.actor ?? "system:catalog-rebuild",
    action: "catalog.rebuilt",
    targetType: "catalog",
    details: { from: source.name, records: rows.length, inserted: report.inserted, existing: report.existing.length, problems: report.problems.length },
  });
}
