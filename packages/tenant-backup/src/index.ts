export {
  backupTenant,
  tenantPlan,
  activeTenants,
  existingTenants,
  screenBackupRequest,
  tenantDirectory,
  tenantRowCounts,
  type BackupTenantOptions,
  type BackupTenantResult,
} from "./backup";
export { noProviderTook, spoolArtifact } from "./spool";
export { backupTenants, type BackupTenantsOptions, type TenantBackupOutcome } from "./batch";
export {
  restoreTenants,
  rollbackRestore,
  artifactRef,
  type RestoreRequest,
  type RestoreReport,
  type RestoreProgress,
  type TenantRestoreOutcome,
} from "./restore";
export type { TenantBackupDeps } from "./tenant-backup-deps";
export { openTenantBackupDeps, TENANT_BACKUP_UPLOAD, type TenantBackupEnv } from "./open-tenant-backup-deps";
export {
  BackupJobBatcher,
  FAN_OUT_IN_FLIGHT,
  fanOutBackupRequest,
  handleBackupJob,
  jobAlertKey,
  handleCustomerExportRequest,
  handleRestoreRequest,
  handleRollbackRequest,
  type SendCommand,
} from "./handlers";
export { markAbandonedRestores, RESTORE_ABANDONED } from "./restore-abandoned";
export { rotateTenantKeys, shredTenant, handleKeysRotateRequested, handleKeysShredRequested, type RotationReport } from "./keys";
export {
  exportDay,
  nextExportDayAt,
  exportSummary,
  requestCustomerExport,
  buildCustomerExport,
  failCustomerExport,
  openCustomerExport,
  expireCustomerExports,
  CUSTOMER_EXPORT_HOURS,
  CUSTOMER_EXPORT_MAX_DOWNLOADS,
  type CustomerExport,
  type CustomerExportDeps,
  type OpenedCustomerExport,
} from "./customer-export";
export type { TenantScreening, TenantRefusal, TenantDirectoryPage, TenantDirectoryEntry } from "@hesaab/tenant-data";
export { customerExportLinks, EXPORT_LINK_MINUTES, type CustomerExportLinks, type CustomerExportView } from "./export-links";
export { TenantBackupError, TENANT_BACKUP_ERROR_CODES, TENANT_DATA_ERROR_CODES, type TenantBackupErrorCode, type TenantDataErrorCode } from "./errors";
