import { HesaabError } from "@hesaab/config";

export const DRILL_ERROR_CODES = ["drill_no_backup", "drill_scratch_failed", "drill_key_missing"] as const;
export type DrillErrorCode = (typeof DRILL_ERROR_CODES)[number];

export class DrillError extends HesaabError<DrillErrorCode> {}
