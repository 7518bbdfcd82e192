import { HesaabError, type HesaabErrorOptions } from "@hesaab/config";

/**
 * | code | retryable | when |
 * |---|---|---|
 * | `storage_ops_record_incomplete` | no | a record names no key or checksum (it never completed) |
 * | `storage_ops_not_found` | no | no catalog record with that id |
 * | `storage_ops_heal_pending` | yes | a provider could not be reached; the copy is healed on a later try |
 * | `storage_ops_invalid_argument` | no | a bad option (a rule, a provider name) |
 * | `storage_ops_no_provider` | no | the provider asked for is not configured |
 */
export const STORAGE_OPS_ERROR_CODES = [
  "storage_ops_record_incomplete",
  "storage_ops_not_found",
  "storage_ops_heal_pending",
  "storage_ops_invalid_argument",
  "storage_ops_no_provider",
] as const;
export type StorageOpsErrorCode = (typeof STORAGE_OPS_ERROR_CODES)[number];

export class StorageOpsError extends HesaabError<StorageOpsErrorCode> {
  constructor(opts: HesaabErrorOptions<StorageOpsErrorCode>) {
    super({ ...opts, retryable: opts.retryable ?? opts.code === "storage_ops_heal_pending" });
  }
}
