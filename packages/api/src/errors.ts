// The API's error vocabulary: the codes it raises itself, and what every code a caller can meet means
// in HTTP and tRPC. Only the API (its procedures, and the gateway's download route) maps codes to
// transport answers, by this list.
import { type TRPCError } from "@trpc/server";
import { HesaabError, isHesaabError, type ConfigErrorCode, type ErrorMeaning } from "@hesaab/config";
import type { DbErrorCode } from "@hesaab/db";
import type { SessionErrorCode } from "@hesaab/session";
import type { TenantBackupErrorCode, TenantDataErrorCode } from "@hesaab/tenant-backup";

/** The codes the API raises itself. */
export const API_ERROR_CODES = ["export_role_required"] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

export class ApiError extends HesaabError<ApiErrorCode> {}

/** Every code that can reach a caller of the API, from the lists of the packages it calls. */
export type ApiVisibleCode = ConfigErrorCode | DbErrorCode | SessionErrorCode | TenantBackupErrorCode | TenantDataErrorCode | ApiErrorCode;

/**
 * What a code means to the caller. A code not here is a failure on our side: INTERNAL_SERVER_ERROR,
 * logged, and told as one sentence.
 */
export const ERROR_MEANING = {
  // the tenant cannot do this (the session names a tenant that is not, or no longer, one)
  export_role_required: "FORBIDDEN",
  tenant_not_found: "FORBIDDEN",
  tenant_not_active: "FORBIDDEN",
  tenant_duplicate: "FORBIDDEN",
  export_daily_limit: "TOO_MANY_REQUESTS",
  // downloads
  export_not_found: "NOT_FOUND",
  export_not_ready: "CONFLICT",
  export_expired: "GONE",
  export_link_expired: "GONE",
  export_download_limit: "GONE",
  export_file_missing: "GONE",
  export_failed: "GONE",
  // nothing failed: no database connection was free in time, the caller may try again
  database_busy: "SERVICE_UNAVAILABLE",
} as const satisfies Partial<Record<ApiVisibleCode, ErrorMeaning>>;

/** What `err` means to the caller, when it is a HesaabError whose code is in {@link ERROR_MEANING}. */
export function errorMeaning(err: unknown): ErrorMeaning | undefined {
  if (!isHesaabError(err) || !Object.hasOwn(ERROR_MEANING, err.code)) return undefined;
  return ERROR_MEANING[err.code as keyof typeof ERROR_MEANING];
}

/** The tRPC code of a meaning. tRPC has no GONE: what is gone for good is NOT_FOUND there. */
export function trpcCodeOf(meaning: ErrorMeaning): TRPCError["code"] {
  return meaning === "GONE" ? "NOT_FOUND" : meaning;
}
