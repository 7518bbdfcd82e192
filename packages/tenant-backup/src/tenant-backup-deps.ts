import type pg from "pg";
import type { Publish } from "@hesaab/contracts";
import type { KeyRing } from "@hesaab/crypto";
import type { Catalog } from "@hesaab/db";
import type { LocalSpool, StorageBackend } from "@hesaab/storage";
import type { DiscoverOptions } from "@hesaab/tenant-data";
import type { BoundedSettings } from "./bounded";

/**
 * What tenant backups and restores need, built once by a shell (backup-svc, the CLI) from its env.
 * The same code runs in both: the CLI is the service without the bus.
 */
export interface TenantBackupDeps {
  /** The platform database (the tenants' rows): the primary. Restores write here. */
  platform: pg.Pool;
  /**
   * A hot standby of it (`PLATFORM_READ_DATABASE_URL`): backups, exports and discovery read here
   * when set. A rollback point is taken from `platform`: it must hold the rows a restore replaces.
   */
  platformRead?: pg.Pool | undefined;
  /** The catalog (the backup system's own tables). */
  catalog: Catalog;
  keyRing: KeyRing;
  /** Storage providers, preferred first (B2, then R2). */
  backends: StorageBackend[];
  retentionDays: number;
  gzipLevel: number;
  /**
   * How backups compress their plaintext (BACKUP_COMPRESSION): gzip (default) or zstd. Restores read
   * either, whatever this says: the artifact's header names its encoding.
   */
  compression?: "gzip" | "zstd" | undefined;
  /** zstd's level, 1-19 (BACKUP_ZSTD_LEVEL, default 3), when `compression` is zstd. */
  zstdLevel?: number | undefined;
  /** Discovery settings (tenant column, include/exclude). */
  discover?: DiscoverOptions | undefined;
  /** Where restores stage downloaded artifacts. */
  workDir: string;
  publish?: Publish | undefined;
  /**
   * Where a backup no provider took is kept, sealed, until storage-svc uploads it (see `spool.ts`).
   * Without one, such a backup fails (retryable) as before.
   */
  spool?: LocalSpool | undefined;
  /**
   * Reuse a discovered plan for this long (ms) instead of reading the PostgreSQL catalog for every
   * tenant: a nightly run over thousands of tenants discovers once. Default 60 000; 0 disables.
   */
  planTtlMs?: number;
  /** Large tenants (see `bounded.ts`): who is backed up in the bounded mode from the start, and its page size. */
  bounded?: BoundedSettings | undefined;
}

/** Where backups, exports and discovery read: the standby when there is one. */
export function readPool(deps: Pick<TenantBackupDeps, "platform" | "platformRead">): pg.Pool {
  return deps.platformRead ?? deps.platform;
}

/** The compression settings of storeArtifact for a tenant backup: gzip at `gzipLevel`, or zstd at `zstdLevel` (3 unless set). */
export function backupCompression(deps: Pick<TenantBackupDeps, "gzipLevel" | "compression" | "zstdLevel">): {
  gzipLevel: number;
  zstdLevel: number | undefined;
} {
  return { gzipLevel: deps.gzipLevel, zstdLevel: deps.compression === "zstd" ? (deps.zstdLevel ?? 3) : undefined };
}
