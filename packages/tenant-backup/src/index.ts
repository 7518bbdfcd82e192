export { backupTenant, activeTenants, type BackupTenantOptions, type BackupTenantResult } from "./backup";
export { restoreTenants, rollbackRestore, artifactRef, type RestoreRequest, type RestoreReport, type RestoreProgress, type TenantRestoreOutcome } from "./restore";
export { noPublish, type TenantBackupDeps, type Publish } from "./deps";
export { openTenantBackupDeps, TENANT_BACKUP_UPLOAD, type TenantBackupEnv } from "./open";
export { fanOutBackupRequest, handleBackupJob, handleRestoreRequest, raiseAlert, type Delivery, type SendCommand } from "./handlers";
export { rotateTenantKeys, shredTenant, type RotationReport } from "./keys";
