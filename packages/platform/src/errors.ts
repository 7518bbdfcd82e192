import { HesaabError } from "@hesaab/config";

/** The codes of this package: `platform_not_empty` (generating sample data where tenants exist already), `platform_table_not_tenant_scoped` (a checksum by tenant of a table without the tenant column). */
export const PLATFORM_ERROR_CODES = ["platform_not_empty", "platform_table_not_tenant_scoped"] as const;
export type PlatformErrorCode = (typeof PLATFORM_ERROR_CODES)[number];

export class PlatformError extends HesaabError<PlatformErrorCode> {}
