// `hesaab tenant session <tenantId>` and `hesaab admin session`: signed sessions, as HesaabPlus's
// logins would hand its two apps, for development, the demo, support and operators. Each needs the
// secret the gateway checks that kind with (TENANT_SESSION_SECRET, ADMIN_SESSION_SECRET).
import type { Command } from "commander";
import { MAX_ADMIN_SESSION_HOURS, signAdminSession, signTenantSession } from "@hesaab/crypto";
import { adminSessionEnv, tenantSessionEnv } from "../env";
import { positiveInt, usageError } from "../options";
import { printJson } from "../output";

export interface SessionLink {
  token: string;
  /** The app's URL that signs in with the token (carried in the fragment, which browsers never send). */
  url: string;
  expiresAt: string;
}

const link = (o: { port: number; app: "app" | "admin"; token: string; expiresAt: Date }): SessionLink => ({
  token: o.token,
  url: `http://127.0.0.1:${o.port}/${o.app}/#session=${o.token}`,
  expiresAt: o.expiresAt.toISOString(),
});

/** A session token for a user of `tenantId` and the tenant app's URL that signs in with it. */
export function tenantSessionLink(o: { tenantId: string; userId: string; minutes: number }, env: ReturnType<typeof tenantSessionEnv> = tenantSessionEnv()): SessionLink {
  const expiresAt = new Date(Date.now() + o.minutes * 60_000);
  const token = signTenantSession({ tenantId: o.tenantId, userId: o.userId, expiresAt }, Buffer.from(env.TENANT_SESSION_SECRET, "utf8"));
  return link({ port: env.GATEWAY_PORT, app: "app", token, expiresAt });
}

/** A super admin's session token and the admin app's URL that signs in with it. */
export function adminSessionLink(o: { userId: string; minutes: number }, env: ReturnType<typeof adminSessionEnv> = adminSessionEnv()): SessionLink {
  const expiresAt = new Date(Date.now() + o.minutes * 60_000);
  const token = signAdminSession({ userId: o.userId, expiresAt }, Buffer.from(env.ADMIN_SESSION_SECRET, "utf8"));
  return link({ port: env.GATEWAY_PORT, app: "admin", token, expiresAt });
}

function printLink(l: SessionLink, json: boolean | undefined): void {
  if (json) return printJson(l);
  process.stdout.write(`${l.url}\n(valid until ${l.expiresAt})\n`);
}

export function registerSessions(program: Command): void {
  program
    .command("tenant")
    .description("the tenant app's side")
    .command("session")
    .description("sign a tenant session (what HesaabPlus's login does) and print the tenant app's sign-in link")
    .argument("<tenantId>", "the tenant")
    .option("--user <id>", "the user it names", "support")
    .option("--minutes <n>", "valid for", positiveInt, 60)
    .option("--json", "print the token, link and expiry as JSON")
    .action((tenantId: string, opts: { user: string; minutes: number; json?: boolean }) => printLink(tenantSessionLink({ tenantId, userId: opts.user, minutes: opts.minutes }), opts.json));
  program
    .command("admin")
    .description("the admin app's side")
    .command("session")
    .description("sign a super admin's session (what HesaabPlus's admin login does) and print the admin app's sign-in link")
    .requiredOption("--user <id>", "who signs in (recorded as the actor of what they do: admin:<id>)")
    .option("--minutes <n>", `valid for (at most ${MAX_ADMIN_SESSION_HOURS * 60})`, positiveInt, 60)
    .option("--json", "print the token, link and expiry as JSON")
    .action((opts: { user: string; minutes: number; json?: boolean }) => {
      if (opts.minutes > MAX_ADMIN_SESSION_HOURS * 60) throw usageError(`an admin session lasts at most ${MAX_ADMIN_SESSION_HOURS} hours (--minutes ${MAX_ADMIN_SESSION_HOURS * 60})`, "Sign a new one when it runs out");
      printLink(adminSessionLink({ userId: opts.user, minutes: opts.minutes }), opts.json);
    });
}
