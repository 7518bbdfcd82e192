// `hesaab admin session` and `hesaab tenant session`: the real CLI signs what the gateway accepts,
// and refuses a secret that is missing or short with what to do.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { verifyAdminSession, verifyTenantSession } from "@hesaab/crypto";

const cliDir = fileURLToPath(new URL("..", import.meta.url));
const secret = randomBytes(24).toString("base64"); // 32 characters

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "src/main.ts", ...args], { cwd: cliDir, env: { PATH: process.env.PATH ?? "", HESAAB_NO_STACK_ENV: "1", ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("hesaab … session", { timeout: 60_000 }, () => {
  it("admin: a token the gateway's check accepts, for the admin app's link", async () => {
    const out = await cli(["admin", "session", "--user", "sara", "--minutes", "5", "--json"], { ADMIN_SESSION_SECRET: secret, GATEWAY_PORT: "9999" });
    expect(out.code, out.stderr).toBe(0);
    const link = JSON.parse(out.stdout) as { token: string; url: string; expiresAt: string };
    expect(link.url).toBe(`http://127.0.0.1:9999/admin/#session=${link.token}`);
    expect(verifyAdminSession(link.token, Buffer.from(secret, "utf8"))).toMatchObject({ userId: "sara" });
    expect(new Date(link.expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(5 * 60_000);
    // an admin token is not a tenant token
    expect(verifyTenantSession(link.token, Buffer.from(secret, "utf8"))).toBeUndefined();
  });

  it("tenant: a token naming the tenant, for the tenant app's link", async () => {
    const tenantId = "3f2b8a4e-0c1d-4e5f-8a9b-0123456789ab";
    const out = await cli(["tenant", "session", tenantId, "--json"], { TENANT_SESSION_SECRET: secret });
    expect(out.code, out.stderr).toBe(0);
    const link = JSON.parse(out.stdout) as { token: string; url: string };
    expect(link.url).toBe(`http://127.0.0.1:8080/app/#session=${link.token}`);
    expect(verifyTenantSession(link.token, Buffer.from(secret, "utf8"))).toMatchObject({ tenantId, userId: "support" });
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
    const long = await cli(["admin", "session", "--user", "sara", "--minutes", "1441"], { ADMIN_SESSION_SECRET: secret });
    expect(long.code).not.toBe(0);
    expect(long.stderr).toMatch(/at most 24 hours/);
    const noUser = await cli(["admin", "session"], { ADMIN_SESSION_SECRET: secret });
    expect(noUser.code).not.toBe(0);
    expect(noUser.stderr).toMatch(/--user/);
  });
});
