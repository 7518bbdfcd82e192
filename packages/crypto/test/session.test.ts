import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signAdminSession, signTenantSession, verifyAdminSession, verifyTenantSession } from "../src";

const secret = randomBytes(32);
const session = { tenantId: "3f2b8a4e-0c1d-4e5f-8a9b-0123456789ab", userId: "user-7", expiresAt: new Date("2026-11-26T12:00:00Z") };
const before = new Date("2026-11-26T11:00:00Z");

describe("tenant sessions", () => {
  it("a signed token names its tenant and user until it expires", () => {
    const token = signTenantSession(session, secret);
    expect(verifyTenantSession(token, secret, before)).toEqual(session);
    expect(verifyTenantSession(token, secret, session.expiresAt)).toBeUndefined();
  });

  it("a token signed with another secret, changed, cut or malformed names nobody", () => {
    const token = signTenantSession(session, secret);
    const [v, payload, mac] = token.split(".");
    const other = Buffer.from(JSON.stringify({ t: "another-tenant", u: "user-7", exp: 1_900_000_000 })).toString("base64url");
    for (const bad of [
      signTenantSession(session, randomBytes(32)),
      `${v}.${other}.${mac}`, // another tenant, the same signature
      `${v}.${payload}`,
      `${v}.${payload}.${mac}.x`,
      `v2.${payload}.${mac}`,
      `${v}.${payload}.${mac!.slice(0, -2)}`,
      "",
      "v1.%%%.%%%",
    ]) {
      expect(verifyTenantSession(bad, secret, before), bad).toBeUndefined();
    }
  });

  it("refuses a short secret", () => {
    expect(() => signTenantSession(session, randomBytes(16))).toThrow(/at least 32 bytes/);
  });
});

describe("admin sessions", () => {
  const admin = { userId: "ops@hesaabplus", expiresAt: session.expiresAt };

  it("a signed token names its admin until it expires", () => {
    const token = signAdminSession(admin, secret);
    expect(token.startsWith("admin1.")).toBe(true);
    expect(verifyAdminSession(token, secret, before)).toEqual(admin);
    expect(verifyAdminSession(token, secret, admin.expiresAt)).toBeUndefined();
  });

  it("a tenant token is no admin token and an admin token no tenant token, even under one secret", () => {
    const tenantToken = signTenantSession(session, secret);
    const adminToken = signAdminSession(admin, secret);
    expect(verifyAdminSession(tenantToken, secret, before)).toBeUndefined();
    expect(verifyTenantSession(adminToken, secret, before)).toBeUndefined();
    // the tag is signed: relabelling a token changes what its signature must be
    const [, tenantPayload, tenantMac] = tenantToken.split(".");
    expect(verifyAdminSession(`admin1.${tenantPayload}.${tenantMac}`, secret, before)).toBeUndefined();
    const [, adminPayload, adminMac] = adminToken.split(".");
    expect(verifyTenantSession(`v1.${adminPayload}.${adminMac}`, secret, before)).toBeUndefined();
  });

  it("lasts at most a day: a token that claims longer is refused, and none is signed", () => {
    const soon = new Date(Date.now() + 3600_000);
    const token = signAdminSession({ userId: "ops", expiresAt: soon }, secret);
    expect(verifyAdminSession(token, secret, new Date(soon.getTime() - 23 * 3600_000))).toMatchObject({ userId: "ops" });
    expect(verifyAdminSession(token, secret, new Date(soon.getTime() - 25 * 3600_000))).toBeUndefined();
    expect(() => signAdminSession({ userId: "ops", expiresAt: new Date(Date.now() + 25 * 3600_000) }, secret)).toThrow(/at most 24 hours/);
  });

  it("another secret, a changed user or an empty one names nobody", () => {
    const [, , mac] = signAdminSession(admin, secret).split(".");
    const other = Buffer.from(JSON.stringify({ u: "intruder", exp: 1_900_000_000 })).toString("base64url");
    expect(verifyAdminSession(signAdminSession(admin, randomBytes(32)), secret, before)).toBeUndefined();
    expect(verifyAdminSession(`admin1.${other}.${mac}`, secret, before)).toBeUndefined();
    expect(verifyAdminSession(signAdminSession({ ...admin, userId: "" }, secret), secret, before)).toBeUndefined();
  });
});
