export { DrError, DR_ERROR_CODES, type DrErrorCode } from "./errors";
export { dumpDatabase, restoreDump, connect, userObjects, probeDatabase, createDatabase, type DumpOptions, type RestoreOptions } from "./pg-tools";
export {
  countRows,
  countRowsOf,
  listTables,
  serverFacts,
  compareWithManifest,
  compareCounts,
  parseManifest,
  type DrManifest,
  type ManifestComparison,
} from "./manifest";
export { buildConfigBundle, writeConfigBundle, parseConfigBundle, type ConfigBundle } from "./config-bundle";
export { rootedKey } from "./rooted-backend";
export { dumpRoles, createMissingRoles, createRoleSql, alterRoleSetSql, splitListSetting, type RolesDump, type RoleDef, type RolesReport } from "./roles";
export { deployedGitCommit } from "./git";
export {
  backupPlatform,
  type BackupPlatformOptions,
  type BackupPhase,
  type BackupProgress,
  type DisasterBackupResult,
  type DisasterPartResult,
  type ProviderReport,
  type VerifiedBy,
} from "./backup";
export {
  listDisasterBackups,
  findDisasterBackup,
  type ListDisasterBackupsOptions,
  type DisasterListing,
  type DisasterBackupEntry,
  type DisasterBackupCopy,
  type DisasterPartCopy,
  type ProviderListing,
} from "./list";
export { restorePlatform, type RestorePlatformOptions, type RestoreReport, type RestoreFailure, type RestorePhase } from "./restore";
export { rotateDisasterKeys, type RotateDisasterKeysOptions, type RotationReport, type ProviderRotation, type RewrapOutcome } from "./rotate";
export { disasterBackupForPeriod } from "./catalog";
export { handleDisasterBackupRequest, handleDisasterRestoreRequest, type DrHandlerDeps } from "./handlers";
export { checkDisasterTarget, disasterTargetUrl } from "./target";
