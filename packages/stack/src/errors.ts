import { HesaabError } from "@hesaab/config";

/** The codes of this package: `stack_unavailable` (a local service could not be started or reached). */
export const STACK_ERROR_CODES = ["stack_unavailable"] as const;
export type StackErrorCode = (typeof STACK_ERROR_CODES)[number];

export class StackError extends HesaabError<StackErrorCode> {}
