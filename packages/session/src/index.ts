// @hesaab/session: the apps' sessions as standard JWTs (checked by the gateway, minted by the CLI
// for development and operators), and their revocation by jti. See README.md for the claims.
export {
  ADMIN_ROLE,
  CLOCK_TOLERANCE_SECONDS,
  DEFAULT_TENANT_SESSION_MAX_HOURS,
  MAX_ADMIN_SESSION_HOURS,
  MIN_SECRET_BYTES,
  SESSION_AUDIENCES,
  maxSessionHours,
  sessionPublicKey,
  sessionTokenIds,
  sessionVerifier,
  signSession,
  type AdminSession,
  type Session,
  type SessionKeys,
  type SessionKind,
  type SessionRefusal,
  type SessionVerdict,
  type TenantSession,
} from "./session";
export { isSessionRevoked, revokeSession, type Revocation } from "./revocation";
export { SessionError, SESSION_ERROR_CODES, type SessionErrorCode } from "./errors";
