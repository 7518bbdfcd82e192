// Sessions at the gateway. HesaabPlus owns users and their login; it hands its apps a short-lived
// token signed with a secret it shares with the gateway:
//
//   tenant app  (TENANT_SESSION_SECRET)  v1.<base64url JSON {t: tenantId, u: userId, exp: seconds}>.<sig>
//   admin app   (ADMIN_SESSION_SECRET)   admin1.<base64url JSON {u: userId, exp: seconds}>.<sig>
//
// where <sig> = base64url HMAC-SHA256(secret, "<tag>." + payload). The tag is signed with the payload,
// so a token of one kind never passes as the other, even were one secret used for both. The gateway
// takes the tenant from a tenant token only, never from a request's input: tenant A cannot ask for
// tenant B's data by changing an id.
import { createHmac, timingSafeEqual } from "node:crypto";
import { CryptoError, CryptoErrorCode } from "./errors";

export interface TenantSession {
  tenantId: string;
  userId: string;
  expiresAt: Date;
}

/** A super admin of the backup system (the admin app). */
export interface AdminSession {
  userId: string;
  expiresAt: Date;
}

/** The longest an admin session may run: a token that claims more is refused (a leaked one cannot live for ever). */
export const MAX_ADMIN_SESSION_HOURS = 24;

const MIN_SECRET_BYTES = 32;
const TENANT_TAG = "v1";
const ADMIN_TAG = "admin1";

function mac(secret: Buffer, tag: string, payload: string): Buffer {
  return createHmac("sha256", secret).update(`${tag}.${payload}`).digest();
}

function checkSecret(secret: Buffer): void {
  if (secret.length < MIN_SECRET_BYTES) {
    throw new CryptoError({ code: CryptoErrorCode.InvalidArgument, message: `a session secret needs at least ${MIN_SECRET_BYTES} bytes` });
  }
}

function sign({ tag, claims, expiresAt }: { tag: string; claims: Record<string, string>; expiresAt: Date }, secret: Buffer): string {
  checkSecret(secret);
  const payload = Buffer.from(JSON.stringify({ ...claims, exp: Math.floor(expiresAt.getTime() / 1000) })).toString("base64url");
  return `${tag}.${payload}.${mac(secret, tag, payload).toString("base64url")}`;
}

/** The claims of a genuine, unexpired token of kind `tag` (their values still to be checked), else undefined. */
function verify({ tag, token, now }: { tag: string; token: string; now: Date }, secret: Buffer): { claims: Record<string, unknown>; expiresAt: Date } | undefined {
  checkSecret(secret);
  const [version, payload, signature, ...rest] = token.split(".");
  if (version !== tag || !payload || !signature || rest.length > 0) return undefined;
  const given = Buffer.from(signature, "base64url");
  const expected = mac(secret, tag, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof claims !== "object" || claims === null || typeof claims.exp !== "number") return undefined;
  const expiresAt = new Date(claims.exp * 1000);
  return expiresAt > now ? { claims, expiresAt } : undefined;
}

/** A token for `session`, signed with `secret` (what HesaabPlus's login does; `hesaab tenant session` for development). */
export function signTenantSession(session: TenantSession, secret: Buffer): string {
  return sign({ tag: TENANT_TAG, claims: { t: session.tenantId, u: session.userId }, expiresAt: session.expiresAt }, secret);
}

/** The session a token names, or undefined when it is malformed, forged or expired (the caller answers "sign in again"). */
export function verifyTenantSession(token: string, secret: Buffer, now = new Date()): TenantSession | undefined {
  const v = verify({ tag: TENANT_TAG, token, now }, secret);
  if (!v || typeof v.claims.t !== "string" || typeof v.claims.u !== "string") return undefined;
  return { tenantId: v.claims.t, userId: v.claims.u, expiresAt: v.expiresAt };
}

/** An admin app token for `session` (HesaabPlus's admin login; `hesaab admin session` for operators). */
export function signAdminSession(session: AdminSession, secret: Buffer): string {
  if (session.expiresAt.getTime() - Date.now() > MAX_ADMIN_SESSION_HOURS * 3_600_000) {
    throw new CryptoError({ code: CryptoErrorCode.InvalidArgument, message: `an admin session lasts at most ${MAX_ADMIN_SESSION_HOURS} hours` });
  }
  return sign({ tag: ADMIN_TAG, claims: { u: session.userId }, expiresAt: session.expiresAt }, secret);
}

/** The admin an admin token names, or undefined when it is malformed, forged, expired or of another kind. */
export function verifyAdminSession(token: string, secret: Buffer, now = new Date()): AdminSession | undefined {
  const v = verify({ tag: ADMIN_TAG, token, now }, secret);
  if (!v || typeof v.claims.u !== "string" || v.claims.u === "") return undefined;
  if (v.expiresAt.getTime() - now.getTime() > MAX_ADMIN_SESSION_HOURS * 3_600_000) return undefined;
  return { userId: v.claims.u, expiresAt: v.expiresAt };
}
