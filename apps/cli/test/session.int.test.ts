// `hesaab admin session`, `hesaab tenant session` and `hesaab sessions revoke`: the real CLI signs
// what the gateway's check accepts, refuses a secret that is missing or short and a lifetime over the
// maximum with what to do, and revokes a session so that the check refuses it.
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog, openCatalog, type Catalog } from "@hesaab/db";
import { isSessionRevoked, sessionVerifier } from "@hesaab/session";
import { freshDatabase, type FreshDatabase } from "@hesaab/testkit";
import { runCli } from "./run-cli";

const secret = randomBytes(24).toString("base64"); // 32 characters
const keys = { secret: Buffer.from(secret, "utf8") };
const verifyAdmin = sessionVerifier({ kind: "admin", keys });
const verifyTenant = sessionVerifier({ kind: "tenant", keys });

const cli = (args: string[], env: Record<string, string>) => runCli(args, env);

describe("hesaab … session", { timeout: 180_000 }, () => {
  it("admin: a token the gateway's check accepts, for the admin app's link", async () => {
    const out = await cli(["admin", "session", "--user", "sara", "--hours", "0.5", "--json"], { ADMIN_SESSION_SECRET: secret, GATEWAY_PORT: "9999" });
    expect(out.code, out.stderr).toBe(0);
    const link = JSON.parse(out.stdout) as { token: string; url: string; jti: string; expiresAt: string };
    expect(link.url).toBe(`http://127.0.0.1:9999/admin/#session=${link.token}`);
    expect(await verifyAdmin(link.token)).toMatchObject({ session: { userId: "sara", role: "super_admin", jti: link.jti } });
    expect(new Date(link.expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(30 * 60_000);
    // an admin token is not a tenant token
    expect(await verifyTenant(link.token)).toHaveProperty("refused");
  });

  it("tenant: a token naming the tenant, for the tenant app's link", async () => {
    const tenantId = "3f2b8a4e-0c1d-4e5f-8a9b-0123456789ab";
    const out = await cli(["tenant", "session", tenantId, "--json"], { TENANT_SESSION_SECRET: secret });
    expect(out.code, out.stderr).toBe(0);
    const link = JSON.parse(out.stdout) as { token: string; url: string };
    expect(link.url).toBe(`http://127.0.0.1:8080/app/#session=${link.token}`);
    expect(await verifyTenant(link.token)).toMatchObject({ session: { tenantId, userId: "support", role: "owner" } });
    const accountant = await cli(["tenant", "session", tenantId, "--user", "u-9", "--role", "accountant", "--hours", "12", "--json"], {
      TENANT_SESSION_SECRET: secret,
    });
    expect(accountant.code, accountant.stderr).toBe(0);
    expect(await verifyTenant((JSON.parse(accountant.stdout) as { token: string }).token)).toMatchObject({ session: { userId: "u-9", role: "accountant" } });
  });

  it("a missing or short secret, or no user, is refused with what to do", async () => {
    const missing = await cli(["admin", "session", "--user", "sara"], {});
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/ADMIN_SESSION_SECRET/);
    const shortSecret = `tooshort-${randomBytes(4).toString("hex")}`;
    const short = await cli(["admin", "session", "--user", "sara"], { ADMIN_SESSION_SECRET: shortSecret });
    expect(short.code).not.toBe(0);
    expect(short.stderr).toMatch(/ADMIN_SESSION_SECRET needs at least 32 characters/);
    expect(short.stderr + short.stdout).not.toContain(shortSecret); // the value itself is never echoed
    const long = await cli(["admin", "session", "--user", "sara", "--hours", "25"], { ADMIN_SESSION_SECRET: secret });
    expect(long.code).not.toBe(0);
    expect(long.stderr).toMatch(/at most 24 hours/);
    const tenantId = "3f2b8a4e-0c1d-4e5f-8a9b-0123456789ab";
    const longTenant = await cli(["tenant", "session", tenantId, "--hours", "13"], { TENANT_SESSION_SECRET: secret });
    expect(longTenant.code).not.toBe(0);
    expect(longTenant.stderr).toMatch(/at most 12 hours \(TENANT_SESSION_MAX_HOURS\)/);
    expect((await cli(["tenant", "session", tenantId, "--hours", "13"], { TENANT_SESSION_SECRET: secret, TENANT_SESSION_MAX_HOURS: "24" })).code).toBe(0);
    const badTenant = await cli(["tenant", "session", "not a tenant"], { TENANT_SESSION_SECRET: secret });
    expect(badTenant.code).not.toBe(0);
    expect(badTenant.stderr).toMatch(/tenant id/);
    const noUser = await cli(["admin", "session"], { ADMIN_SESSION_SECRET: secret });
    expect(noUser.code).not.toBe(0);
    expect(noUser.stderr).toMatch(/--user/);
  });
});

describe("hesaab sessions revoke", { timeout: 180_000 }, () => {
  let database: FreshDatabase;
  let catalog: Catalog;
  beforeAll(async () => {
    database = await freshDatabase("cli_revoke");
    catalog = openCatalog({ url: database.url });
  });
  afterAll(async () => {
    await catalog?.close();
    await database?.drop();
  });

  it("revokes a session by jti (or from the token), so the gateway's check refuses it; audited", async () => {
    const minted = await cli(["admin", "session", "--user", "sara", "--json"], { ADMIN_SESSION_SECRET: secret });
    const link = JSON.parse(minted.stdout) as { token: string; jti: string };
    const verify = sessionVerifier({ kind: "admin", keys, isRevoked: (jti) => isSessionRevoked(catalog.db, jti) });

    const out = await cli(["sessions", "revoke", link.jti, "--kind", "admin", "--reason", "laptop lost", "--json"], {
      BACKUP_DATABASE_URL: database.url,
      USER: "nima",
    });
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ jti: link.jti, kind: "admin", revokedBy: "cli:nima", reason: "laptop lost", already: false });
    expect(await verify(link.token)).toEqual({ refused: "revoked" });
    const [entry] = await catalog.db.select().from(auditLog).where(eq(auditLog.action, "session.revoked"));
    expect(entry).toMatchObject({ actor: "cli:nima", targetType: "session", targetId: link.jti, details: { kind: "admin", reason: "laptop lost" } });

    // the token pasted instead of its jti names the same session
    const again = await cli(["sessions", "revoke", link.token], { BACKUP_DATABASE_URL: database.url });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`^already revoked  ${link.jti}`));

    const tenantLink = JSON.parse((await cli(["tenant", "session", "t-1", "--json"], { TENANT_SESSION_SECRET: secret })).stdout) as {
      token: string;
      jti: string;
    };
    const fromToken = await cli(["sessions", "revoke", tenantLink.token, "--json"], { BACKUP_DATABASE_URL: database.url });
    expect(JSON.parse(fromToken.stdout)).toMatchObject({ jti: tenantLink.jti, kind: "tenant", already: false });

    const badKind = await cli(["sessions", "revoke", "x", "--kind", "user"], { BACKUP_DATABASE_URL: database.url });
    expect(badKind.code).not.toBe(0);
    expect(badKind.stderr).toMatch(/expected admin or tenant/);
    const noCatalog = await cli(["sessions", "revoke", "x"], {});
    expect(noCatalog.code).not.toBe(0);
    expect(noCatalog.stderr).toMatch(/BACKUP_DATABASE_URL/);
  });
});
