import { HesaabError } from "@hesaab/config";

export type DrErrorCode =
  | "dr_dump_failed"
  | "dr_restore_failed"
  | "dr_target_not_empty"
  | "dr_target_unreachable"
  | "dr_manifest_mismatch"
  | "dr_backup_not_found"
  | "dr_config_invalid";

export class DrError extends HesaabError {
  declare readonly code: DrErrorCode;
  constructor(opts: { code: DrErrorCode; message: string; hint?: string; retryable?: boolean; cause?: unknown; context?: Record<string, unknown> }) {
    super(opts);
  }
}
