import { HesaabError } from "@hesaab/config";

/**
 * The codes this package raises itself (it passes on tenant-data's, crypto's and storage's too).
 * `backup_failed`, `restore_failed` and `rollback_empty_tenant` name failures in the outcomes and
 * events it reports rather than errors it throws.
 */
export const TENANT_BACKUP_ERROR_CODES = [
  // backups
  "backup_in_progress",
  "backup_period_taken",
  "backup_failed",
  // restores and their rollback
  "restore_not_found",
  "restore_nothing",
  "restore_backup_not_found",
  "restore_backup_incomplete",
  "restore_wrong_tenant",
  "restore_target_missing_tables",
  "restore_target_missing_dependencies",
  "restore_failed",
  "rollback_unavailable",
  "rollback_empty_tenant",
  // customer self-backups (exports)
  "invalid_tenant_id",
  // a tenant's row counts (the admin app)
  "tenant_not_found",
  "export_daily_limit",
  "export_in_progress",
  "export_not_found",
  "export_not_buildable",
  "export_not_ready",
  "export_failed",
  "export_expired",
  "export_download_limit",
  "export_file_missing",
  // download links (the gateway's)
  "exports_unavailable",
  "export_link_expired",
] as const;
export type TenantBackupErrorCode = (typeof TENANT_BACKUP_ERROR_CODES)[number];

export class TenantBackupError extends HesaabError<TenantBackupErrorCode> {}

/** tenant-data's codes, which reach this package's callers through it (a tenant not found, a bad script). */
export { TENANT_DATA_ERROR_CODES, type TenantDataErrorCode } from "@hesaab/tenant-data";
