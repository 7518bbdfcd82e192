import type { Publish } from "@hesaab/contracts";
import type { KeyRing } from "@hesaab/crypto";
import type { Catalog } from "@hesaab/db";
import type { StorageBackend } from "@hesaab/storage";

/**
 * Keys for deep verification, per backup type. Tenant artifacts need the tenant key store
 * (`BACKUP_MASTER_KEYS` + the catalog's seeds); disaster artifacts need `DR_MASTER_KEYS`. A type
 * without a key ring is skipped by deep verification, and the report says so.
 */
export interface KeyRings {
  tenant?: KeyRing | undefined;
  disaster?: KeyRing | undefined;
}

/**
 * What storage operations need, built once by a shell (storage-svc, the CLI). Every operation takes
 * these fields plus its own options in one object: `reconcile({ ...deps, heal: true })`.
 */
export interface StorageOpsDeps {
  /** The catalog (backup_records, verifications, storage_samples, alerts, audit_log). */
  catalog: Catalog;
  /** Storage providers, preferred first (B2, then R2). Names are the catalog's provider names. */
  backends: StorageBackend[];
  publish?: Publish | undefined;
  /** Who acts, for the audit trail: `system:storage-svc`, `cli:<user>`. */
  actor?: string | undefined;
  signal?: AbortSignal | undefined;
}
