export * from "./schema";
export { openCatalog, migrate, catalogState, requireMigratedCatalog, MIGRATIONS_DIR, type Catalog, type CatalogDb, type CatalogState } from "./client";
export { openPool, databaseBusy, DEFAULT_CONNECT_TIMEOUT_MS, type OpenPoolOptions } from "./pool";
export { writeAudit, listAuditEntries, type AuditEntry, type AuditRow } from "./audit";
export {
  insertBackupRecord,
  getBackupRecord,
  updateBackupRecord,
  insertBackupRecords,
  finishBackupRecords,
  setProviderCopy,
  storedArtifactColumns,
  type StoredCopies,
  listBackupRecords,
  latestRestorableBackup,
  insertAlert,
  listAlerts,
  settleAlert,
  raiseAlert,
  resolveAlertGroups,
  openAlertGroups,
  type AlertInput,
  alertOnDeadLetter,
  type DeadLetterFacts,
  RESTORABLE,
  recordedPlaintext,
  type BackupRecord,
  type NewBackupRecord,
  type ListBackupsQuery,
  type Alert,
} from "./records";
export { tenantKeyRows, connectTenantKeyRows, type TenantKeyRows, type TenantKeyRow, type TenantKeySeed } from "./tenant-keys";
export { catalogClaims } from "./schedule-claims";
export { DbError, DB_ERROR_CODES, type DbErrorCode } from "./errors";
export { readRuntimeSettings, writeRuntimeSetting } from "./settings";
export { tenantBackupSummaries, tenantSortFigures, listVerifications, type TenantBackupSummary, type VerificationRow } from "./browse";
export {
  enqueueAlertDeliveries,
  claimDueAlertDeliveries,
  settleAlertDelivery,
  redeliverDeadAlerts,
  listAlertDeliveries,
  type AlertDelivery,
  type NewAlertDelivery,
} from "./alert-deliveries";
