import { HesaabError } from "@hesaab/config";

export type DrErrorCode =
  | "dr_dump_failed"
  | "dr_restore_failed"
  | "dr_target_not_empty"
  | "dr_target_unreachable"
  | "dr_manifest_mismatch"
  | "dr_backup_not_found"
  | "dr_config_invalid"
  /** No provider could hold the backup (with its sidecars), or none holds a verified copy after upload. */
  | "dr_storage_failed"
  /** Every provider's copy failed to download, verify or decrypt: nothing was restored. */
  | "dr_backup_unusable"
  /** The disaster backups could not be listed in any provider. */
  | "dr_listing_failed"
  | "dr_invalid_argument"
  /** The backup's roles could not be created on the target server (nothing of them was). */
  | "dr_roles_failed";

export class DrError extends HesaabError {
  declare readonly code: DrErrorCode;
  constructor(opts: { code: DrErrorCode; message: string; hint?: string; retryable?: boolean; cause?: unknown; context?: Record<string, unknown> }) {
    super(opts);
  }
}
