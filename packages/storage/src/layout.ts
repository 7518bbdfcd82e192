import type { ListEntry } from "./backend";
import { StorageError } from "./errors";

/**
 * Where artifacts live in a bucket, and the sidecars that make every object self-describing, so
 * the catalog can be rebuilt from a bucket listing alone:
 *
 *     tenants/<tenantId>/<yyyy>/<mm>/<dd>/<backupId>.sql.gz.bkp1        tenant backup (SQL script, gzip, BKP1)
 *     disaster/<yyyy>/<mm>/<dd>/<backupId>.pgdump.bkp1                  disaster backup (pg_dump -Fc, BKP1)
 *     disaster/<yyyy>/<mm>/<dd>/<backupId>.config.bkp1                  disaster config bundle (JSON, BKP1)
 *     <artifact key>.keys.json                                          key sidecar (@hesaab/crypto), whose user
 *                                                                       metadata `hesaab-meta` describes the artifact (below)
 *     <artifact key>.meta.json                                          the same description as an object of its own:
 *                                                                       written before it moved onto the key sidecar, still read
 *
 * The description (who, what, when, size, checksum: `MetaSidecar`) travels with the key sidecar
 * because both are written once the artifact is complete, and one object per artifact and provider
 * fewer is a request fewer for each of thousands of nightly backups.
 *
 * The date is the backup's creation day in UTC. Tenant and backup ids are 1-128 characters of
 * `[A-Za-z0-9_-]`: no "/" (one folder per id) and no "." (so an artifact's key, then its sidecars,
 * come right after each other in a listing, before any other artifact of the folder).
 */

export type BackupType = "tenant" | "disaster";
/** `data`: the backup itself; `config`: a disaster backup's configuration bundle. */
export type ArtifactPart = "data" | "config";
export type SidecarKind = "keys" | "meta";

export const TENANTS_PREFIX = "tenants/";
export const DISASTER_PREFIX = "disaster/";
const SUFFIX = { tenant: ".sql.gz.bkp1", disasterData: ".pgdump.bkp1", disasterConfig: ".config.bkp1" } as const;
const SIDECAR_SUFFIX: Record<SidecarKind, string> = { keys: ".keys.json", meta: ".meta.json" };
const ID = /^[A-Za-z0-9_-]{1,128}$/;

function assertId(what: string, value: string): void {
  if (!ID.test(value)) {
    throw new StorageError({
      code: "storage_invalid_argument",
      provider: "layout",
      message: `${what} must be 1-128 characters of letters, digits, "_" or "-"`,
      context: { [what]: value },
    });
  }
}

function day(createdAt: Date): string {
  if (Number.isNaN(createdAt.getTime()))
    throw new StorageError({ code: "storage_invalid_argument", provider: "layout", message: "createdAt is not a valid date" });
  const iso = createdAt.toISOString(); // UTC
  return `${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}`;
}

/** `tenants/<tenantId>/<yyyy>/<mm>/<dd>/<backupId>.sql.gz.bkp1` */
export function tenantBackupKey(args: { tenantId: string; backupId: string; createdAt: Date }): string {
  assertId("tenantId", args.tenantId);
  assertId("backupId", args.backupId);
  return `${TENANTS_PREFIX}${args.tenantId}/${day(args.createdAt)}/${args.backupId}${SUFFIX.tenant}`;
}

/** `disaster/<yyyy>/<mm>/<dd>/<backupId>.pgdump.bkp1`, or `….config.bkp1` for the configuration bundle. */
export function disasterBackupKey(args: { backupId: string; createdAt: Date; part?: ArtifactPart }): string {
  assertId("backupId", args.backupId);
  return `${DISASTER_PREFIX}${day(args.createdAt)}/${args.backupId}${args.part === "config" ? SUFFIX.disasterConfig : SUFFIX.disasterData}`;
}

/** `<artifactKey>.keys.json` or `<artifactKey>.meta.json`. */
export function sidecarKey(artifactKey: string, kind: SidecarKind): string {
  return `${artifactKey}${SIDECAR_SUFFIX[kind]}`;
}
export const keysSidecarKey = (artifactKey: string): string => sidecarKey(artifactKey, "keys");
export const metaSidecarKey = (artifactKey: string): string => sidecarKey(artifactKey, "meta");

/** Listing prefixes: every tenant backup, one tenant's, one tenant's day; every disaster backup. */
export function tenantPrefix(tenantId?: string): string {
  if (tenantId === undefined) return TENANTS_PREFIX;
  assertId("tenantId", tenantId);
  return `${TENANTS_PREFIX}${tenantId}/`;
}

export interface ParsedKey {
  type: BackupType;
  part: ArtifactPart;
  /** Absent for disaster backups. */
  tenantId?: string;
  backupId: string;
  /** `yyyy-mm-dd` (UTC) from the key's folders. */
  date: string;
  /** The artifact's own key (for a sidecar: the key it describes). */
  artifactKey: string;
  /** Set when the key is a sidecar. */
  sidecar?: SidecarKind;
}

const TENANT_KEY = /^tenants\/([A-Za-z0-9_-]{1,128})\/(\d{4})\/(\d{2})\/(\d{2})\/([A-Za-z0-9_-]{1,128})\.sql\.gz\.bkp1$/;
const DISASTER_KEY = /^disaster\/(\d{4})\/(\d{2})\/(\d{2})\/([A-Za-z0-9_-]{1,128})\.(pgdump|config)\.bkp1$/;

/** What a key is, or `null` for a key outside the layout (a stray object: report it, never guess). */
export function parseObjectKey(key: string): ParsedKey | null {
  let artifactKey = key;
  let sidecar: SidecarKind | undefined;
  for (const kind of ["keys", "meta"] as const) {
    if (key.endsWith(SIDECAR_SUFFIX[kind])) {
      artifactKey = key.slice(0, -SIDECAR_SUFFIX[kind].length);
      sidecar = kind;
    }
  }
  const withSidecar = sidecar ? { sidecar } : {};
  const t = TENANT_KEY.exec(artifactKey);
  if (t) {
    const date = validDate(t[2]!, t[3]!, t[4]!);
    return date ? { type: "tenant", part: "data", tenantId: t[1]!, backupId: t[5]!, date, artifactKey, ...withSidecar } : null;
  }
  const d = DISASTER_KEY.exec(artifactKey);
  if (d) {
    const date = validDate(d[1]!, d[2]!, d[3]!);
    return date ? { type: "disaster", part: d[5] === "config" ? "config" : "data", backupId: d[4]!, date, artifactKey, ...withSidecar } : null;
  }
  return null;
}

function validDate(y: string, m: string, d: string): string | undefined {
  const s = `${y}-${m}-${d}`;
  const t = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(t.getTime()) && t.toISOString().startsWith(s) ? s : undefined;
}

// ---------------------------------------------------------------------------------------------
// The metadata sidecar
// ---------------------------------------------------------------------------------------------

/** A short summary of the backup's manifest: enough to list and check a backup without decrypting it. */
export interface ManifestSummary {
  /** Number of tables in the backup. */
  tables?: number | undefined;
  /** Total rows across tables. */
  rows?: number | undefined;
  /** Schema / migration version of the source database when the backup was taken. */
  schemaVersion?: string | undefined;
  /** Anything else the producer wants to keep (flat JSON values). */
  [extra: string]: string | number | boolean | null | undefined;
}

/** `<artifact key>.meta.json`: who, what, when, and the checksum of the artifact's bytes. */
export interface MetaSidecar {
  format: "hesaab-backup-meta";
  version: 1;
  backupId: string;
  type: BackupType;
  part: ArtifactPart;
  /** Null for disaster backups. */
  tenantId: string | null;
  /** ISO 8601 UTC. */
  createdAt: string;
  /** Bytes of the artifact as stored (ciphertext). */
  size: number;
  /** Lowercase hex SHA-256 of the artifact as stored. */
  sha256: string;
  /** What is inside the encryption: `gzip` (tenant SQL script), `pg_dump-custom`, `json`. */
  contentEncoding: string;
  /** Always `bkp1` today. */
  encryption: "bkp1";
  manifest: ManifestSummary;
}

export type MetaSidecarInput = Omit<MetaSidecar, "format" | "version" | "encryption" | "createdAt" | "part"> & {
  createdAt: Date | string;
  part?: ArtifactPart | undefined;
};

/** Build and check a meta sidecar, as JSON bytes ready to upload (pretty-printed: people read these in a disaster). */
export function encodeMetaSidecar(input: MetaSidecarInput): Buffer {
  const createdAt = typeof input.createdAt === "string" ? input.createdAt : input.createdAt.toISOString();
  const meta: MetaSidecar = {
    format: "hesaab-backup-meta",
    version: 1,
    backupId: input.backupId,
    type: input.type,
    part: input.part ?? "data",
    tenantId: input.tenantId,
    createdAt,
    size: input.size,
    sha256: input.sha256.toLowerCase(),
    contentEncoding: input.contentEncoding,
    encryption: "bkp1",
    manifest: { ...input.manifest },
  };
  const problem = metaProblem(meta);
  if (problem) throw new StorageError({ code: "storage_invalid_argument", provider: "layout", message: `invalid meta sidecar: ${problem}` });
  return Buffer.from(`${JSON.stringify(meta, null, 2)}\n`);
}

/** The user-metadata name under which a key sidecar carries its artifact's description. */
export const META_METADATA = "hesaab-meta";
/** S3 allows 2 KiB of user metadata per object; a description is a few hundred bytes. */
const MAX_META_METADATA = 1800;

/** The description (`encodeMetaSidecar`'s bytes) as the key sidecar's user metadata: compact JSON, base64url (metadata is ASCII). */
export function metaMetadata(meta: Buffer): Record<string, string> {
  const value = Buffer.from(JSON.stringify(parseMetaSidecar(meta))).toString("base64url");
  if (value.length > MAX_META_METADATA) {
    throw new StorageError({
      code: "storage_invalid_argument",
      provider: "layout",
      message: `the description of an artifact must stay under ${MAX_META_METADATA} bytes of metadata; keep the manifest summary short`,
      context: { bytes: value.length },
    });
  }
  return { [META_METADATA]: value };
}

/** The description a key sidecar's metadata carries; `null` when it carries none; `storage_corrupt` when it is not one. */
export function parseMetaMetadata(metadata: Record<string, string>, where: { provider?: string; key?: string } = {}): MetaSidecar | null {
  const value = metadata[META_METADATA];
  if (value === undefined) return null;
  return parseMetaSidecar(Buffer.from(value, "base64url"), where);
}

/** Parse and check a meta sidecar's bytes; `storage_corrupt` (naming provider and key when given) when they are not one. */
export function parseMetaSidecar(bytes: Buffer | string, where: { provider?: string; key?: string } = {}): MetaSidecar {
  let value: unknown;
  try {
    value = JSON.parse(typeof bytes === "string" ? bytes : bytes.toString("utf8"));
  } catch (cause) {
    throw corruptMeta({ where, problem: "not json", cause });
  }
  const problem = metaProblem(value);
  if (problem) throw corruptMeta({ where, problem });
  return value as MetaSidecar;
}

function corruptMeta(args: { where: { provider?: string; key?: string }; problem: string; cause?: unknown }): StorageError {
  const { where, problem, cause } = args;
  return new StorageError({
    code: "storage_corrupt",
    provider: where.provider ?? "layout",
    ...(where.key === undefined ? {} : { key: where.key }),
    message: `invalid meta sidecar${where.key ? ` ${where.key}` : ""}: ${problem}`,
    ...(cause === undefined ? {} : { cause }),
  });
}

function metaProblem(v: unknown): string | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "not an object";
  const m = v as Record<string, unknown>;
  if (m.format !== "hesaab-backup-meta") return "format is not hesaab-backup-meta";
  if (m.version !== 1) return `unsupported version ${String(m.version)}`;
  if (typeof m.backupId !== "string" || !ID.test(m.backupId)) return "bad backupId";
  if (m.type !== "tenant" && m.type !== "disaster") return "bad type";
  if (m.part !== "data" && m.part !== "config") return "bad part";
  if (m.type === "tenant" ? typeof m.tenantId !== "string" || !ID.test(m.tenantId) : m.tenantId !== null) return "bad tenantId for the type";
  if (typeof m.createdAt !== "string" || Number.isNaN(Date.parse(m.createdAt))) return "bad createdAt";
  if (typeof m.size !== "number" || !Number.isSafeInteger(m.size) || m.size < 0) return "bad size";
  if (typeof m.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(m.sha256)) return "bad sha256";
  if (typeof m.contentEncoding !== "string" || m.contentEncoding === "") return "bad contentEncoding";
  if (m.encryption !== "bkp1") return "bad encryption";
  if (typeof m.manifest !== "object" || m.manifest === null || Array.isArray(m.manifest)) return "bad manifest";
  for (const value of Object.values(m.manifest)) {
    if (value !== null && !["string", "number", "boolean"].includes(typeof value)) return "manifest summary values must be flat";
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Reading a listing back as backups
// ---------------------------------------------------------------------------------------------

/** One artifact found in a listing, with its sidecars. */
export interface ListedArtifact {
  /** Parsed from the artifact's key. */
  parsed: ParsedKey;
  /** The artifact object, when present (absent: only sidecars were found, e.g. an interrupted write). */
  artifact?: ListEntry;
  keys?: ListEntry;
  meta?: ListEntry;
}

/**
 * Group a listing (e.g. `backend.list("tenants/")`) into artifacts with their sidecars, for a
 * catalog rebuild or an inventory sweep. Keys outside the layout go to `onStray`. Works folder by
 * folder (an artifact and its sidecars share a folder), so memory is bounded by one day's folder,
 * and it does not depend on the order within a folder.
 */
export async function* groupArtifacts(entries: AsyncIterable<ListEntry>, opts: { onStray?: (entry: ListEntry) => void } = {}): AsyncGenerator<ListedArtifact> {
  let folder: string | undefined;
  let group = new Map<string, ListedArtifact>();
  const flush = function* (): Generator<ListedArtifact> {
    yield* [...group.values()].sort((a, b) => (a.parsed.artifactKey < b.parsed.artifactKey ? -1 : a.parsed.artifactKey > b.parsed.artifactKey ? 1 : 0));
    group = new Map();
  };
  for await (const entry of entries) {
    const parsed = parseObjectKey(entry.key);
    if (!parsed) {
      opts.onStray?.(entry);
      continue;
    }
    const dir = parsed.artifactKey.slice(0, parsed.artifactKey.lastIndexOf("/"));
    if (dir !== folder) {
      yield* flush();
      folder = dir;
    }
    let item = group.get(parsed.artifactKey);
    if (!item) {
      const { sidecar: _sidecar, ...artifactParsed } = parsed;
      item = { parsed: artifactParsed };
      group.set(parsed.artifactKey, item);
    }
    if (parsed.sidecar === "keys") item.keys = entry;
    else if (parsed.sidecar === "meta") item.meta = entry;
    else item.artifact = entry;
  }
  yield* flush();
}
