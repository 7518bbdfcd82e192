// Sessions as standard JWTs. HesaabPlus owns users and their login (Python, PyJWT); it hands its two
// apps a short-lived JWT the gateway checks with `jose`. Nothing here is home-made: a token is a JWS
// (HS256 with a shared secret by default; EdDSA or RS256 against a public key or a JWKS URL), its
// claims are the registered ones plus `tenant_id` and `role`:
//
//   aud        "hesaab-admin" (the admin app) or "hesaab-tenant" (the tenant app): one never passes as the other
//   sub        the user                      role   what the user is (admin: "super_admin"; tenant: HesaabPlus's role)
//   tenant_id  tenant sessions only: the tenant, taken from the token alone, never from a request's input
//   iat, exp   a token whose exp - iat exceeds the kind's maximum lifetime is refused, however it was signed
//   jti        unique per token: what `hesaab sessions revoke` names
//   iss        checked only when an issuer is configured
import { createPublicKey, randomUUID, type KeyObject } from "node:crypto";
import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, SignJWT, type JWTVerifyGetKey } from "jose";
import { z } from "zod";
import { SessionError } from "./errors";
import { tenantId as tenantIdSchema } from "@hesaab/contracts";

export type SessionKind = "admin" | "tenant";

/** The `aud` of each kind of session. */
export const SESSION_AUDIENCES = { admin: "hesaab-admin", tenant: "hesaab-tenant" } as const satisfies Record<SessionKind, string>;

/** The role an admin session must carry to use the admin app (every backup of every tenant). */
export const ADMIN_ROLE = "super_admin";

/** The longest an admin session may run (exp - iat): a leaked one cannot live for ever. */
export const MAX_ADMIN_SESSION_HOURS = 24;

/** The longest a tenant session may run unless TENANT_SESSION_MAX_HOURS says otherwise. */
export const DEFAULT_TENANT_SESSION_MAX_HOURS = 12;

/** Clocks of HesaabPlus and the gateway may differ by this much (exp, iat). */
export const CLOCK_TOLERANCE_SECONDS = 30;

/** A shared secret shorter than this is refused (HS256 with a guessable secret is no signature). */
export const MIN_SECRET_BYTES = 32;

interface SessionBase {
  /** `sub` */
  userId: string;
  role: string;
  jti: string;
  issuedAt: Date;
  expiresAt: Date;
}

/** A super admin of the backup system (the admin app). */
export interface AdminSession extends SessionBase {
  kind: "admin";
}

/** A user of one tenant (the tenant app). */
export interface TenantSession extends SessionBase {
  kind: "tenant";
  tenantId: string;
}

export type Session = AdminSession | TenantSession;

/**
 * How sessions are checked. A shared secret (HS256) by default; once a public key or a JWKS URL is
 * configured only EdDSA and RS256 are accepted, so a token "signed" with the public key as an HMAC
 * secret (the classic algorithm confusion) is refused. `none` is never accepted.
 */
export type SessionKeys = { secret: Uint8Array } | { publicKey: KeyObject } | { jwksUrl: URL };

/** Why a token was refused; the user hears only "sign in again", tests and logs hear this. */
export type SessionRefusal =
  | "malformed" // not a JWT (an old `v1.`/`admin1.` token, garbage)
  | "algorithm" // an algorithm other than the pinned ones (none, HS with a public key, …)
  | "signature" // forged, or signed with another key
  | "unknown_key" // no JWKS key matches its kid
  | "audience" // another app's session, or none
  | "issuer"
  | "expired"
  | "not_yet_valid"
  | "claims" // a required claim missing or of the wrong shape
  | "lifetime" // exp - iat over the kind's maximum, or iat in the future
  | "revoked";

export type SessionVerdict<S extends Session> = { session: S } | { refused: SessionRefusal };

/** The maximum lifetime of a kind of session, in hours. */
export function maxSessionHours(kind: SessionKind, tenantMaxHours = DEFAULT_TENANT_SESSION_MAX_HOURS): number {
  return kind === "admin" ? MAX_ADMIN_SESSION_HOURS : tenantMaxHours;
}

function checkSecret(secret: Uint8Array): void {
  if (secret.length < MIN_SECRET_BYTES) {
    throw new SessionError({
      code: "session_secret_short",
      message: `a session secret needs at least ${MIN_SECRET_BYTES} bytes`,
      hint: "Generate one with `openssl rand -base64 32`",
    });
  }
}

/** A PEM public key (SPKI, "-----BEGIN PUBLIC KEY-----"), Ed25519 or RSA; anything else is refused with what to give. */
export function sessionPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem.replace(/\\n/g, "\n"));
  } catch (err) {
    throw new SessionError({
      code: "session_key_invalid",
      message: "the session public key is not a PEM public key",
      hint: "Give the SPKI PEM (-----BEGIN PUBLIC KEY-----) of an Ed25519 or RSA key",
      cause: err,
    });
  }
  if (key.asymmetricKeyType !== "ed25519" && key.asymmetricKeyType !== "rsa") {
    throw new SessionError({
      code: "session_key_invalid",
      message: `the session public key is ${key.asymmetricKeyType ?? "of an unknown type"}, not Ed25519 or RSA`,
      hint: "Sign sessions with EdDSA (Ed25519) or RS256",
    });
  }
  return key;
}

/** The algorithms a key may verify: never `none`, never HS once a public key is configured. */
function algorithmsFor(keys: SessionKeys): string[] {
  if ("secret" in keys) return ["HS256"];
  if ("publicKey" in keys) return keys.publicKey.asymmetricKeyType === "rsa" ? ["RS256"] : ["EdDSA", "Ed25519"];
  return ["EdDSA", "Ed25519", "RS256"];
}

const claimsSchema = z.object({
  sub: z.string().min(1).max(200),
  role: z.string().min(1).max(64),
  jti: z.string().min(1).max(200),
  iat: z.number().int(),
  exp: z.number().int(),
  aud: z.union([z.string(), z.array(z.string())]),
  tenant_id: tenantIdSchema.optional(),
});

const JOSE_REFUSALS: Record<string, SessionRefusal> = {
  ERR_JWS_INVALID: "malformed",
  ERR_JWT_INVALID: "malformed",
  ERR_JOSE_NOT_SUPPORTED: "algorithm",
  ERR_JOSE_ALG_NOT_ALLOWED: "algorithm",
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: "signature",
  ERR_JWKS_NO_MATCHING_KEY: "unknown_key",
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: "unknown_key",
  ERR_JWT_EXPIRED: "expired",
};

function refusalOf(err: unknown): SessionRefusal | undefined {
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "aud") return "audience";
    if (err.claim === "iss") return "issuer";
    if (err.claim === "nbf") return "not_yet_valid";
    if (err.claim === "iat" && err.reason === "check_failed") return "lifetime";
    return "claims";
  }
  return err instanceof errors.JOSEError ? JOSE_REFUSALS[err.code] : undefined;
}

/**
 * A checker for one kind of session: the signature with `keys` (algorithms pinned), `aud` of the
 * kind, the optional issuer, exp and iat with a small tolerance, the required claims and their
 * shapes, a lifetime within the kind's maximum, then `isRevoked(jti)` (the catalog). A token is
 * refused with a reason; only a JWKS that cannot be fetched throws (`session_keys_unavailable`,
 * retryable: our side, not the user's).
 */
export function sessionVerifier<K extends SessionKind>(o: {
  kind: K;
  keys: SessionKeys;
  issuer?: string | undefined;
  /** Tenant sessions' maximum lifetime (TENANT_SESSION_MAX_HOURS); admin sessions' is fixed. */
  tenantMaxHours?: number;
  isRevoked?: (jti: string) => Promise<boolean>;
}): (token: string, now?: Date) => Promise<SessionVerdict<Extract<Session, { kind: K }>>> {
  if ("secret" in o.keys) checkSecret(o.keys.secret);
  const key: Uint8Array | KeyObject | JWTVerifyGetKey =
    "secret" in o.keys
      ? o.keys.secret
      : "publicKey" in o.keys
        ? o.keys.publicKey
        : createRemoteJWKSet(o.keys.jwksUrl, { timeoutDuration: 5_000, cacheMaxAge: 10 * 60_000 });
  const audience = SESSION_AUDIENCES[o.kind];
  const otherAudience = SESSION_AUDIENCES[o.kind === "admin" ? "tenant" : "admin"];
  const maxSeconds = maxSessionHours(o.kind, o.tenantMaxHours) * 3600;
  const algorithms = algorithmsFor(o.keys);
  type S = Extract<Session, { kind: K }>;
  return async (token, now = new Date()) => {
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms,
        audience,
        ...(o.issuer ? { issuer: o.issuer } : {}),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        // maxTokenAge also refuses an iat in the future: iat an hour ahead and exp 12 hours after it is no 12-hour session
        maxTokenAge: maxSeconds,
        requiredClaims: ["sub", "role", "iat", "exp", "jti", ...(o.kind === "tenant" ? ["tenant_id"] : [])],
        currentDate: now,
      }));
    } catch (err) {
      const refused = refusalOf(err);
      if (refused) return { refused };
      if (!("jwksUrl" in o.keys)) throw err;
      throw new SessionError({
        code: "session_keys_unavailable",
        message: "the keys sessions are checked with cannot be fetched",
        hint: "Check SESSION_JWKS_URL and that it answers; try again in a moment",
        retryable: true,
        cause: err,
      });
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) return { refused: "claims" };
    const c = claims.data;
    // an audience list naming both apps would pass as either: a session is for one app only
    if (Array.isArray(c.aud) && c.aud.includes(otherAudience)) return { refused: "audience" };
    if (o.kind === "tenant" && c.tenant_id === undefined) return { refused: "claims" };
    if (c.exp - c.iat > maxSeconds) return { refused: "lifetime" };
    if (o.isRevoked && (await o.isRevoked(c.jti))) return { refused: "revoked" };
    const base = { userId: c.sub, role: c.role, jti: c.jti, issuedAt: new Date(c.iat * 1000), expiresAt: new Date(c.exp * 1000) };
    const session = o.kind === "tenant" ? { kind: "tenant" as const, tenantId: c.tenant_id!, ...base } : { kind: "admin" as const, ...base };
    return { session: session as S };
  };
}

/**
 * A session token signed with a shared secret (HS256), as HesaabPlus's login makes one; the CLI
 * (`hesaab admin session`, `hesaab tenant session`) and the demo use it. A lifetime over the kind's
 * maximum is refused here too, so what is signed is what the gateway accepts.
 */
export async function signSession(o: {
  kind: SessionKind;
  userId: string;
  role: string;
  /** Tenant sessions only. */
  tenantId?: string;
  hours: number;
  secret: Uint8Array;
  issuer?: string | undefined;
  tenantMaxHours?: number;
  now?: Date;
}): Promise<{ token: string; jti: string; expiresAt: Date }> {
  checkSecret(o.secret);
  const max = maxSessionHours(o.kind, o.tenantMaxHours);
  if (!(o.hours > 0) || o.hours > max) {
    throw new SessionError({
      code: "session_too_long",
      message: `${o.kind === "admin" ? "an admin" : "a tenant"} session lasts at most ${max} hours`,
      hint: "Sign a new one when it runs out",
    });
  }
  if (o.kind === "tenant") {
    const parsed = tenantIdSchema.safeParse(o.tenantId);
    if (!parsed.success)
      throw new SessionError({
        code: "session_claims_invalid",
        message: `a tenant session needs a tenant id (letters, digits, _ . : -), not ${JSON.stringify(o.tenantId ?? "")}`,
      });
  }
  const iat = Math.floor((o.now ?? new Date()).getTime() / 1000);
  const exp = iat + Math.floor(o.hours * 3600);
  const jti = randomUUID();
  const claims = {
    sub: o.userId,
    role: o.role,
    ...(o.kind === "tenant" ? { tenant_id: o.tenantId } : {}),
    aud: SESSION_AUDIENCES[o.kind],
    iat,
    exp,
    jti,
    ...(o.issuer ? { iss: o.issuer } : {}),
  };
  const token = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(o.secret);
  return { token, jti, expiresAt: new Date(exp * 1000) };
}

/**
 * The jti and kind a token names, read without checking its signature: what `hesaab sessions revoke`
 * takes from a pasted token (revoking needs no trust in it). Undefined for what is no JWT.
 */
export function sessionTokenIds(token: string): { jti: string; kind?: SessionKind } | undefined {
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(token);
  } catch {
    return undefined;
  }
  if (typeof claims.jti !== "string" || claims.jti === "") return undefined;
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const kind = (Object.keys(SESSION_AUDIENCES) as SessionKind[]).find((k) => aud.includes(SESSION_AUDIENCES[k]));
  return { jti: claims.jti, ...(kind ? { kind } : {}) };
}
