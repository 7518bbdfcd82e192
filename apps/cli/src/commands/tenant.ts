// `hesaab tenant session <tenantId>`: a signed tenant session, as HesaabPlus's login would hand its
// tenant app one, for development, the demo and support. Needs TENANT_SESSION_SECRET (the gateway's).
import type { Command } from "commander";
import { signTenantSession } from "@hesaab/crypto";
import { tenantSessionEnv } from "../env";
import { positiveInt } from "../options";
import { printJson } from "../output";

/** A session token for `tenantId` and the tenant app's URL that signs in with it. */
export function tenantSessionLink(
  o: { tenantId: string; userId: string; minutes: number },
  env: ReturnType<typeof tenantSessionEnv> = tenantSessionEnv(),
): { token: string; url: string; expiresAt: string } {
  const expiresAt = new Date(Date.now() + o.minutes * 60_000);
  const token = signTenantSession({ tenantId: o.tenantId, userId: o.userId, expiresAt }, Buffer.from(env.TENANT_SESSION_SECRET, "utf8"));
  return { token, url: `http://127.0.0.1:${env.GATEWAY_PORT}/app/#session=${token}`, expiresAt: expiresAt.toISOString() };
}

export function registerTenant(program: Command): void {
  program
    .command("tenant")
    .description("the tenant app's side")
    .command("session")
    .description("sign a tenant session (what HesaabPlus's login does) and print the tenant app's sign-in link")
    .argument("<tenantId>", "the tenant")
    .option("--user <id>", "the user it names", "support")
    .option("--minutes <n>", "valid for", positiveInt, 60)
    .option("--json", "print the token, link and expiry as JSON")
    .action((tenantId: string, opts: { user: string; minutes: number; json?: boolean }) => {
      const link = tenantSessionLink({ tenantId, userId: opts.user, minutes: opts.minutes });
      if (opts.json) return printJson(link);
      process.stdout.write(`${link.url}\n(valid until ${link.expiresAt})\n`);
    });
}
