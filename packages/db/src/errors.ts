import { HesaabError } from "@hesaab/config";

/**
 * The codes of this package:
 * `catalog_unreachable` (the catalog database does not answer), `catalog_not_migrated` (its schema is
 * behind this build: run `hesaab catalog migrate`), `database_busy` (no pooled connection free in time;
 * retryable, the gateway answers 503).
 */
export const DB_ERROR_CODES = ["catalog_unreachable", "catalog_not_migrated", "database_busy"] as const;
export type DbErrorCode = (typeof DB_ERROR_CODES)[number];

export class DbError extends HesaabError<DbErrorCode> {}
