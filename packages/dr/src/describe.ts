import { isHesaabError } from "@hesaab/config";

/** An error as reports and events carry it: a stable code and a message (never secrets: our errors redact them). */
export function describe(err: unknown): { code: string; message: string; retryable: boolean } {
  if (isHesaabError(err)) return { code: err.code, message: err.message, retryable: err.retryable };
  if (err instanceof Error) return { code: "unexpected", message: err.message, retryable: false };
  return { code: "unexpected", message: String(err), retryable: false };
}
