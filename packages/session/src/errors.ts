import { HesaabError } from "@hesaab/config";

/** The codes of this package: bad signing or verifying material (`session_secret_short`, `session_key_invalid`, `session_keys_unavailable`) and sessions that cannot be signed or revoked as asked. */
export const SESSION_ERROR_CODES = [
  "session_secret_short",
  "session_key_invalid",
  "session_keys_unavailable",
  "session_too_long",
  "session_claims_invalid",
  "session_jti_invalid",
  "session_revocation_raced",
] as const;
export type SessionErrorCode = (typeof SESSION_ERROR_CODES)[number];

export class SessionError extends HesaabError<SessionErrorCode> {}
