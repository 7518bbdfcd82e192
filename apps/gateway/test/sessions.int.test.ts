// Sessions through the real gateway: tokens made exactly as the README's PyJWT example makes them
// sign in; old-format, another app's, expired, over-long, incomplete, unsigned, forged and revoked
// ones are refused with "sign in again"; EdDSA and RS256 tokens against a PEM and a JWKS URL.
import { createHmac, generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import { exportJWK, SignJWT } from "jose";
import { isHesaabError } from "@hesaab/config";
import { revokeSession } from "@hesaab/session";
import { loadEnv } from "../src/env";
import { startGateway, type RunningGateway } from "../src/gateway";
import type { AppRouter } from "@hesaab/api";
import { pyjwtSession, startHarness, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("gw_sessions");
}, 120_000);
afterAll(async () => {
  await h?.stop();
});

function client(token: string | undefined, base = h.gateway.address) {
  return createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${base}/trpc`, headers: token ? { authorization: `Bearer ${token}` } : {} })] });
}

async function refusal(p: Promise<unknown>): Promise<{ code: string | undefined; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCClientError);
  return { code: (err as TRPCClientError<AppRouter>).data?.code, message: (err as Error).message };
}

const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

/** The README's example, claim for claim. */
function tenantClaims(o: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = now();
  return { sub: "user-42", tenant_id: h.activeTenants()[0], role: "owner", aud: "hesaab-tenant", iat, exp: iat + 8 * 3600, jti: randomUUID(), ...o };
}
function adminClaims(o: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = now();
  return { sub: "sara", role: "super_admin", aud: "hesaab-admin", iat, exp: iat + 8 * 3600, jti: randomUUID(), ...o };
}
const tenantToken = (claims: Record<string, unknown>, secret = h.secret) => pyjwtSession({ claims, secret });
const adminToken = (claims: Record<string, unknown>, secret = h.adminSecret) => pyjwtSession({ claims, secret });

async function expectSignInAgain(token: string, app: "tenant" | "admin", why: string): Promise<void> {
  const c = client(token);
  const { code, message } = await refusal(app === "tenant" ? c.tenant.me.query() : c.admin.me.query());
  expect(code, why).toBe("UNAUTHORIZED");
  expect(message, why).toMatch(/sign in again/);
}

describe("sessions at the gateway (HS256, the default)", () => {
  it("tokens made as the PyJWT example makes them sign in: the tenant app and the admin app", async () => {
    const tenant = h.activeTenants()[0]!;
    expect(await client(await tenantToken(tenantClaims())).tenant.me.query()).toEqual({
      tenantId: tenant,
      userId: "user-42",
      role: "owner",
      canExport: true,
      exportRefusal: null,
    });
    expect(await client(await adminToken(adminClaims())).admin.me.query()).toEqual({ userId: "sara", role: "super_admin" });
  });

  it("refuses old-format tokens, another app's, expired, over-long, incomplete, unsigned and forged ones", async () => {
    const tenant = h.activeTenants()[0]!;
    const old = (tag: string, payload: Record<string, unknown>, secret: string) => {
      const p = b64(payload);
      return `${tag}.${p}.${createHmac("sha256", Buffer.from(secret, "utf8")).update(`${tag}.${p}`).digest("base64url")}`;
    };
    const iat = now();
    const refusedTenant: [string, string][] = [
      ["old format", old("v1", { t: tenant, u: "user-1", exp: iat + 3600 }, h.secret)],
      ["an admin session", await tenantToken(adminClaims({ tenant_id: tenant }))],
      ["an admin session, with the admin secret", await adminToken(adminClaims({ tenant_id: tenant }))],
      ["both audiences", await tenantToken(tenantClaims({ aud: ["hesaab-tenant", "hesaab-admin"] }))],
      ["expired", await tenantToken(tenantClaims({ iat: iat - 7200, exp: iat - 120 }))],
      ["longer than 12 hours", await tenantToken(tenantClaims({ exp: iat + 12 * 3600 + 60 }))],
      ["issued in the future", await tenantToken(tenantClaims({ iat: iat + 3600, exp: iat + 7200 }))],
      ...(await Promise.all(
        ["sub", "tenant_id", "role", "iat", "exp", "jti", "aud"].map(
          async (name): Promise<[string, string]> => [`without ${name}`, await tenantToken(tenantClaims({ [name]: undefined }))],
        ),
      )),
      ["a tenant id that is none", await tenantToken(tenantClaims({ tenant_id: "x'; drop table y" }))],
      ["alg none", `${b64({ alg: "none", typ: "JWT" })}.${b64(tenantClaims())}.`],
      ["another secret", await tenantToken(tenantClaims(), "z".repeat(32))],
      ["HS512", await new SignJWT(tenantClaims()).setProtectedHeader({ alg: "HS512", typ: "JWT" }).sign(Buffer.from(h.secret, "utf8"))],
    ];
    for (const [why, token] of refusedTenant) await expectSignInAgain(token, "tenant", why);

    const refusedAdmin: [string, string][] = [
      ["old format", old("admin1", { u: "ops", exp: iat + 3600 }, h.adminSecret)],
      ["a tenant session", await adminToken(tenantClaims())],
      ["expired", await adminToken(adminClaims({ iat: iat - 7200, exp: iat - 120 }))],
      ["longer than 24 hours", await adminToken(adminClaims({ exp: iat + 24 * 3600 + 60 }))],
      ...(await Promise.all(
        ["sub", "role", "iat", "exp", "jti"].map(
          async (name): Promise<[string, string]> => [`without ${name}`, await adminToken(adminClaims({ [name]: undefined }))],
        ),
      )),
      ["alg none", `${b64({ alg: "none", typ: "JWT" })}.${b64(adminClaims())}.`],
      ["the tenant secret", await adminToken(adminClaims(), h.secret)],
    ];
    for (const [why, token] of refusedAdmin) await expectSignInAgain(token, "admin", why);
  });

  it("an admin session whose role is not super_admin is told it is not enough", async () => {
    const { code, message } = await refusal(client(await adminToken(adminClaims({ role: "auditor" }))).backups.list.query({}));
    expect(code).toBe("FORBIDDEN");
    expect(message).toMatch(/the admin app is for super admins: this session's role is "auditor"/);
  });

  it("a revoked session is refused from the next request on; others go on", async () => {
    const claims = tenantClaims();
    const token = await tenantToken(claims);
    const other = await tenantToken(tenantClaims());
    expect(await client(token).tenant.me.query()).toMatchObject({ userId: "user-42" });
    await revokeSession(h.catalog.db, { jti: claims.jti as string, kind: "tenant", revokedBy: "cli:test", reason: "link leaked" });
    await expectSignInAgain(token, "tenant", "revoked");
    expect(await client(other).tenant.me.query()).toMatchObject({ userId: "user-42" });

    const admin = adminClaims();
    const adminSession = await adminToken(admin);
    expect(await client(adminSession).admin.me.query()).toMatchObject({ userId: "sara" });
    await revokeSession(h.catalog.db, { jti: admin.jti as string, revokedBy: "cli:test" });
    await expectSignInAgain(adminSession, "admin", "revoked");
  });
});

describe("sessions at the gateway, signed by HesaabPlus's private key", () => {
  const ed = generateKeyPairSync("ed25519");
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const signed = (o: { claims: Record<string, unknown>; alg: "EdDSA" | "RS256"; key: KeyObject; kid?: string }) =>
    new SignJWT(o.claims).setProtectedHeader({ alg: o.alg, typ: "JWT", ...(o.kid ? { kid: o.kid } : {}) }).sign(o.key);
  const started: RunningGateway[] = [];
  const gatewayWith = async (env: Record<string, string>) => {
    const g = await startGateway(loadEnv({ ...h.env, ...env }));
    started.push(g);
    return g.address;
  };
  let jwks: Server;
  let jwksUrl: string;
  beforeAll(async () => {
    const keys = [{ ...(await exportJWK(rsa.publicKey)), kid: "rsa-2026", alg: "RS256", use: "sig" }];
    jwks = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys })));
    await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(async () => {
    for (const g of started) await g.stop();
    await new Promise<void>((resolve) => jwks?.close(() => resolve()));
  });

  it("EdDSA against a PEM public key; the shared secrets no longer sign anyone in", async () => {
    const pem = ed.publicKey.export({ type: "spki", format: "pem" }).toString();
    const base = await gatewayWith({ SESSION_PUBLIC_KEY: pem });
    expect(await client(await signed({ claims: tenantClaims(), alg: "EdDSA", key: ed.privateKey }), base).tenant.me.query()).toMatchObject({
      userId: "user-42",
      role: "owner",
    });
    expect(await client(await signed({ claims: adminClaims(), alg: "EdDSA", key: ed.privateKey }), base).admin.me.query()).toEqual({
      userId: "sara",
      role: "super_admin",
    });
    // the audience still tells the apps apart
    expect(
      (
        await refusal(
          client(await signed({ claims: adminClaims({ tenant_id: h.activeTenants()[0] }), alg: "EdDSA", key: ed.privateKey }), base).tenant.me.query(),
        )
      ).code,
    ).toBe("UNAUTHORIZED");
    for (const token of [await tenantToken(tenantClaims()), await pyjwtSession({ claims: tenantClaims(), secret: pem })]) {
      expect((await refusal(client(token, base).tenant.me.query())).code).toBe("UNAUTHORIZED");
    }
    expect((await refusal(client(await adminToken(adminClaims()), base).admin.me.query())).code).toBe("UNAUTHORIZED");
  });

  it("RS256 against a JWKS URL, by kid; an unknown key is refused", async () => {
    const base = await gatewayWith({ SESSION_JWKS_URL: jwksUrl });
    expect(await client(await signed({ claims: tenantClaims(), alg: "RS256", key: rsa.privateKey, kid: "rsa-2026" }), base).tenant.me.query()).toMatchObject({
      userId: "user-42",
    });
    expect(await client(await signed({ claims: adminClaims(), alg: "RS256", key: rsa.privateKey, kid: "rsa-2026" }), base).admin.me.query()).toMatchObject({
      userId: "sara",
    });
    const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    for (const token of [
      await signed({ claims: tenantClaims(), alg: "RS256", key: stranger, kid: "rsa-2026" }),
      await signed({ claims: tenantClaims(), alg: "RS256", key: stranger, kid: "other" }),
      await tenantToken(tenantClaims()),
    ]) {
      expect((await refusal(client(token, base).tenant.me.query())).code).toBe("UNAUTHORIZED");
    }
  });

  it("a key configuration that cannot work is refused at start, with what to do", () => {
    const configError = (env: Record<string, string>) => {
      try {
        loadEnv({ ...h.env, ...env });
        return undefined;
      } catch (err) {
        return isHesaabError(err, "config_invalid") ? err.message : String(err);
      }
    };
    expect(configError({ SESSION_PUBLIC_KEY: "not a key" })).toMatch(/SESSION_PUBLIC_KEY: the session public key is not a PEM public key/);
    expect(
      configError({ SESSION_PUBLIC_KEY: generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }).toString() }),
    ).toMatch(/not Ed25519 or RSA/);
    expect(configError({ SESSION_JWKS_URL: "http://keys.example.com/jwks.json" })).toMatch(/SESSION_JWKS_URL must be https/);
    expect(configError({ SESSION_JWKS_URL: jwksUrl, SESSION_PUBLIC_KEY: ed.publicKey.export({ type: "spki", format: "pem" }).toString() })).toMatch(/not both/);
    expect(configError({ TENANT_SESSION_MAX_HOURS: "500" })).toMatch(/at most 168/);
  });
});
