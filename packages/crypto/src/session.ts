// Tenant sessions at the gateway: HesaabPlus (which owns users and their login) hands its tenant app
// a short-lived token naming the tenant and the user, signed with a secret it shares with the gateway
// (TENANT_SESSION_SECRET). The gateway takes the tenant from the token only, never from a request's
// input: tenant A cannot ask for tenant B's data by changing an id.
//
//   v1.<base64url JSON {t: tenantId, u: userId, exp: seconds}>.<base64url HMAC-SHA256(secret, "v1." + payload)>
import { createHmac, timingSafeEqual } from "node:crypto";
import { CryptoError, CryptoErrorCode } from "./errors";

export interface TenantSession {
  tenantId: string;
  userId: string;
  expiresAt: Date;
}

const MIN_SECRET_BYTES = 32;

function mac(secret: Buffer, payload: string): Buffer {
  return createHmac("sha256", secret).update(`v1.${payload}`).digest();
}

function checkSecret(secret: Buffer): void {
  if (secret.length < MIN_SECRET_BYTES) {
    throw new CryptoError({ code: CryptoErrorCode.InvalidArgument, message: `a session secret needs at least ${MIN_SECRET_BYTES} bytes` });
  }
}

/** A token for `session`, signed with `secret` (what HesaabPlus's login does; `hesaab tenant-session` for development). */
export function signTenantSession(session: TenantSession, secret: Buffer): string {
  checkSecret(secret);
  const payload = Buffer.from(JSON.stringify({ t: session.tenantId, u: session.userId, exp: Math.floor(session.expiresAt.getTime() / 1000) })).toString("base64url");
  return `v1.${payload}.${mac(secret, payload).toString("base64url")}`;
}

/** The session a token names, or undefined when it is malformed, forged or expired (the caller answers "sign in again"). */
export function verifyTenantSession(token: string, secret: Buffer, now = new Date()): TenantSession | undefined {
  checkSecret(secret);
  const [version, payload, signature, ...rest] = token.split(".");
  if (version !== "v1" || !payload || !signature || rest.length > 0) return undefined;
  const given = Buffer.from(signature, "base64url");
  const expected = mac(secret, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  let body: { t?: unknown; u?: unknown; exp?: unknown };
  try {
    body = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as typeof body;
  } catch {
    return undefined;
  }
  if (typeof body.t !== "string" || typeof body.u !== "string" || typeof body.exp !== "number") return undefined;
  const expiresAt = new Date(body.exp * 1000);
  if (expiresAt <= now) return undefined;
  return { tenantId: body.t, userId: body.u, expiresAt };
}
