export { createPlatformSchema, dropPlatformSchema, platformSchemaSql, dropPlatformSchemaSql, type SchemaOptions } from "./schema";
export { generatePlatform, type GenerateOptions, type GenerateProgress, type GenerateResult, type GeneratedTenant } from "./generate";
export { tableChecksums, type ChecksumOptions, type TableChecksum } from "./checksums";
export { planPlatform, INVOICES_AT_SCALE_1, BASE_TIME, type PlanOptions, type TenantShape, type TenantStatus, type TenantCounts } from "./tenant-shapes";
export {
  PLATFORM_TABLES,
  PLATFORM_TABLE_NAMES,
  TENANT_TABLE_NAMES,
  PLATFORM_ENUMS,
  TENANT_COLUMN,
  TENANTS_TABLE,
  platformTable,
  type PlatformTable,
  type PlatformTableScope,
} from "./tables";
export { AWKWARD_TEXTS, AWKWARD_TAGS } from "./vocabulary";
export { copyText, copyBytea, copyTextArray, copyJson, COPY_NULL } from "./copy-text";
export type { PgTarget } from "./pg";
export { PlatformError, PLATFORM_ERROR_CODES, type PlatformErrorCode } from "./errors";
