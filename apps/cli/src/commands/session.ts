// `hesaab tenant session <tenantId>` and `hesaab admin session`: sessions as HesaabPlus's logins hand
// them to its two apps (HS256 JWTs, the claims of @hesaab/session), for development, the demo,
// support and operators. Each needs the secret the gateway checks that kind with
// (TENANT_SESSION_SECRET, ADMIN_SESSION_SECRET). `hesaab sessions revoke` ends one before its exp.
import { InvalidArgumentError, type Command } from "commander";
import { migrate, openCatalog } from "@hesaab/db";
import { ADMIN_ROLE, MAX_ADMIN_SESSION_HOURS, revokeSession, sessionTokenIds, signSession, type SessionKind } from "@hesaab/session";
import { adminSessionEnv, cliActor, sessionRevokeEnv, tenantSessionEnv } from "../env";
import { positiveNumber, usageError } from "../options";
import { printJson } from "../output";

export interface SessionLink {
  token: string;
  /** The app's URL that signs in with the token (carried in the fragment, which browsers never send). */
  url: string;
  /** The session's jti: what `hesaab sessions revoke` takes. */
  jti: string;
  expiresAt: string;
}

const link = (o: { port: number; app: "app" | "admin"; token: string; jti: string; expiresAt: Date }): SessionLink => ({
  token: o.token,
  url: `http://127.0.0.1:${o.port}/${o.app}/#session=${o.token}`,
  jti: o.jti,
  expiresAt: o.expiresAt.toISOString(),
});

/** A session token for a user of `tenantId` and the tenant app's URL that signs in with it. */
export async function tenantSessionLink(
  o: { tenantId: string; userId: string; role: string; hours: number },
  env: ReturnType<typeof tenantSessionEnv> = tenantSessionEnv(),
): Promise<SessionLink> {
  const signed = await signSession({
    kind: "tenant",
    ...o,
    secret: Buffer.from(env.TENANT_SESSION_SECRET, "utf8"),
    issuer: env.SESSION_ISSUER,
    tenantMaxHours: env.TENANT_SESSION_MAX_HOURS,
  });
  return link({ port: env.GATEWAY_PORT, app: "app", ...signed });
}

/** A super admin's session token and the admin app's URL that signs in with it. */
export async function adminSessionLink(
  o: { userId: string; role?: string; hours: number },
  env: ReturnType<typeof adminSessionEnv> = adminSessionEnv(),
): Promise<SessionLink> {
  const signed = await signSession({
    kind: "admin",
    ...o,
    role: o.role ?? ADMIN_ROLE,
    secret: Buffer.from(env.ADMIN_SESSION_SECRET, "utf8"),
    issuer: env.SESSION_ISSUER,
  });
  return link({ port: env.GATEWAY_PORT, app: "admin", ...signed });
}

function printLink(l: SessionLink, json: boolean | undefined): void {
  if (json) return printJson(l);
  process.stdout.write(`${l.url}\n(valid until ${l.expiresAt}; jti ${l.jti})\n`);
}

function sessionKind(value: string): SessionKind {
  if (value !== "admin" && value !== "tenant") throw new InvalidArgumentError("expected admin or tenant");
  return value;
}

export function registerSessions(program: Command): void {
  program
    .command("tenant")
    .description("the tenant app's side")
    .command("session")
    .description("sign a tenant session (what HesaabPlus's login does) and print the tenant app's sign-in link")
    .argument("<tenantId>", "the tenant")
    .option("--user <id>", "the user it names (sub)", "support")
    .option("--role <role>", "the user's role in the tenant (exports need one of CUSTOMER_EXPORT_ROLES: owner, admin)", "owner")
    .option("--hours <n>", "valid for (at most TENANT_SESSION_MAX_HOURS, 12 by default)", positiveNumber, 1)
    .option("--json", "print the token, link, jti and expiry as JSON")
    .action(async (tenantId: string, opts: { user: string; role: string; hours: number; json?: boolean }) => {
      const env = tenantSessionEnv();
      if (opts.hours > env.TENANT_SESSION_MAX_HOURS)
        throw usageError(`a tenant session lasts at most ${env.TENANT_SESSION_MAX_HOURS} hours (TENANT_SESSION_MAX_HOURS)`, "Sign a new one when it runs out");
      printLink(await tenantSessionLink({ tenantId, userId: opts.user, role: opts.role, hours: opts.hours }, env), opts.json);
    });
  program
    .command("admin")
    .description("the admin app's side")
    .command("session")
    .description("sign a super admin's session (what HesaabPlus's admin login does) and print the admin app's sign-in link")
    .requiredOption("--user <id>", "who signs in (recorded as the actor of what they do: admin:<id>)")
    .option("--role <role>", `the role it carries (the admin app needs ${ADMIN_ROLE})`, ADMIN_ROLE)
    .option("--hours <n>", `valid for (at most ${MAX_ADMIN_SESSION_HOURS})`, positiveNumber, 1)
    .option("--json", "print the token, link, jti and expiry as JSON")
    .action(async (opts: { user: string; role: string; hours: number; json?: boolean }) => {
      if (opts.hours > MAX_ADMIN_SESSION_HOURS)
        throw usageError(
          `an admin session lasts at most ${MAX_ADMIN_SESSION_HOURS} hours (--hours ${MAX_ADMIN_SESSION_HOURS})`,
          "Sign a new one when it runs out",
        );
      printLink(await adminSessionLink({ userId: opts.user, role: opts.role, hours: opts.hours }), opts.json);
    });
  program
    .command("sessions")
    .description("sessions of the two apps")
    .command("revoke")
    .description("end a session before it expires: the gateway refuses its jti from the next request on (audited)")
    .argument("<jti>", "the session's jti claim (or the token itself: its jti and kind are read from it)")
    .option("--kind <kind>", "admin or tenant: how long the revocation is kept (else as long as the longer of both)", sessionKind)
    .option("--reason <text>", "why, for the audit trail")
    .option("--json", "print the revocation as JSON")
    .action(async (arg: string, opts: { kind?: SessionKind; reason?: string; json?: boolean }) => {
      const fromToken = sessionTokenIds(arg.trim());
      const jti = fromToken?.jti ?? arg.trim();
      const kind = opts.kind ?? fromToken?.kind;
      const env = sessionRevokeEnv();
      await migrate({ url: env.catalogUrl });
      const catalog = openCatalog({ url: env.catalogUrl, max: 1 });
      try {
        const r = await revokeSession(catalog.db, {
          jti,
          ...(kind ? { kind } : {}),
          revokedBy: cliActor(),
          reason: opts.reason,
          tenantMaxHours: env.tenantMaxHours,
        });
        if (opts.json) return printJson({ ...r, revokedAt: r.revokedAt.toISOString(), expiresAt: r.expiresAt.toISOString() });
        process.stdout.write(
          `${r.already ? "already revoked" : "revoked"}  ${r.jti}  (${r.kind}, by ${r.revokedBy} at ${r.revokedAt.toISOString()}${r.reason ? `: ${r.reason}` : ""})\n`,
        );
      } finally {
        await catalog.close();
      }
    });
}
