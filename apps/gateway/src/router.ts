// The gateway's tRPC router. Only its *type* crosses to the SPAs (`import type { AppRouter }`).
import { initTRPC, TRPCError } from "@trpc/server";
import { and, desc, eq, isNotNull, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { HesaabError, isHesaabError } from "@hesaab/config";
import { alertId, tenantId } from "@hesaab/contracts";
import { alerts, auditLog, backupRecords, writeAudit, type CatalogDb } from "@hesaab/db";
import { ADMIN_ROLE, type AdminSession, type SessionVerdict, type TenantSession } from "@hesaab/session";

/** The roles whose users may ask for a customer self-backup unless CUSTOMER_EXPORT_ROLES says otherwise. */
export const DEFAULT_EXPORT_ROLES = ["owner", "admin"] as const;

/** A customer self-backup as the tenant app shows it. */
export interface ExportView {
  id: string;
  /** The session's own tenant. */
  tenantId: string;
  day: string;
  status: string;
  size: number | null;
  readyAt: string | null;
  expiresAt: string | null;
  downloads: number;
  /** The signed link, while the export can be downloaded. */
  downloadUrl: string | null;
}

/** Storage usage and its monthly cost, as the admin app shows it (from `storageAnalytics`, catalog only). */
export interface StorageView {
  at: string;
  currency: string;
  providers: { provider: string; bytes: number; objects: number; backups: number; monthlyCost: number; bytesPerDay: number }[];
  byType: { type: string; provider: string; bytes: number; backups: number }[];
  /** The tenants that take the most room (both providers together), largest first. */
  topTenants: { tenantId: string; bytes: number; backups: number }[];
  monthlyTotal: number;
  projection: { months: number; monthlyTotal: number }[];
}

/** A requested id "back up now" did not queue, and why (`invalid_tenant_id`, `not_a_tenant`, `tenant_not_active`). */
export interface TenantRefusalView {
  tenantId: string;
  code: string;
  message: string;
}

/** What "back up now" did: the tenants queued (one request on the bus), the ids refused with a sentence each. */
export interface BackupRequestAnswer {
  queued: string[];
  refused: TenantRefusalView[];
}

/** What the tenant app's export procedures need from the gateway (built in gateway.ts). */
export interface TenantExportsPort {
  /** Today's export for the session's tenant, queued for backup-svc; `export_daily_limit` when it already has one. */
  request(session: { tenantId: string; userId: string }): Promise<ExportView>;
  /** The tenant's exports, newest first, and whether today's (in the limit's time zone) was asked for. */
  list(tenantId: string): Promise<{ today: string; askedToday: boolean; exports: ExportView[] }>;
  /** The decrypted ZIP behind a download link (its tenant, export and token checked); `delivered()` counts and audits it once it was sent whole. */
  open(link: { tenantId: string; exportId: string; token: string }): Promise<{ fileName: string; stream: NodeJS.ReadableStream; delivered(): Promise<boolean> }>;
}

export interface Context {
  db: CatalogDb;
  /** Publishes a validated command (NATS); undefined when the gateway runs without a bus. */
  requestBackup?: ((input: { tenantIds: string[]; requestedBy: string }) => Promise<void>) | undefined;
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
  exports?: TenantExportsPort | undefined;
  /** The request's logger (Fastify's pino logger, set per request by the server). */
  log?: { error(obj: object, msg: string): void } | undefined;
  /** Storage analytics for the admin app (startGateway gives it); without it `storage.analytics` is SERVICE_UNAVAILABLE. */
  storage?: (() => Promise<StorageView>) | undefined;
}

const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error, ctx }) {
    const cause = error.cause;
    // An unexpected failure is logged here and told as one sentence: its message may hold SQL or paths.
    if (error.code === "INTERNAL_SERVER_ERROR" && !isHesaabError(cause)) {
      ctx?.log?.error({ err: cause ?? error, path: shape.data.path }, "gateway request failed");
      return { ...shape, message: "the request failed on our side; try again in a moment", data: { ...shape.data, stack: undefined, appCode: undefined } };
    }
    // no stack traces to clients, whatever NODE_ENV says
    return { ...shape, data: { ...shape.data, stack: undefined, appCode: isHesaabError(cause) ? cause.code : undefined } };
  },
});

/** No database connection free in time (`database_busy`) is SERVICE_UNAVAILABLE: nothing failed, the client may retry. */
const procedure = t.procedure.use(async ({ next }) => {
  const result = await next();
  const cause = result.ok ? undefined : result.error.cause;
  if (isHesaabError(cause, "database_busy")) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: cause.describe(), cause });
  return result;
});

/**
 * Procedures of the tenant app: the tenant is the one the session names, never an input, so tenant A
 * cannot reach tenant B's data by changing an id.
 */
const tenantProcedure = procedure.use(async ({ ctx, next }) => {
  if (!ctx.verifySession) throw new TRPCError({ code: "UNAUTHORIZED", message: "tenant sign-in is not configured on this gateway (TENANT_SESSION_SECRET, SESSION_PUBLIC_KEY or SESSION_JWKS_URL)" });
  const verdict = ctx.sessionToken ? await checkSession(ctx.verifySession, ctx.sessionToken) : undefined;
  if (!verdict || !("session" in verdict)) throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in again: the session is missing, not valid, expired or revoked" });
  return next({ ctx: { ...ctx, session: verdict.session } });
});

/**
 * Procedures of the admin app: every backup of every tenant, so a super admin's session is required
 * (`aud` hesaab-admin, role super_admin; a tenant session is not one). Without ADMIN_SESSION_SECRET
 * (or a public key / JWKS) the gateway serves none of them.
 */
const adminProcedure = procedure.use(async ({ ctx, next }) => {
  if (!ctx.verifyAdminSession) throw new TRPCError({ code: "UNAUTHORIZED", message: "admin sign-in is not configured on this gateway (ADMIN_SESSION_SECRET, SESSION_PUBLIC_KEY or SESSION_JWKS_URL)" });
  const verdict = ctx.sessionToken ? await checkSession(ctx.verifyAdminSession, ctx.sessionToken) : undefined;
  if (!verdict || !("session" in verdict)) throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in again: the admin session is missing, not valid, expired or revoked" });
  const admin = verdict.session;
  if (admin.role !== ADMIN_ROLE) {
    throw new TRPCError({ code: "FORBIDDEN", message: `the admin app is for super admins: this session's role is ${JSON.stringify(admin.role)}, not "${ADMIN_ROLE}"` });
  }
  return next({ ctx: { ...ctx, admin } });
});

/** A verdict on a session; keys that cannot be fetched (a JWKS down) are our side, said as such, not "sign in again". */
async function checkSession<S>(verify: (token: string) => Promise<S>, token: string): Promise<S> {
  try {
    return await verify(token);
  } catch (err) {
    if (isHesaabError(err, "session_keys_unavailable")) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: err.describe(), cause: err });
    throw err;
  }
}

/** Why a tenant user's role may not ask for a customer self-backup, or undefined when it may. */
function exportRoleRefusal(ctx: Context, role: string): HesaabError | undefined {
  const roles: readonly string[] = ctx.exportRoles ?? DEFAULT_EXPORT_ROLES;
  if (roles.includes(role)) return undefined;
  const allowed = roles.length > 0 ? roles.join(" or ") : "nobody";
  return new HesaabError({
    code: "export_role_required",
    message: `only ${allowed} can ask for a copy of your organisation's data (your role is ${role})`,
    hint: roles.includes("owner") ? "Ask an owner of your organisation to prepare it" : `Ask a user whose role is ${allowed} to prepare it`,
  });
}

function exportsPort(ctx: Context): TenantExportsPort {
  if (!ctx.exports) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "customer exports are not available on this gateway" });
  return ctx.exports;
}

/** A refusal the user can act on (the daily limit, a tenant that cannot export) as its tRPC code, with the message and `appCode`. */
function asTrpcError(err: unknown): unknown {
  if (!isHesaabError(err)) return err;
  const code = err.code === "export_daily_limit" ? "TOO_MANY_REQUESTS" : err.code.startsWith("tenant_") || err.code === "export_role_required" ? "FORBIDDEN" : undefined;
  return code ? new TRPCError({ code, message: err.describe(), cause: err }) : err;
}

/** Who an admin is in the audit trail and on the bus. */
const actorOf = (admin: { userId: string }): string => `admin:${admin.userId}`.slice(0, 200);

/** Acknowledges or resolves an open alert in the admin's name (audited); NOT_FOUND for an unknown or already resolved one. */
async function settleAlert(ctx: Context & { admin: { userId: string } }, o: { id: string; as: "acknowledged" | "resolved" }): Promise<{ id: string }> {
  const by = actorOf(ctx.admin);
  const now = new Date();
  const changed = await ctx.db
    .update(alerts)
    // the first admin to acknowledge stays the one who did
    .set({ acknowledgedAt: sql`coalesce(${alerts.acknowledgedAt}, ${now})`, acknowledgedBy: sql`coalesce(${alerts.acknowledgedBy}, ${by})`, ...(o.as === "resolved" ? { resolvedAt: now } : {}) })
    .where(and(eq(alerts.id, o.id), isNull(alerts.resolvedAt)))
    .returning({ id: alerts.id, context: alerts.context });
  if (!changed[0]) throw new TRPCError({ code: "NOT_FOUND", message: `alert ${o.id} is not open (unknown, or resolved already)` });
  const tenant = changed[0].context.tenantId;
  await writeAudit(ctx.db, { actor: by, action: `alert.${o.as}`, targetType: "alert", targetId: o.id, tenantId: typeof tenant === "string" ? tenant : null });
  return { id: o.id };
}

export const appRouter = t.router({
  health: procedure.query(() => ({ ok: true as const, at: new Date().toISOString() })),
  admin: t.router({
    me: adminProcedure.query(({ ctx }) => ({ userId: ctx.admin.userId, role: ctx.admin.role })),
  }),
  backups: t.router({
    list: adminProcedure
      .input(z.object({ tenantId: tenantId.optional(), limit: z.number().int().min(1).max(500).default(100) }))
      .query(async ({ ctx, input }) => {
        const rows = await ctx.db
          .select()
          .from(backupRecords)
          .where(input.tenantId ? eq(backupRecords.tenantId, input.tenantId) : undefined)
          .orderBy(desc(backupRecords.createdAt))
          .limit(input.limit);
        return rows.map((r) => ({
          id: r.id,
          type: r.backupType,
          tenantId: r.tenantId,
          status: r.status,
          verification: r.verificationStatus,
          size: r.fileSize,
          createdAt: r.createdAt.toISOString(),
          expiresAt: r.expiresAt?.toISOString() ?? null,
          providers: Object.fromEntries(Object.entries(r.providers).map(([p, c]) => [p, c.status])),
        }));
      }),
    /**
     * Queues an on-demand backup of the tenants among `tenantIds` that may be backed up; the others
     * are answered per id, not queued. All refused is an answer too (nothing queued), not an error:
     * the admin app shows each refused id with its reason. The audit entry lists both.
     */
    create: adminProcedure.input(z.object({ tenantIds: z.array(z.string().max(200)).min(1).max(10_000) })).mutation(async ({ ctx, input }): Promise<BackupRequestAnswer> => {
      if (!ctx.requestBackup) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the event bus is not connected" });
      if (!ctx.screenTenants) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the platform database is not connected: tenants cannot be checked" });
      const requestedBy = actorOf(ctx.admin);
      const { accepted, refused } = await ctx.screenTenants(input.tenantIds);
      if (accepted.length > 0) await ctx.requestBackup({ tenantIds: accepted, requestedBy });
      const only = accepted.length + refused.length === 1 ? (accepted[0] ?? refused[0]!.tenantId) : undefined;
      // queued: an audit row that cannot be written is logged, not reported as a failure the admin would retry (and queue twice)
      await writeAudit(ctx.db, {
        actor: requestedBy,
        action: "backup.request",
        targetType: "tenant_backup",
        targetId: only ?? `${accepted.length} tenants`,
        tenantId: only && accepted.length === 1 ? only : null,
        outcome: accepted.length > 0 ? "ok" : "refused",
        details: { tenantIds: accepted, refused: refused.map((r) => ({ tenantId: r.tenantId, code: r.code })) },
      }).catch((err: unknown) => {
        process.stderr.write(`${JSON.stringify({ level: "error", msg: "audit entry not written", action: "backup.request", actor: requestedBy, error: err instanceof Error ? err.message : String(err) })}\n`);
      });
      return { queued: accepted, refused };
    }),
  }),
  storage: t.router({
    analytics: adminProcedure.query(({ ctx }) => {
      if (!ctx.storage) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "storage analytics are not available on this gateway" });
      return ctx.storage();
    }),
  }),
  alerts: t.router({
    list: adminProcedure.input(z.object({ resolved: z.boolean().default(false), limit: z.number().int().min(1).max(500).default(100) })).query(async ({ ctx, input }) => {
      const rows = await ctx.db
        .select()
        .from(alerts)
        .where(input.resolved ? isNotNull(alerts.resolvedAt) : isNull(alerts.resolvedAt))
        .orderBy(desc(alerts.raisedAt))
        .limit(input.limit);
      return rows.map((a) => ({
        id: a.id,
        raisedAt: a.raisedAt.toISOString(),
        severity: a.severity,
        code: a.code,
        message: a.message,
        tenantId: typeof a.context.tenantId === "string" ? a.context.tenantId : null,
        acknowledgedAt: a.acknowledgedAt?.toISOString() ?? null,
        acknowledgedBy: a.acknowledgedBy,
        resolvedAt: a.resolvedAt?.toISOString() ?? null,
      }));
    }),
    /** "Someone is on it": the alert stays open until resolved. */
    acknowledge: adminProcedure.input(z.object({ id: alertId })).mutation(({ ctx, input }) => settleAlert(ctx, { id: input.id, as: "acknowledged" })),
    /** Closed: it leaves the open list. */
    resolve: adminProcedure.input(z.object({ id: alertId })).mutation(({ ctx, input }) => settleAlert(ctx, { id: input.id, as: "resolved" })),
  }),
  audit: t.router({
    list: adminProcedure.input(z.object({ tenantId: tenantId.optional(), limit: z.number().int().min(1).max(500).default(100) })).query(async ({ ctx, input }) => {
      const rows = await ctx.db
        .select()
        .from(auditLog)
        .where(input.tenantId ? eq(auditLog.tenantId, input.tenantId) : undefined)
        .orderBy(desc(auditLog.at), desc(auditLog.id))
        .limit(input.limit);
      return rows.map((r) => ({ id: r.id, at: r.at.toISOString(), actor: r.actor, action: r.action, targetType: r.targetType, targetId: r.targetId, tenantId: r.tenantId, outcome: r.outcome }));
    }),
  }),
  tenant: t.router({
    /** Who the session names, and whether their role may ask for a self-backup (if not, the sentence that says why). */
    me: tenantProcedure.query(({ ctx }) => {
      const refusal = exportRoleRefusal(ctx, ctx.session.role);
      return { tenantId: ctx.session.tenantId, userId: ctx.session.userId, role: ctx.session.role, canExport: !refusal, exportRefusal: refusal?.describe() ?? null };
    }),
    exports: t.router({
      list: tenantProcedure.query(({ ctx }) => exportsPort(ctx).list(ctx.session.tenantId)),
      request: tenantProcedure.mutation(async ({ ctx }) => {
        try {
          const refusal = exportRoleRefusal(ctx, ctx.session.role);
          if (refusal) throw refusal;
          return await exportsPort(ctx).request(ctx.session);
        } catch (err) {
          throw asTrpcError(err);
        }
      }),
    }),
  }),
});

export type AppRouter = typeof appRouter;
