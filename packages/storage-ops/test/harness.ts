// A catalog database, both local S3 endpoints under a private key prefix (with fault injectors),
// tenant and disaster-recovery key rings, and helpers that store backups the way tenant-backup and
// dr record them.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { storeArtifact } from "@hesaab/artifacts";
import { Secret } from "@hesaab/config";
import { newId } from "@hesaab/contracts";
import { KeyRing, TenantKeyStore } from "@hesaab/crypto";
import { insertBackupRecord, migrate, openCatalog, storedArtifactColumns, updateBackupRecord, type BackupRecord, type Catalog } from "@hesaab/db";
import { disasterBackupKey, openBackend, readAll, tenantBackupKey, type OpenedBackend, type StorageBackend } from "@hesaab/storage";
import { freshDatabase, testProviderConfig, uniquePrefix, type FreshDatabase } from "@hesaab/testkit";

export function provider(name: "b2" | "r2", keyPrefix: string): OpenedBackend {
  return openBackend({
    backend: testProviderConfig(name),
    faults: true,
    keyPrefix,
    retry: { attempts: 2, baseDelayMs: 10 },
  });
}

export interface Harness {
  db: FreshDatabase;
  catalog: Catalog;
  b2: OpenedBackend;
  r2: OpenedBackend;
  backends: StorageBackend[];
  keyRings: { tenant: KeyRing; disaster: KeyRing };
  prefix: string;
  events: { type: string; data: Record<string, unknown> }[];
  publish: <T extends string>(type: T, data: unknown) => Promise<void>;
  close(): Promise<void>;
}

export async function harness(label: string): Promise<Harness> {
  const db = await freshDatabase(label);
  await migrate({ url: db.url });
  const catalog = openCatalog({ url: db.url, max: 4 });
  const keys = new TenantKeyStore({ pool: catalog.pool, masterKeys: new Map([[1, new Secret(randomBytes(32))]]) });
  const prefix = uniquePrefix(label);
  const b2 = provider("b2", prefix);
  const r2 = provider("r2", prefix);
  const events: Harness["events"] = [];
  return {
    db,
    catalog,
    b2,
    r2,
    backends: [b2.backend, r2.backend],
    keyRings: { tenant: new KeyRing({ tenantKeys: keys }), disaster: new KeyRing({ drMasterKeys: new Map([[1, new Secret(randomBytes(32))]]) }) },
    prefix,
    events,
    publish: async (type, data) => {
      events.push({ type, data: data as Record<string, unknown> });
    },
    async close() {
      await catalog.close();
      await db.drop();
    },
  };
}

const DAY_MS = 86_400_000;

/** A tenant backup stored and recorded as @hesaab/tenant-backup does (small plaintext). */
export async function storeTenantBackup(
  h: Harness,
  opts: {
    tenantId: string;
    createdAt?: Date;
    purpose?: "scheduled" | "on_demand" | "pre_restore";
    retentionDays?: number;
    bytes?: number;
    /** BACKUP_COMPRESSION=zstd at this level (gzip otherwise). */
    zstdLevel?: number;
  },
): Promise<BackupRecord> {
  const createdAt = opts.createdAt ?? new Date();
  const backupId = newId("bkp", createdAt.getTime());
  const key = tenantBackupKey({ tenantId: opts.tenantId, backupId, createdAt });
  const purpose = opts.purpose ?? "scheduled";
  await insertBackupRecord(h.catalog.db, {
    id: backupId,
    backupType: "tenant",
    tenantId: opts.tenantId,
    filename: key.slice(key.lastIndexOf("/") + 1),
    encryptionKeyId: "",
    status: "running",
    purpose,
    createdAt,
  });
  const plaintext = Buffer.from(`-- tenant ${opts.tenantId}\n${randomBytes((opts.bytes ?? 20_000) / 2).toString("hex")}`);
  const stored = await storeArtifact({
    plaintext: Readable.from([plaintext]),
    identity: { kind: "tenant", tenantId: opts.tenantId, backupId },
    keyRing: h.keyRings.tenant,
    backends: h.backends,
    key,
    gzipLevel: 6,
    zstdLevel: opts.zstdLevel,
    // purpose and period in the sidecar, as tenant-backup writes them (a rebuilt catalog keeps them)
    meta: { type: "tenant", createdAt, manifest: { tables: 1, rows: 1, purpose, period: null } },
  });
  return (await updateBackupRecord(h.catalog.db, {
    id: backupId,
    set: {
      ...storedArtifactColumns({ key, stored }),
      completedAt: new Date(),
      expiresAt: new Date(createdAt.getTime() + (opts.retentionDays ?? 30) * DAY_MS),
      metadata: { key, rows: 1, plaintextBytes: plaintext.length, contentEncoding: stored.contentEncoding },
    },
  }))!;
}

/** A disaster backup (data + config bundle) stored and recorded as @hesaab/dr does. */
export async function storeDisasterBackup(h: Harness, opts: { createdAt?: Date; retentionDays?: number } = {}): Promise<BackupRecord> {
  const createdAt = opts.createdAt ?? new Date();
  const backupId = newId("bkp", createdAt.getTime());
  const keys = { data: disasterBackupKey({ backupId, createdAt, part: "data" }), config: disasterBackupKey({ backupId, createdAt, part: "config" }) };
  await insertBackupRecord(h.catalog.db, {
    id: backupId,
    backupType: "disaster",
    tenantId: null,
    filename: keys.data,
    encryptionKeyId: "",
    status: "running",
    purpose: "scheduled",
    createdAt,
  });
  const identity = { kind: "platform" as const, tenantId: "", backupId };
  const data = await storeArtifact({
    plaintext: Readable.from([randomBytes(30_000)]),
    identity,
    keyRing: h.keyRings.disaster,
    backends: h.backends,
    key: keys.data,
    gzipLevel: false,
    meta: { type: "disaster", createdAt },
  });
  const config = await storeArtifact({
    plaintext: Readable.from([Buffer.from(JSON.stringify({ files: [] }))]),
    identity,
    keyRing: h.keyRings.disaster,
    backends: h.backends,
    key: keys.config,
    gzipLevel: 6,
    meta: { type: "disaster", part: "config", createdAt },
  });
  return (await updateBackupRecord(h.catalog.db, {
    id: backupId,
    set: {
      ...storedArtifactColumns({ key: keys.data, stored: data }),
      // the config bundle counts too: a backup missing either part in a provider is degraded
      ...(config.failedProviders.length ? { status: "degraded" as const } : {}),
      completedAt: new Date(),
      expiresAt: new Date(createdAt.getTime() + (opts.retentionDays ?? 90) * DAY_MS),
      metadata: { config: { key: keys.config, size: config.size, sha256: config.sha256, dekId: config.dekId, keySidecar: config.sidecar } },
    },
  }))!;
}

/** SHA-256 of an object in one provider, or null when absent. */
export async function objectSha(backend: StorageBackend, key: string): Promise<string | null> {
  if (!(await backend.head(key))) return null;
  return createHash("sha256")
    .update(await readAll(await backend.get(key)))
    .digest("hex");
}

/** Overwrites an object with itself, one byte flipped (same size): a silently corrupted copy. */
export async function corruptObject(backend: StorageBackend, key: string, at = -10): Promise<void> {
  const bytes = await readAll(await backend.get(key));
  const i = at < 0 ? bytes.length + at : at;
  bytes[i] = bytes[i]! ^ 0x01;
  await backend.put(key, bytes);
}
