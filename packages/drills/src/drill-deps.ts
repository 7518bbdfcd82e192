import type { MasterKeySet } from "@hesaab/config";
import type { KeyRing } from "@hesaab/crypto";
import type { TenantBackupDeps } from "@hesaab/tenant-backup";

/** What drills need, built once by a shell (storage-svc, the CLI). */
export interface DrillDeps {
  /** The normal restore path's dependencies (platform pool, catalog, tenant keys, providers, work dir, publish). */
  tenantBackup: TenantBackupDeps;
  /** The platform database's URL: its schema is copied into the scratch database; scratch databases are created on its server. */
  platformUrl: string;
  /** DR_MASTER_KEYS: drill records are signed under a key derived from the newest version. */
  drMasterKeys: MasterKeySet;
  /** Disaster drills: the DR key ring (DR_MASTER_KEYS). */
  drKeyRing?: KeyRing | undefined;
  /** DRILL_DATABASE_URL: restore into this database instead of a fresh one per drill. */
  scratchUrl?: string | undefined;
  /** What restored: the software's version and git commit, kept on each record. */
  version: string;
  gitCommit: string | null;
  /** Injected clock (tests). Default `() => new Date()`. */
  now?: (() => Date) | undefined;
}
