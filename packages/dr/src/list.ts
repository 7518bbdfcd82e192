import {
  DISASTER_PREFIX,
  groupArtifacts,
  parseMetaSidecar,
  readAll,
  type ArtifactPart,
  type ListedArtifact,
  type ManifestSummary,
  type StorageBackend,
} from "@hesaab/storage";
import { describe } from "./describe";
import { withKeyRoot } from "./rooted-backend";

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
  root?: string;
  signal?: AbortSignal;
}

const META_READS_AT_ONCE = 8;

/** Every disaster backup found in any of `backends`. A provider that cannot be listed is reported, never fatal. */
export async function listDisasterBackups(opts: ListDisasterBackupsOptions): Promise<DisasterListing> {
  const backends = opts.backends.map((b) => withKeyRoot(b, opts.root));
  const perProvider = await Promise.all(backends.map((backend) => listProvider({ backend, signal: opts.signal })));
  const byId = new Map<string, DisasterBackupEntry>();
  for (const { copies } of perProvider) {
    for (const [backupId, copy] of copies) {
      let entry = byId.get(backupId);
      if (!entry) {
        entry = { backupId, createdAt: "", summary: {}, copies: [], completeIn: [] };
        byId.set(backupId, entry);
      }
      entry.copies.push(copy);
      if (copy.complete) entry.completeIn.push(copy.provider);
      const created = copy.data?.createdAt ?? copy.config?.createdAt ?? "";
      if (!entry.createdAt || (created && created < entry.createdAt)) entry.createdAt = created;
      entry.summary = { ...(copy.data?.manifest ?? {}), ...(copy.config?.manifest ?? {}), ...entry.summary };
    }
  }
  const backups = [...byId.values()].sort((a, b) => (a.createdAt === b.createdAt ? (a.backupId < b.backupId ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
  return { backups, providers: perProvider.map((p) => p.listing) };
}

async function listProvider({ backend, signal }: { backend: StorageBackend; signal?: AbortSignal | undefined }): Promise<{ listing: ProviderListing; copies: Map<string, DisasterBackupCopy> }> {
  const copies = new Map<string, DisasterBackupCopy>();
  let strays = 0;
  const found: ListedArtifact[] = [];
  try {
    for await (const item of groupArtifacts(backend.list(DISASTER_PREFIX, signal ? { signal } : {}), { onStray: () => strays++ })) {
      if (item.parsed.type === "disaster") found.push(item);
    }
  } catch (err) {
    const { code, message } = describe(err);
    return { listing: { provider: backend.name, ok: false, error: message, errorCode: code, backups: 0, strays }, copies };
  }
  const parts = await mapLimit(found, META_READS_AT_ONCE, (item) => readPart({ backend, item, signal }));
  for (const [i, item] of found.entries()) {
    const { backupId, part } = item.parsed;
    let copy = copies.get(backupId);
    if (!copy) {
      copy = { provider: backend.name, complete: false, problems: [] };
      copies.set(backupId, copy);
    }
    const result = parts[i]!;
    if ("problem" in result) copy.problems.push(`${part}: ${result.problem}`);
    else copy[part] = result.copy;
  }
  for (const copy of copies.values()) {
    for (const part of ["data", "config"] as const) {
      if (!copy[part] && !copy.problems.some((p) => p.startsWith(`${part}:`))) copy.problems.push(`${part}: part missing`);
    }
    copy.complete = copy.problems.length === 0;
  }
  return { listing: { provider: backend.name, ok: true, backups: copies.size, strays }, copies };
}

async function readPart({ backend, item, signal }: { backend: StorageBackend; item: ListedArtifact; signal?: AbortSignal | undefined }): Promise<{ copy: DisasterPartCopy } | { problem: string }> {
  const part: ArtifactPart = item.parsed.part;
  if (!item.artifact) return { problem: "artifact missing (only sidecars found: an interrupted write?)" };
  if (!item.keys) return { problem: "key sidecar missing" };
  if (!item.meta) return { problem: "meta sidecar missing" };
  try {
    const metaKey = item.meta.key;
    const meta = parseMetaSidecar(await readAll(await backend.get(metaKey, signal ? { signal } : {})), { provider: backend.name, key: metaKey });
    if (meta.type !== "disaster" || meta.part !== part || meta.backupId !== item.parsed.backupId) return { problem: "meta sidecar describes another artifact" };
    if (meta.size !== item.artifact.size) return { problem: `size ${item.artifact.size} differs from the meta sidecar's ${meta.size}` };
    return {
      copy: { key: item.parsed.artifactKey, size: meta.size, sha256: meta.sha256, contentEncoding: meta.contentEncoding, createdAt: meta.createdAt, manifest: meta.manifest },
    };
  } catch (err) {
    return { problem: `meta sidecar unreadable: ${describe(err).message}` };
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
