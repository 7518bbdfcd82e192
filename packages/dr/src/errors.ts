import { HesaabError } from "@hesaab/config";

/** The codes of this package. */
export const DR_ERROR_CODES = [
  "dr_dump_failed",
  "dr_restore_failed",
  "dr_target_not_empty",
  "dr_target_unreachable",
  // the target of a restore is a database the platform runs on
  "dr_target_is_live",
  "dr_manifest_mismatch",
  "dr_backup_not_found",
  "dr_config_invalid",
  // no provider could hold the backup (with its sidecars), or none holds a verified copy after upload
  "dr_storage_failed",
  // every provider's copy failed to download, verify or decrypt: nothing was restored
  "dr_backup_unusable",
  // the disaster backups could not be listed in any provider
  "dr_listing_failed",
  "dr_invalid_argument",
  // the backup's roles could not be created on the target server (nothing of them was)
  "dr_roles_failed",
] as const;
export type DrErrorCode = (typeof DR_ERROR_CODES)[number];

export class DrError extends HesaabError<DrErrorCode> {}
