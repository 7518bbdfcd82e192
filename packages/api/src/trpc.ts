// tRPC's one instance for the API: the context every procedure sees, how errors reach the apps, and
// the three kinds of procedure (open, tenant, admin). The gateway builds the context per request.
import { initTRPC, TRPCError } from "@trpc/server";
import type { OpenApiMeta } from "trpc-to-openapi";
import { isHesaabError, type MasterKeySet } from "@hesaab/config";
import type { DataInput, MessageType } from "@hesaab/contracts";
import type { CatalogDb } from "@hesaab/db";
import { ADMIN_ROLE, type AdminSession, type SessionVerdict, type TenantSession } from "@hesaab/session";
import type { AlertChannelView, RetentionEnv } from "@hesaab/storage-ops";
import type { CustomerExportLinks, TenantDirectoryPage } from "@hesaab/tenant-backup";
import { errorBodyOf, INTERNAL_MESSAGE } from "./errors";
import type { ReadEvents } from "./progress";
import type { StorageView } from "./storage-view";

/** A requested id "back up now" did not queue, and why (`invalid_tenant_id`, `not_a_tenant`, `tenant_not_active`). */
export interface TenantRefusalView {
  tenantId: string;
  code: string;
  message: string;
}

/**
 * Publishes a command on the bus (validated against its contract) for the service that owns the work;
 * resolves with the message id, which is the operation's id unless the data names one. `msgId` makes a
 * retried request one message (JetStream's duplicate window).
 */
export type SendCommand = <T extends MessageType>(type: T, data: DataInput<T>, opts?: { msgId?: string }) => Promise<{ id: string }>;

export interface Context {
  db: CatalogDb;
  /** Starts long work: a procedure never runs a backup, restore or verification itself. Undefined without a bus. */
  send?: SendCommand | undefined;
  /** Publishes a validated command (NATS); undefined when the gateway runs without a bus. */
  requestBackup?: ((input: { tenantIds: string[]; requestedBy: string }) => Promise<void | { operationId: string }>) | undefined;
  /** Reads events from the event stream (the bus's `readEvents`): live progress. Undefined without a bus. */
  events?: ReadEvents | undefined;
  /** Which requested ids are tenants of the platform that may be backed up (one query on the platform database); undefined without it. */
  screenTenants?: ((tenantIds: string[]) => Promise<{ accepted: string[]; refused: TenantRefusalView[] }>) | undefined;
  /** Checks a tenant session (a JWT for `hesaab-tenant`, revocation included); undefined when tenant sign-in is not configured. */
  verifySession?: ((token: string) => Promise<SessionVerdict<TenantSession>>) | undefined;
  /** Checks an admin session (a JWT for `hesaab-admin`, revocation included); undefined when admin sign-in is not configured. */
  verifyAdminSession?: ((token: string) => Promise<SessionVerdict<AdminSession>>) | undefined;
  /** The tenant roles that may ask for a customer self-backup (CUSTOMER_EXPORT_ROLES); `DEFAULT_EXPORT_ROLES` when absent. */
  exportRoles?: readonly string[] | undefined;
  /** The request's `Authorization: Bearer …` token, if any (set per request by the server). */
  sessionToken?: string | undefined;
  /** The tenant app's self-backups and their signed links (`customerExportLinks` of @hesaab/tenant-backup). */
  exports?: CustomerExportLinks | undefined;
  /** The request's logger (Fastify's pino logger, set per request by the server). */
  log?: { error(obj: object, msg: string): void } | undefined;
  /** One page of the platform's tenants (`tenantDirectory` of @hesaab/tenant-backup); without it `tenants.list` is SERVICE_UNAVAILABLE. */
  tenantDirectory?:
    | ((q: {
        limit: number;
        cursor?: string | undefined;
        search?: string | undefined;
        status?: string | undefined;
        /** Highest figure first (the catalog's, per tenant id), then key order. */
        rank?: { ids: string[]; values: number[] } | undefined;
      }) => Promise<TenantDirectoryPage>)
    | undefined;
  /** A tenant's rows per table now (`tenantRowCounts` of @hesaab/tenant-backup); without it `tenants.rows` is SERVICE_UNAVAILABLE. */
  tenantRows?: ((tenantId: string) => Promise<Record<string, number>>) | undefined;
  /** The platform's tenants whose last good backup retention keeps (`platformTenants` of @hesaab/storage-ops); "all" when unknown. */
  existingTenants?: (() => Promise<string[]>) | undefined;
  /** The environment's retention rules and deep-verify percent (the catalog's settings override them); without it retention and settings are SERVICE_UNAVAILABLE. */
  runtimeEnv?: (RetentionEnv & { STORAGE_DEEP_VERIFY_PERCENT: number }) | undefined;
  /**
   * Refuses (with a DrError) a disaster restore's target the platform runs on, one that cannot be
   * reached, or one that is not empty unless allowed (`checkDisasterTarget` of @hesaab/dr against the
   * gateway's own databases); without it `dr.restore` is SERVICE_UNAVAILABLE.
   */
  checkDisasterTarget?: ((o: { targetDb: string; allowNonEmpty: boolean }) => Promise<void>) | undefined;
  /** Storage analytics for the admin app (the gateway gives `storageView`); without it `storage.analytics` is SERVICE_UNAVAILABLE. */
  storage?: (() => Promise<StorageView>) | undefined;
  /** The alert channels configured (kind and target, never a secret: `alertChannelsView` of @hesaab/storage-ops); undefined: none. */
  alertChannels?: readonly AlertChannelView[] | undefined;
  /** Drill reports: DR_MASTER_KEYS (records are verified under it) and the drill window; without it `drills.report` is SERVICE_UNAVAILABLE. */
  drills?: { keys: MasterKeySet; windowDays: number } | undefined;
}

// meta: a procedure served on a REST path too says so with `.meta({ openapi: { method, path, protect, tags, summary } })`
const t = initTRPC
  .context<Context>()
  .meta<OpenApiMeta>()
  .create({
    // subscriptions (SSE): a ping keeps proxies from closing a quiet stream; a client that hears nothing for long reconnects (with its last event id)
    sse: { ping: { enabled: true, intervalMs: 15_000 }, client: { reconnectAfterInactivityMs: 45_000 } },
    // every error carries the API's one shape in `data.error` (a REST call's body is the same object); `appCode` is its code, as the apps read it
    errorFormatter({ shape, error, ctx }) {
      const body = errorBodyOf(error);
      // An unexpected failure is logged here and told as one sentence: its message may hold SQL or paths.
      if (error.code === "INTERNAL_SERVER_ERROR" && !isHesaabError(error.cause)) {
        ctx?.log?.error({ err: error.cause ?? error, path: shape.data.path }, "gateway request failed");
        return { ...shape, message: INTERNAL_MESSAGE, data: { ...shape.data, stack: undefined, appCode: body.code, error: body } };
      }
      // no stack traces to clients, whatever NODE_ENV says
      return { ...shape, data: { ...shape.data, stack: undefined, appCode: body.code, error: body } };
    },
  });

export const router = t.router;

/** No database connection free in time (`database_busy`) is SERVICE_UNAVAILABLE: nothing failed, the client may retry. */
export const procedure = t.procedure.use(async ({ next }) => {
  const result = await next();
  const cause = result.ok ? undefined : result.error.cause;
  if (isHesaabError(cause, "database_busy")) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: cause.describe(), cause });
  return result;
});

/**
 * Procedures of the tenant app: the tenant is the one the session names, never an input, so tenant A
 * cannot reach tenant B's data by changing an id.
 */
export const tenantProcedure = procedure.use(async ({ ctx, next }) => {
  const session = await signedIn(ctx.verifySession, ctx.sessionToken, { secret: "TENANT_SESSION_SECRET", what: "the session" });
  return next({ ctx: { ...ctx, session } });
});

/**
 * Procedures of the admin app: every backup of every tenant, so a super admin's session is required
 * (`aud` hesaab-admin, role super_admin; a tenant session is not one). Without ADMIN_SESSION_SECRET
 * (or a public key / JWKS) the gateway serves none of them.
 */
export const adminProcedure = procedure.use(async ({ ctx, next }) => {
  const admin = await signedIn(ctx.verifyAdminSession, ctx.sessionToken, { secret: "ADMIN_SESSION_SECRET", what: "the admin session" });
  if (admin.role !== ADMIN_ROLE) {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: `the admin app is for super admins: this session's role is ${JSON.stringify(admin.role)}, not "${ADMIN_ROLE}"`,
    });
  }
  return next({ ctx: { ...ctx, admin } });
});

/** The session `token` names, checked by `verify` (one app's sign-in); UNAUTHORIZED, saying why, when sign-in is not configured or the session does not hold. */
async function signedIn<S extends AdminSession | TenantSession>(
  verify: ((token: string) => Promise<SessionVerdict<S>>) | undefined,
  token: string | undefined,
  o: { secret: "TENANT_SESSION_SECRET" | "ADMIN_SESSION_SECRET"; what: string },
): Promise<S> {
  if (!verify) {
    const app = o.secret === "ADMIN_SESSION_SECRET" ? "admin" : "tenant";
    throw new TRPCError({
      code: "UNAUTHORIZED",
      message: `${app} sign-in is not configured on this gateway (${o.secret}, SESSION_PUBLIC_KEY or SESSION_JWKS_URL)`,
    });
  }
  const verdict = token ? await checkSession(verify, token) : undefined;
  if (!verdict || !("session" in verdict))
    throw new TRPCError({ code: "UNAUTHORIZED", message: `sign in again: ${o.what} is missing, not valid, expired or revoked` });
  return verdict.session;
}

/** A verdict on a session; keys that cannot be fetched (a JWKS down) are our side, said as such, not "sign in again". */
async function checkSession<S>(verify: (token: string) => Promise<S>, token: string): Promise<S> {
  try {
    return await verify(token);
  } catch (err) {
    if (isHesaabError(err, "session_keys_unavailable")) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: err.describe(), cause: err });
    throw err;
  }
}

/** Who an admin is in the audit trail and on the bus. */
export const actorOf = (admin: { userId: string }): string => `admin:${admin.userId}`.slice(0, 200);
