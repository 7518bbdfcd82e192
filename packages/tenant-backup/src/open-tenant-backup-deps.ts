import type { Publish } from "@hesaab/contracts";
import { catalogUrl, ConfigError, type MasterKeySet } from "@hesaab/config";
import { KeyRing, TenantKeyStore } from "@hesaab/crypto";
import { openCatalog, openPool } from "@hesaab/db";
import { openBackend, openSpool, providersFromEnv, type ProviderEnv } from "@hesaab/storage";
import type { DiscoverOptions } from "@hesaab/tenant-data";
import { zstdUnavailable } from "@hesaab/zstd";
import type { TenantBackupDeps } from "./tenant-backup-deps";

export interface TenantBackupEnv extends ProviderEnv {
  PLATFORM_DATABASE_URL: string;
  PLATFORM_READ_DATABASE_URL?: string | undefined;
  BACKUP_DATABASE_URL?: string | undefined;
  BACKUP_MASTER_KEYS: MasterKeySet;
  BACKUP_RETENTION_DAYS: number;
  /** Every pool's wait for a connection (see `openPool`); default 10 s. */
  DATABASE_CONNECT_TIMEOUT_MS?: number | undefined;
  /** The local spool (see `spool.ts`): both set (a cap above 0), or no spool (a backup no provider took then fails, retryable). */
  HESAAB_SPOOL_DIR?: string | undefined;
  /** How backups compress (see TenantBackupDeps.compression); gzip when unset. zstd needs an engine here: checked at once. */
  BACKUP_COMPRESSION?: "gzip" | "zstd" | undefined;
  BACKUP_ZSTD_LEVEL?: number | undefined;
  HESAAB_SPOOL_MAX_BYTES?: number | undefined;
  /** Large tenants (see `bounded.ts`): named tenants, the size threshold, the page size. */
  BACKUP_BOUNDED_TENANTS?: string[] | undefined;
  BACKUP_BOUNDED_BYTES?: number | undefined;
  BACKUP_BOUNDED_PAGE_ROWS?: number | undefined;
}

const MiB = 1024 * 1024;

/**
 * Multipart upload settings of tenant backups. Each provider's upload holds `partSize × (queueSize + 1)`
 * bytes (part buffers reused: parts in flight, plus the one filling), and a backup writes to two
 * providers at once: 30 MiB with these, against 64 MiB with the storage defaults (8 MiB × 3). The
 * smallest part S3, B2 and R2 accept is 5 MiB; two in flight per provider, so that a part's round
 * trip to a distant cloud does not stall the export.
 */
export const TENANT_BACKUP_UPLOAD = { partSize: 5 * MiB, queueSize: 2 } as const;

/**
 * Builds the dependencies of tenant backups and restores from parsed configuration, the same way
 * for the CLI and for backup-svc. `close()` releases the pools.
 */
export function openTenantBackupDeps({
  env,
  workDir,
  gzipLevel = 6,
  discover,
  publish,
  units = 2,
}: {
  env: TenantBackupEnv;
  workDir: string;
  gzipLevel?: number;
  discover?: DiscoverOptions;
  publish?: Publish;
  /**
   * Backup units (a batch, or one tenant) that may run at once. Each holds a platform connection
   * (its snapshot) and a catalog connection (its locks) and needs another catalog connection now
   * and then: the pools are sized for it, so units never wait on each other for a connection.
   */
  units?: number | undefined;
}): TenantBackupDeps & { tenantKeys: TenantKeyStore; close(): Promise<void> } {
  const compression = env.BACKUP_COMPRESSION ?? "gzip";
  const noZstd = compression === "zstd" ? zstdUnavailable() : undefined;
  // at startup, before any backup runs: not at 2 a.m., on the first tenant
  if (noZstd)
    throw new ConfigError({ code: "config_invalid", message: "BACKUP_COMPRESSION is zstd, but this process cannot compress with zstd", hint: noZstd });
  const backends = providersFromEnv(env, TENANT_BACKUP_UPLOAD).map((backend) => openBackend({ backend }).backend);
  if (backends.length === 0) {
    throw new ConfigError({
      code: "config_invalid",
      message: "no storage provider is configured",
      hint: "Set the B2_* and/or R2_* variables (see .env.example)",
    });
  }
  const connectTimeoutMs = env.DATABASE_CONNECT_TIMEOUT_MS;
  const platform = openPool({ url: env.PLATFORM_DATABASE_URL, max: units + 2, name: "hesaab-backup", connectTimeoutMs });
  const read = env.PLATFORM_READ_DATABASE_URL;
  const platformRead = read ? openPool({ url: read, max: units + 2, name: "hesaab-backup-read", connectTimeoutMs }) : undefined;
  const catalog = openCatalog({ url: catalogUrl(env), max: 2 * units + 4, connectTimeoutMs });
  const tenantKeys = new TenantKeyStore({ pool: catalog.pool, masterKeys: env.BACKUP_MASTER_KEYS });
  return {
    platform,
    platformRead,
    catalog,
    keyRing: new KeyRing({ tenantKeys }),
    tenantKeys,
    backends,
    retentionDays: env.BACKUP_RETENTION_DAYS,
    gzipLevel,
    compression,
    zstdLevel: env.BACKUP_ZSTD_LEVEL,
    discover,
    workDir,
    publish,
    bounded: { tenants: new Set(env.BACKUP_BOUNDED_TENANTS ?? []), bytes: env.BACKUP_BOUNDED_BYTES, pageRows: env.BACKUP_BOUNDED_PAGE_ROWS },
    spool:
      // a cap of 0 turns the spool off
      env.HESAAB_SPOOL_DIR && env.HESAAB_SPOOL_MAX_BYTES ? openSpool({ dir: env.HESAAB_SPOOL_DIR, maxBytes: env.HESAAB_SPOOL_MAX_BYTES }) : undefined,
    async close() {
      await platform.end();
      await platformRead?.end();
      await catalog.close();
    },
  };
}
