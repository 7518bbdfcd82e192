export { discoverTenantPlan, buildPlan, schemaFingerprint, DEFAULT_EXCLUDED_SCHEMAS, type DiscoverOptions } from "./discover";
export {
  formatPlan,
  selectSql,
  batchSelectSql,
  deleteSql,
  aggregateSql,
  copyFromStdinLine,
  pageSelectSql,
  describeFilter,
  type TenantPlan,
  type PlanTable,
  type PlanColumn,
  type TableScope,
  type TenantFilter,
  type JoinHop,
  type DeferredConstraint,
  type UnindexedForeignKey,
  type ExternalReference,
} from "./tenant-plan";
export { readPgCatalog, type PgCatalog, type CatalogTable, type CatalogColumn, type CatalogForeignKey, type CatalogExternalReference } from "./pg-catalog";
export {
  exportTenant,
  checkTenant,
  PIN_SETTINGS,
  DEAD_CLIENT_CHECK,
  type ExportOptions,
  type ExportProgress,
  type ExportSummary,
  type ExportSource,
  type ExportTableSummary,
  type TenantExport,
  type BoundedConsistency,
} from "./export";
export { exportTenantBounded, DEFAULT_PAGE_ROWS, type BoundedExportOptions } from "./export-bounded";
export { writeTenantArchive, csvFileName, FORMULA_PREFIXES, type ArchiveOptions, type ArchiveSummary } from "./archive";
export {
  excludedColumns,
  withoutColumns,
  formatExcludedColumns,
  CREDENTIAL_COLUMN_PATTERNS,
  DEFAULT_COLUMN_EXCLUSIONS,
  type ColumnExclusions,
  type ExcludedColumn,
} from "./column-exclusions";
export { exportTenantBatch, type BatchExportOptions, type BatchExportResult } from "./export-batch";
export { loadTenantScript, type ForeignKeyChecks, type LoadOptions, type LoadMode, type LoadProgress, type LoadSummary, type LoadTableSummary } from "./load";
export { compatibleType, mapScript, stripFields, type TableMapping } from "./drift";
export { ScriptReader, type ScriptEvent } from "./script-reader";
export {
  SCRIPT_FORMAT,
  SCRIPT_VERSION,
  TITLE_LINE,
  MANIFEST_PREFIX,
  ROWS_PREFIX,
  parseManifest,
  parseCopyLine,
  type ScriptManifest,
  type ManifestTable,
  type CopyHeader,
} from "./script";
export { countTenantRows } from "./counts";
export { dependencyTables, checkDependencies, copyDependencies, type DependencyTable, type DependencyCheck } from "./dependencies";
export {
  browseTenants,
  TENANT_NAME_COLUMNS,
  type TenantDirectoryEntry,
  type TenantDirectoryPage,
  type TenantRank,
  listTenants,
  screenTenants,
  type TenantScreening,
  type TenantRefusal,
  type TenantRefusalCode,
} from "./screen";
export { TenantDataError, TENANT_DATA_ERROR_CODES, type TenantDataErrorCode } from "./errors";
export type { PgSource } from "./connection";
export { RowChecksum, rowChecksumOf, ROW_CHECKSUM_ALGORITHM } from "./checksum";
export { tenantTableChecksums, type TableChecksum } from "./table-checksums";
