import { HesaabError, type HesaabErrorOptions } from "@hesaab/config";

/**
 * Every error this package raises on purpose. Codes are stable (callers and tests match on them):
 *
 * discovery  `plan_root_missing`, `plan_cycle`, `plan_empty`
 * export     `invalid_tenant_id`, `invalid_backup_id`, `tenant_not_found`, `tenant_not_active`,
 *            `export_aborted`, `export_failed`, `export_tenant_too_large`, `tenant_duplicate` (batch export only)
 * load       `restore_bad_script`, `restore_wrong_tenant`, `restore_wrong_backup`, `restore_table_missing`,
 *            `restore_dropped_column`, `restore_type_changed`, `restore_truncated`, `restore_count_mismatch`,
 *            `restore_target_not_empty`, `restore_aborted`, `restore_failed`,
 *            `restore_referenced_elsewhere` (a kept row references the tenant's), `restore_integrity_violated` (after load)
 */
export const TENANT_DATA_ERROR_CODES = [
  "plan_root_missing",
  "plan_cycle",
  "plan_empty",
  "invalid_tenant_id",
  "invalid_backup_id",
  "tenant_not_found",
  "tenant_not_active",
  "tenant_duplicate",
  "export_aborted",
  "export_failed",
  "export_tenant_too_large",
  "restore_bad_script",
  "restore_wrong_tenant",
  "restore_wrong_backup",
  "restore_table_missing",
  "restore_dropped_column",
  "restore_type_changed",
  "restore_truncated",
  "restore_count_mismatch",
  "restore_target_not_empty",
  "restore_dependencies_failed",
  "restore_referenced_elsewhere",
  "restore_integrity_violated",
  "restore_aborted",
  "restore_failed",
] as const;
export type TenantDataErrorCode = (typeof TENANT_DATA_ERROR_CODES)[number];

export class TenantDataError extends HesaabError<TenantDataErrorCode> {}

export function tenantDataError(opts: HesaabErrorOptions<TenantDataErrorCode>): TenantDataError {
  return new TenantDataError(opts);
}

/** The PostgreSQL error code (SQLSTATE) of a driver error, when there is one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** A SQLSTATE that trying again may cure: config's one list (`isTransientSqlState`). */
export { isTransientSqlState as isRetryableSqlState } from "@hesaab/config";
