import pMap from "p-map";
import {
  DISASTER_PREFIX,
  groupArtifacts,
  readMetaSidecar,
  type ArtifactPart,
  type ListedArtifact,
  type ManifestSummary,
  type StorageBackend,
  withKeyPrefix,
} from "@hesaab/storage";
import { describe } from "./describe";

/**
 * Disaster backups as the buckets describe them, with no catalog: list `disaster/` in every
 * provider, group each artifact with its sidecars, read the meta sidecars. A backup is usable in a
 * provider when that provider holds both parts (data and config), each with its key sidecar and a
 * valid meta sidecar whose size matches the listed object.
 */

export interface DisasterPartCopy {
  key: string;
  size: number;
  sha256: string;
  /** From the meta sidecar: `pg_dump-custom` (data) or `gzip` (config). */
  contentEncoding: string;
  createdAt: string;
  manifest: ManifestSummary;
}

export interface DisasterBackupCopy {
  provider: string;
  data?: DisasterPartCopy;
  config?: DisasterPartCopy;
  /** Both parts present with their sidecars, sizes as the meta sidecars say. */
  complete: boolean;
  /** Why it is not complete (`config part missing`, `data: meta sidecar invalid: …`). */
  problems: string[];
}

export interface DisasterBackupEntry {
  backupId: string;
  createdAt: string;
  /** The meta sidecars' summaries, merged (data part first, config part's row counts over it). */
  summary: ManifestSummary;
  /** Per provider that holds anything of this backup, in the order of `backends`. */
  copies: DisasterBackupCopy[];
  /** Providers holding a complete copy, in the order of `backends`. */
  completeIn: string[];
}

export interface ProviderListing {
  provider: string;
  ok: boolean;
  /** Why the listing failed (provider down, bad credentials, missing bucket). */
  error?: string;
  errorCode?: string;
  backups: number;
  /** Keys under `disaster/` that are not in the layout. */
  strays: number;
}

export interface DisasterListing {
  /** Newest first. */
  backups: DisasterBackupEntry[];
  providers: ProviderListing[];
}

export interface ListDisasterBackupsOptions {
  backends: StorageBackend[];
  /** Key prefix every disaster key lives under (tests; buckets shared with other data). */
  root?: string | undefined;
  signal?: AbortSignal | undefined;
}

const META_READS_AT_ONCE = 8;

/** Every disaster backup found in any of `backends`. A provider that cannot be listed is reported, never fatal. */
export async function listDisasterBackups(opts: ListDisasterBackupsOptions): Promise<DisasterListing> {
  const listed = await listObjects(opts);
  const ids = newestFirst(listed);
  const entries = await pMap(ids, (backupId) => describeBackup({ listed, backupId, signal: opts.signal }), {
    concurrency: Math.max(1, Math.floor(META_READS_AT_ONCE / 2)),
  });
  const backups = entries.sort((a, b) => (a.createdAt === b.createdAt ? (a.backupId < b.backupId ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
  return { backups, providers: listed.map((p) => p.listing) };
}

/**
 * One backup for a restore, reading only the metadata it needs: by id, or the newest backup that is
 * complete in some provider (candidates tried newest first, by the day in their key and their
 * time-ordered id), so a bucket with 90 days of backups costs a listing and a few small reads.
 */
export async function findDisasterBackup(
  opts: ListDisasterBackupsOptions & { backupId?: string | undefined },
): Promise<{ entry: DisasterBackupEntry | undefined; providers: ProviderListing[]; incomplete: number }> {
  const listed = await listObjects(opts);
  const providers = listed.map((p) => p.listing);
  const ids = opts.backupId ? [opts.backupId] : newestFirst(listed);
  let incomplete = 0;
  for (const backupId of ids) {
    if (!listed.some((p) => p.items.has(backupId))) continue;
    const entry = await describeBackup({ listed, backupId, signal: opts.signal });
    if (opts.backupId || entry.completeIn.length > 0) return { entry, providers, incomplete };
    incomplete++;
  }
  return { entry: undefined, providers, incomplete };
}

interface ListedProvider {
  backend: StorageBackend;
  listing: ProviderListing;
  /** Artifacts (with their sidecars) per backup id. */
  items: Map<string, ListedArtifact[]>;
}

async function listObjects(opts: ListDisasterBackupsOptions): Promise<ListedProvider[]> {
  const backends = opts.backends.map((b) => withKeyPrefix(b, opts.root ?? ""));
  return Promise.all(
    backends.map(async (backend): Promise<ListedProvider> => {
      const items = new Map<string, ListedArtifact[]>();
      let strays = 0;
      try {
        for await (const item of groupArtifacts(backend.list(DISASTER_PREFIX, opts.signal ? { signal: opts.signal } : {}), { onStray: () => strays++ })) {
          if (item.parsed.type !== "disaster") continue;
          items.set(item.parsed.backupId, [...(items.get(item.parsed.backupId) ?? []), item]);
        }
      } catch (err) {
        const { code, message } = describe(err);
        return { backend, items: new Map(), listing: { provider: backend.name, ok: false, error: message, errorCode: code, backups: 0, strays } };
      }
      return { backend, items, listing: { provider: backend.name, ok: true, backups: items.size, strays } };
    }),
  );
}

/** Backup ids of every provider, newest first: by the day in the key, then the id (`bkp_…` ids sort by creation time). */
function newestFirst(listed: ListedProvider[]): string[] {
  const day = new Map<string, string>();
  for (const p of listed) {
    for (const [id, items] of p.items) {
      const date = items[0]!.parsed.date;
      if (date > (day.get(id) ?? "")) day.set(id, date);
    }
  }
  return [...day.keys()].sort((a, b) => (day.get(a) === day.get(b) ? (a < b ? 1 : -1) : day.get(a)! < day.get(b)! ? 1 : -1));
}

async function describeBackup({
  listed,
  backupId,
  signal,
}: {
  listed: ListedProvider[];
  backupId: string;
  signal?: AbortSignal | undefined;
}): Promise<DisasterBackupEntry> {
  const entry: DisasterBackupEntry = { backupId, createdAt: "", summary: {}, copies: [], completeIn: [] };
  const copies = await Promise.all(
    listed.map(async ({ backend, items }) => {
      const found = items.get(backupId);
      return found ? describeCopy({ backend, items: found, signal }) : undefined;
    }),
  );
  for (const copy of copies) {
    if (!copy) continue;
    entry.copies.push(copy);
    if (copy.complete) entry.completeIn.push(copy.provider);
    const created = copy.data?.createdAt ?? copy.config?.createdAt ?? "";
    if (!entry.createdAt || (created && created < entry.createdAt)) entry.createdAt = created;
    entry.summary = { ...(copy.data?.manifest ?? {}), ...(copy.config?.manifest ?? {}), ...entry.summary };
  }
  return entry;
}

async function describeCopy({
  backend,
  items,
  signal,
}: {
  backend: StorageBackend;
  items: ListedArtifact[];
  signal?: AbortSignal | undefined;
}): Promise<DisasterBackupCopy> {
  const copy: DisasterBackupCopy = { provider: backend.name, complete: false, problems: [] };
  const parts = await Promise.all(items.map((item) => readPart({ backend, item, signal })));
  for (const [i, item] of items.entries()) {
    const result = parts[i]!;
    if ("problem" in result) copy.problems.push(`${item.parsed.part}: ${result.problem}`);
    else copy[item.parsed.part] = result.copy;
  }
  for (const part of ["data", "config"] as const) {
    if (!copy[part] && !copy.problems.some((p) => p.startsWith(`${part}:`))) copy.problems.push(`${part}: part missing`);
  }
  copy.complete = copy.problems.length === 0;
  return copy;
}

async function readPart({
  backend,
  item,
  signal,
}: {
  backend: StorageBackend;
  item: ListedArtifact;
  signal?: AbortSignal | undefined;
}): Promise<{ copy: DisasterPartCopy } | { problem: string }> {
  const part: ArtifactPart = item.parsed.part;
  if (!item.artifact) return { problem: "artifact missing (only sidecars found: an interrupted write?)" };
  if (!item.keys) return { problem: "key sidecar missing" };
  try {
    const meta = await readMetaSidecar({ backend, artifactKey: item.parsed.artifactKey, ...(signal ? { signal } : {}) });
    if (!meta) return { problem: "no description: the key sidecar carries none and there is no meta sidecar" };
    if (meta.type !== "disaster" || meta.part !== part || meta.backupId !== item.parsed.backupId) return { problem: "meta sidecar describes another artifact" };
    if (meta.size !== item.artifact.size) return { problem: `size ${item.artifact.size} differs from the meta sidecar's ${meta.size}` };
    return {
      copy: {
        key: item.parsed.artifactKey,
        size: meta.size,
        sha256: meta.sha256,
        contentEncoding: meta.contentEncoding,
        createdAt: meta.createdAt,
        manifest: meta.manifest,
      },
    };
  } catch (err) {
    return { problem: `description unreadable: ${describe(err).message}` };
  }
}
