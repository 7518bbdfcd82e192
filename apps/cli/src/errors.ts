import { HesaabError } from "@hesaab/config";

/** The codes the CLI raises itself: `usage` (a command line it cannot run), `sidecar_missing` (no key sidecar where one is needed). */
export const CLI_ERROR_CODES = ["usage", "sidecar_missing"] as const;
export type CliErrorCode = (typeof CLI_ERROR_CODES)[number];

export class CliError extends HesaabError<CliErrorCode> {}
