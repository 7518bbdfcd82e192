import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signTenantSession, verifyTenantSession } from "../src";

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
