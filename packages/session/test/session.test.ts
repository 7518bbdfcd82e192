// Sessions as HesaabPlus makes them with PyJWT (`jwt.encode(claims, secret, algorithm="HS256")`),
// reproduced with jose: the claims exactly as the README documents them, nothing added by a helper.
import { createHmac, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from "node:crypto";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isHesaabError } from "@hesaab/config";
import { sessionPublicKey, sessionTokenIds, sessionVerifier, signSession, type SessionKeys, type SessionKind } from "../src";

const secret = Buffer.from(randomBytes(24).toString("base64"), "utf8"); // 32 characters, as the env gives it
const tenant = "3f2b8a4e-0c1d-4e5f-8a9b-0123456789ab";
const now = () => Math.floor(Date.now() / 1000);

/** The PyJWT example of the README, claim for claim. */
function pyjwtClaims(kind: SessionKind, o: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = now();
  return kind === "tenant"
    ? { sub: "user-42", tenant_id: tenant, role: "owner", aud: "hesaab-tenant", iat, exp: iat + 3600, jti: randomUUID(), ...o }
    : { sub: "sara", role: "super_admin", aud: "hesaab-admin", iat, exp: iat + 3600, jti: randomUUID(), ...o };
}

const hs256 = (claims: Record<string, unknown>, key: Uint8Array = secret) => new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(key);
const without = (claims: Record<string, unknown>, name: string) => Object.fromEntries(Object.entries(claims).filter(([k]) => k !== name));
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

const tenantVerifier = sessionVerifier({ kind: "tenant", keys: { secret } });
const adminVerifier = sessionVerifier({ kind: "admin", keys: { secret } });

describe("HS256 sessions (the default)", () => {
  it("a PyJWT-shaped tenant token signs in: its tenant, user and role", async () => {
    const claims = pyjwtClaims("tenant");
    expect(await tenantVerifier(await hs256(claims))).toEqual({
      session: {
        kind: "tenant",
        tenantId: tenant,
        userId: "user-42",
        role: "owner",
        jti: claims.jti,
        issuedAt: new Date((claims.iat as number) * 1000),
        expiresAt: new Date((claims.exp as number) * 1000),
      },
    });
  });

  it("a PyJWT-shaped admin token signs in", async () => {
    expect(await adminVerifier(await hs256(pyjwtClaims("admin")))).toMatchObject({ session: { kind: "admin", userId: "sara", role: "super_admin" } });
  });

  it("one app's session never passes as the other's", async () => {
    expect(await adminVerifier(await hs256(pyjwtClaims("tenant")))).toEqual({ refused: "audience" });
    expect(await tenantVerifier(await hs256(pyjwtClaims("admin", { tenant_id: tenant })))).toEqual({ refused: "audience" });
    // an audience list naming both apps is for neither
    const both = { aud: ["hesaab-tenant", "hesaab-admin"] };
    expect(await tenantVerifier(await hs256(pyjwtClaims("tenant", both)))).toEqual({ refused: "audience" });
    expect(await adminVerifier(await hs256(pyjwtClaims("admin", both)))).toEqual({ refused: "audience" });
    expect(await tenantVerifier(await hs256(without(pyjwtClaims("tenant"), "aud")))).toEqual({ refused: "audience" });
  });

  it("refuses old-format tokens, garbage, alg none and a wrong secret", async () => {
    // the home-made format of before: v1.<payload>.<hmac>
    const payload = b64({ t: tenant, u: "user-1", exp: now() + 3600 });
    const old = `v1.${payload}.${createHmac("sha256", secret).update(`v1.${payload}`).digest("base64url")}`;
    const adminPayload = b64({ u: "ops", exp: now() + 3600 });
    const oldAdmin = `admin1.${adminPayload}.${createHmac("sha256", secret).update(`admin1.${adminPayload}`).digest("base64url")}`;
    expect(await tenantVerifier(old)).toEqual({ refused: "malformed" });
    expect(await adminVerifier(oldAdmin)).toEqual({ refused: "malformed" });
    for (const garbage of ["", "garbage", "a.b.c", "a.b"]) expect(await tenantVerifier(garbage), garbage).toEqual({ refused: "malformed" });
    const none = `${b64({ alg: "none", typ: "JWT" })}.${b64(pyjwtClaims("tenant"))}.`;
    expect(await tenantVerifier(none)).toMatchObject({ refused: expect.stringMatching(/algorithm|malformed/) as string });
    expect(await tenantVerifier(await hs256(pyjwtClaims("tenant"), randomBytes(32)))).toEqual({ refused: "signature" });
    // HS512 with the right secret: not the pinned algorithm
    const hs512 = await new SignJWT(pyjwtClaims("tenant")).setProtectedHeader({ alg: "HS512" }).sign(secret);
    expect(await tenantVerifier(hs512)).toEqual({ refused: "algorithm" });
  });

  it("refuses expired tokens, lifetimes over the maximum and an iat in the future", async () => {
    const iat = now();
    expect(await tenantVerifier(await hs256(pyjwtClaims("tenant", { iat: iat - 7200, exp: iat - 60 })))).toEqual({ refused: "expired" });
    // within the clock tolerance: still valid
    expect(await tenantVerifier(await hs256(pyjwtClaims("tenant", { iat: iat - 7200, exp: iat - 5 })))).toHaveProperty("session");
    expect(await tenantVerifier(await hs256(pyjwtClaims("tenant", { exp: iat + 12 * 3600 })))).toHaveProperty("session");
    expect(await tenantVerifier(await hs256(pyjwtClaims("tenant", { exp: iat + 12 * 3600 + 1 })))).toEqual({ refused: "lifetime" });
    expect(await adminVerifier(await hs256(pyjwtClaims("admin", { exp: iat + 24 * 3600 })))).toHaveProperty("session");
    expect(await adminVerifier(await hs256(pyjwtClaims("admin", { exp: iat + 24 * 3600 + 1 })))).toEqual({ refused: "lifetime" });
    expect(await tenantVerifier(await hs256(pyjwtClaims("tenant", { iat: iat + 3600, exp: iat + 7200 })))).toEqual({ refused: "lifetime" });
    // a configured maximum
    const short = sessionVerifier({ kind: "tenant", keys: { secret }, tenantMaxHours: 1 });
    expect(await short(await hs256(pyjwtClaims("tenant", { exp: iat + 3601 })))).toEqual({ refused: "lifetime" });
  });

  it("refuses a token missing any required claim, or with one of the wrong shape", async () => {
    for (const name of ["sub", "role", "iat", "exp", "jti", "tenant_id"]) {
      expect(await tenantVerifier(await hs256(without(pyjwtClaims("tenant"), name))), name).toMatchObject({
        refused: expect.stringMatching(/claims|expired|lifetime/) as string,
      });
    }
    for (const name of ["sub", "role", "jti"])
      expect(await adminVerifier(await hs256(without(pyjwtClaims("admin"), name))), name).toEqual({ refused: "claims" });
    for (const bad of [{ tenant_id: "x'; drop table y" }, { tenant_id: 42 }, { sub: "" }, { role: 7 }, { jti: "" }]) {
      expect(await tenantVerifier(await hs256(pyjwtClaims("tenant", bad))), JSON.stringify(bad)).toEqual({ refused: "claims" });
    }
  });

  it("checks the issuer when one is configured", async () => {
    const verify = sessionVerifier({ kind: "tenant", keys: { secret }, issuer: "https://hesaabplus.example" });
    expect(await verify(await hs256(pyjwtClaims("tenant", { iss: "https://hesaabplus.example" })))).toHaveProperty("session");
    expect(await verify(await hs256(pyjwtClaims("tenant", { iss: "https://elsewhere.example" })))).toEqual({ refused: "issuer" });
    expect(await verify(await hs256(pyjwtClaims("tenant")))).toEqual({ refused: "issuer" });
  });

  it("asks whether the jti was revoked, last", async () => {
    const revoked = new Set<string>();
    const verify = sessionVerifier({ kind: "tenant", keys: { secret }, isRevoked: async (jti) => revoked.has(jti) });
    const claims = pyjwtClaims("tenant");
    const token = await hs256(claims);
    expect(await verify(token)).toHaveProperty("session");
    revoked.add(claims.jti as string);
    expect(await verify(token)).toEqual({ refused: "revoked" });
  });

  it("a short secret is refused, to sign and to verify", async () => {
    expect(() => sessionVerifier({ kind: "tenant", keys: { secret: randomBytes(16) } })).toThrow(/at least 32 bytes/);
    await expect(signSession({ kind: "admin", userId: "ops", role: "super_admin", hours: 1, secret: randomBytes(16) })).rejects.toThrow(/at least 32 bytes/);
  });
});

describe("signSession (the CLI's tokens)", () => {
  it("signs what the verifier accepts, within the kind's maximum", async () => {
    const t = await signSession({ kind: "tenant", userId: "support", role: "owner", tenantId: tenant, hours: 8, secret });
    expect(await tenantVerifier(t.token)).toMatchObject({
      session: { tenantId: tenant, userId: "support", role: "owner", jti: t.jti, expiresAt: t.expiresAt },
    });
    const a = await signSession({ kind: "admin", userId: "ops", role: "super_admin", hours: 24, secret });
    expect(await adminVerifier(a.token)).toMatchObject({ session: { userId: "ops", jti: a.jti } });
    expect(await tenantVerifier(a.token)).toHaveProperty("refused"); // no tenant_id, and another audience
    await expect(signSession({ kind: "admin", userId: "ops", role: "super_admin", hours: 25, secret })).rejects.toThrow(/at most 24 hours/);
    await expect(signSession({ kind: "tenant", userId: "u", role: "owner", tenantId: tenant, hours: 13, secret })).rejects.toThrow(/at most 12 hours/);
    await expect(signSession({ kind: "tenant", userId: "u", role: "owner", tenantId: "no spaces", hours: 1, secret })).rejects.toThrow(/tenant id/);
  });
});

describe("asymmetric sessions (EdDSA, RS256)", () => {
  const ed = generateKeyPairSync("ed25519");
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = (k: KeyObject) => k.export({ type: "spki", format: "pem" }).toString();
  const signed = (claims: Record<string, unknown>, alg: "EdDSA" | "RS256", key: KeyObject) =>
    new SignJWT(claims).setProtectedHeader({ alg, typ: "JWT" }).sign(key);
  const signedWithKid = (o: { claims: Record<string, unknown>; alg: "EdDSA" | "RS256"; key: KeyObject; kid: string }) =>
    new SignJWT(o.claims).setProtectedHeader({ alg: o.alg, typ: "JWT", kid: o.kid }).sign(o.key);

  it("verifies against a PEM public key; HS256 (even keyed with the PEM itself) is refused", async () => {
    const edVerify = sessionVerifier({ kind: "tenant", keys: { publicKey: sessionPublicKey(pem(ed.publicKey)) } });
    expect(await edVerify(await signed(pyjwtClaims("tenant"), "EdDSA", ed.privateKey))).toHaveProperty("session");
    const rsaVerify = sessionVerifier({ kind: "admin", keys: { publicKey: sessionPublicKey(pem(rsa.publicKey)) } });
    expect(await rsaVerify(await signed(pyjwtClaims("admin"), "RS256", rsa.privateKey))).toHaveProperty("session");
    // algorithm confusion: the public key's PEM used as an HMAC secret
    expect(await rsaVerify(await hs256(pyjwtClaims("admin"), Buffer.from(pem(rsa.publicKey))))).toEqual({ refused: "algorithm" });
    expect(await edVerify(await hs256(pyjwtClaims("tenant")))).toEqual({ refused: "algorithm" });
    // signed by another key
    expect(await edVerify(await signed(pyjwtClaims("tenant"), "EdDSA", generateKeyPairSync("ed25519").privateKey))).toEqual({ refused: "signature" });
    // a PEM with escaped newlines (one env line) is the same key
    expect(
      await sessionVerifier({ kind: "tenant", keys: { publicKey: sessionPublicKey(pem(ed.publicKey).replace(/\n/g, "\\n")) } })(
        await signed(pyjwtClaims("tenant"), "EdDSA", ed.privateKey),
      ),
    ).toHaveProperty("session");
  });

  it("refuses a key that is not an Ed25519 or RSA public key", () => {
    expect(() => sessionPublicKey("not a key")).toThrow(/not a PEM public key/);
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    expect(() => sessionPublicKey(pem(ec.publicKey))).toThrow(/ec, not Ed25519 or RSA/);
  });

  describe("against a JWKS URL", () => {
    let server: Server;
    let url: URL;
    let served = 0;
    beforeAll(async () => {
      const keys = [
        { ...(await exportJWK(ed.publicKey)), kid: "ed-1", alg: "EdDSA", use: "sig" },
        { ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" },
      ];
      server = createHttpServer((_req, res) => {
        served += 1;
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys }));
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`);
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("verifies EdDSA and RS256 tokens by their kid; an unknown kid or HS256 is refused", async () => {
      const keys: SessionKeys = { jwksUrl: url };
      const verify = sessionVerifier({ kind: "tenant", keys });
      expect(await verify(await signedWithKid({ claims: pyjwtClaims("tenant"), alg: "EdDSA", key: ed.privateKey, kid: "ed-1" }))).toHaveProperty("session");
      expect(await verify(await signedWithKid({ claims: pyjwtClaims("tenant"), alg: "RS256", key: rsa.privateKey, kid: "rsa-1" }))).toHaveProperty("session");
      expect(served).toBeGreaterThan(0);
      expect(
        await verify(await signedWithKid({ claims: pyjwtClaims("tenant"), alg: "EdDSA", key: generateKeyPairSync("ed25519").privateKey, kid: "ed-2" })),
      ).toEqual({ refused: "unknown_key" });
      expect(await verify(await hs256(pyjwtClaims("tenant")))).toEqual({ refused: "algorithm" });
    });

    it("a JWKS that cannot be fetched is our side: retryable, not 'sign in again'", async () => {
      const closed = createHttpServer();
      await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const verify = sessionVerifier({ kind: "tenant", keys: { jwksUrl: new URL(`http://127.0.0.1:${port}/jwks.json`) } });
      const err = await verify(await signedWithKid({ claims: pyjwtClaims("tenant"), alg: "EdDSA", key: ed.privateKey, kid: "ed-1" })).catch((e: unknown) => e);
      expect(isHesaabError(err, "session_keys_unavailable")).toBe(true);
      expect((err as { retryable: boolean }).retryable).toBe(true);
    });
  });
});

describe("sessionTokenIds (what revoking a pasted token takes)", () => {
  it("reads the jti and kind without trusting the token; no JWT, no ids", async () => {
    const claims = pyjwtClaims("tenant");
    expect(sessionTokenIds(await hs256(claims, randomBytes(32)))).toEqual({ jti: claims.jti, kind: "tenant" });
    expect(sessionTokenIds(await hs256(pyjwtClaims("admin", { jti: "j-1" })))).toEqual({ jti: "j-1", kind: "admin" });
    expect(sessionTokenIds(await hs256(pyjwtClaims("admin", { jti: "j-2", aud: "elsewhere" })))).toEqual({ jti: "j-2" });
    expect(sessionTokenIds("6b0f6c1e-2f47-4a8e-9d3b-5c1a2b3c4d5e")).toBeUndefined();
    expect(sessionTokenIds(await hs256(without(pyjwtClaims("admin"), "jti")))).toBeUndefined();
  });
});
