// The API's error vocabulary: the codes it raises itself, and what every code a caller can meet means
// in HTTP and tRPC. Only the API (its procedures, and the gateway's download route) maps codes to
// transport answers, by this list.
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { CONFIG_ERROR_CODES, ERROR_HTTP_STATUS, HesaabError, isHesaabError, type ConfigErrorCode, type ErrorMeaning } from "@hesaab/config";
import { DB_ERROR_CODES, type DbErrorCode } from "@hesaab/db";
import { DR_ERROR_CODES, type DrErrorCode } from "@hesaab/dr";
import { SESSION_ERROR_CODES, type SessionErrorCode } from "@hesaab/session";
import { TENANT_BACKUP_ERROR_CODES, TENANT_DATA_ERROR_CODES, type TenantBackupErrorCode, type TenantDataErrorCode } from "@hesaab/tenant-backup";

/** The codes the API raises itself. */
export const API_ERROR_CODES = ["export_role_required", "export_unknown", "export_pending", "export_unavailable"] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

export class ApiError extends HesaabError<ApiErrorCode> {}

/** Every code that can reach a caller of the API, from the lists of the packages it calls. */
export type ApiVisibleCode = ConfigErrorCode | DbErrorCode | SessionErrorCode | TenantBackupErrorCode | TenantDataErrorCode | DrErrorCode | ApiErrorCode;

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
  // a download link asked for by export id (REST)
  export_unknown: "NOT_FOUND",
  export_pending: "CONFLICT",
  export_unavailable: "GONE",
  // downloads
  export_not_found: "NOT_FOUND",
  export_not_ready: "CONFLICT",
  export_expired: "GONE",
  export_link_expired: "GONE",
  export_download_limit: "GONE",
  export_file_missing: "GONE",
  export_failed: "GONE",
  // restores and their rollback, checked before anything is queued
  restore_not_found: "NOT_FOUND",
  restore_backup_not_found: "NOT_FOUND",
  restore_wrong_tenant: "BAD_REQUEST",
  rollback_unavailable: "CONFLICT",
  // a disaster restore's target, checked before anything is queued
  dr_invalid_argument: "BAD_REQUEST",
  dr_target_is_live: "FORBIDDEN",
  dr_target_not_empty: "CONFLICT",
  dr_target_unreachable: "BAD_REQUEST",
  // nothing failed: no database connection was free in time, the caller may try again
  database_busy: "SERVICE_UNAVAILABLE",
} as const satisfies Partial<Record<ApiVisibleCode, ErrorMeaning>>;

/** What `err` means to the caller, when it is a HesaabError whose code is in {@link ERROR_MEANING}. */
export function errorMeaning(err: unknown): ErrorMeaning | undefined {
  if (!isHesaabError(err) || !Object.hasOwn(ERROR_MEANING, err.code)) return undefined;
  return ERROR_MEANING[err.code as keyof typeof ERROR_MEANING];
}

/** A refusal the caller can act on (by {@link ERROR_MEANING}) as its tRPC code with the message and `appCode`; anything else as it is. */
export function asTrpcError(err: unknown): unknown {
  const meaning = errorMeaning(err);
  return meaning ? new TRPCError({ code: trpcCodeOf(meaning), message: (err as HesaabError).describe(), cause: err }) : err;
}

/** The tRPC code of a meaning. tRPC has no GONE: what is gone for good is NOT_FOUND there. */
export function trpcCodeOf(meaning: ErrorMeaning): TRPCError["code"] {
  return meaning === "GONE" ? "NOT_FOUND" : meaning;
}

/**
 * The codes of refusals that are tRPC's or HTTP's own (no session, a wrong input, a path nothing
 * serves, too many requests): what a caller meets that no package raised.
 */
export const REQUEST_ERROR_CODES = [
  "unauthorized",
  "forbidden",
  "invalid_input",
  "not_found",
  "conflict",
  "unsupported_request",
  "rate_limited",
  "unavailable",
  "internal",
] as const;
export type RequestErrorCode = (typeof REQUEST_ERROR_CODES)[number];

/** The closed list of codes an error body may carry: the packages' codes the API lets through, then the request's own. */
export const ERROR_BODY_CODES = [
  ...new Set([
    ...CONFIG_ERROR_CODES,
    ...DB_ERROR_CODES,
    ...SESSION_ERROR_CODES,
    ...TENANT_BACKUP_ERROR_CODES,
    ...TENANT_DATA_ERROR_CODES,
    ...DR_ERROR_CODES,
    ...API_ERROR_CODES,
    ...REQUEST_ERROR_CODES,
  ]),
] as [ApiVisibleCode | RequestErrorCode, ...(ApiVisibleCode | RequestErrorCode)[]];
export type ErrorBodyCode = (typeof ERROR_BODY_CODES)[number];
const BODY_CODES: ReadonlySet<string> = new Set(ERROR_BODY_CODES);

/**
 * The one error shape of the API: a REST call's JSON body, and a tRPC error's `data.error`. `hint` says
 * what to do about it, when there is something to say; `retryable` says whether the same call may
 * succeed later (with Retry-After on REST).
 */
export const apiErrorSchema = z
  .object({
    code: z.enum(ERROR_BODY_CODES).describe("A stable code from a closed list: match on it, not on the message"),
    message: z.string().describe("One sentence for a person"),
    hint: z.string().nullable().describe("What to do about it, when there is something to say"),
    retryable: z.boolean().describe("Whether the same call may succeed later (REST answers say when in Retry-After)"),
  })
  .meta({ id: "Error", description: "The API's one error shape (REST body; tRPC error data.error)" });
export type ApiErrorBody = z.infer<typeof apiErrorSchema>;

/** tRPC's codes as the request's own codes (a code not here, such as NOT_IMPLEMENTED, is `internal`). */
const REQUEST_CODE_OF: Partial<Record<TRPCError["code"], RequestErrorCode>> = {
  PARSE_ERROR: "invalid_input",
  BAD_REQUEST: "invalid_input",
  UNPROCESSABLE_CONTENT: "invalid_input",
  UNAUTHORIZED: "unauthorized",
  FORBIDDEN: "forbidden",
  NOT_FOUND: "not_found",
  CONFLICT: "conflict",
  PRECONDITION_FAILED: "conflict",
  METHOD_NOT_SUPPORTED: "unsupported_request",
  UNSUPPORTED_MEDIA_TYPE: "unsupported_request",
  PAYLOAD_TOO_LARGE: "unsupported_request",
  TOO_MANY_REQUESTS: "rate_limited",
  SERVICE_UNAVAILABLE: "unavailable",
  TIMEOUT: "unavailable",
  BAD_GATEWAY: "unavailable",
  GATEWAY_TIMEOUT: "unavailable",
};

const REQUEST_HINT: Partial<Record<RequestErrorCode, string>> = {
  unauthorized: "Send a current session of the right app as `Authorization: Bearer <JWT>`",
  invalid_input: "Check the request against the API's document at /api/openapi.json",
  unsupported_request: "Send JSON (`Content-Type: application/json`) with the method the API's document gives",
  rate_limited: "Wait the seconds Retry-After gives, then try again",
  unavailable: "Try again in a moment",
};

/** An error body of one of the request's own codes, its hint and retryability by the code. */
export function requestError(code: RequestErrorCode, message: string): ApiErrorBody {
  return { code, message, hint: REQUEST_HINT[code] ?? null, retryable: code === "rate_limited" || code === "unavailable" };
}

/** The sentence an unexpected failure is told as: its own text may hold SQL, paths or hosts. */
export const INTERNAL_MESSAGE = "the request failed on our side; try again in a moment";

/**
 * The error body of a failed call. A HesaabError behind it speaks for itself (its code when in the
 * closed list, message, hint, `retryable`; a refusal meaning SERVICE_UNAVAILABLE is always retryable);
 * an unexpected failure is `internal` with one sentence; tRPC's own refusals by {@link REQUEST_CODE_OF}.
 */
export function errorBodyOf(error: TRPCError): ApiErrorBody {
  const cause = error.cause;
  if (isHesaabError(cause)) return hesaabErrorBody(cause);
  if (error.code === "INTERNAL_SERVER_ERROR") return { code: "internal", message: INTERNAL_MESSAGE, hint: null, retryable: false };
  const code = REQUEST_CODE_OF[error.code] ?? "internal";
  return requestError(code, code === "invalid_input" && isZodError(cause) ? invalidInput(cause) : error.message);
}

/** A HesaabError as the error shape: its code when in the closed list (else `internal`), its sentence and hint; a refusal meaning SERVICE_UNAVAILABLE is always retryable. */
export function hesaabErrorBody(err: HesaabError): ApiErrorBody {
  const retryable = err.retryable || errorMeaning(err) === "SERVICE_UNAVAILABLE";
  return { code: BODY_CODES.has(err.code) ? (err.code as ErrorBodyCode) : "internal", message: err.message, hint: err.hint ?? null, retryable };
}

/** The HTTP status of an error body on REST: by the code's meaning (GONE is 410 there), else the transport's. */
export function restStatusOf(body: ApiErrorBody, fallback: number): number {
  const meaning = (ERROR_MEANING as Partial<Record<string, ErrorMeaning>>)[body.code];
  return meaning ? ERROR_HTTP_STATUS[meaning] : fallback;
}

function isZodError(err: unknown): err is z.ZodError {
  return err instanceof z.ZodError || (err instanceof Error && err.name === "ZodError" && Array.isArray((err as { issues?: unknown }).issues));
}

/** An input refused by a procedure's zod parser, as one sentence naming each field (at most five). */
function invalidInput(err: z.ZodError): string {
  const issues = err.issues.slice(0, 5).map((i) => `${i.path.length > 0 ? i.path.join(".") : "the input"}: ${i.message}`);
  return `the request's input is not valid (${issues.join("; ")})`;
}
