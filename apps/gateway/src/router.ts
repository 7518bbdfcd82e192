// The gateway's tRPC router. Only its *type* crosses to the SPAs (`import type { AppRouter }`).
import { initTRPC, TRPCError } from "@trpc/server";
import { and, desc, eq, isNotNull, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { isHesaabError } from "@hesaab/config";
import { alertId, tenantId } from "@hesaab/contracts";
import { alerts, auditLog, backupRecords, writeAudit, type CatalogDb } from "@hesaab/db";

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
  requestBackup?: (input: { tenantIds: string[]; requestedBy: string }) => Promise<void>;
  /** Checks a tenant session token (TENANT_SESSION_SECRET); undefined when tenant sign-in is not configured. */
  verifySession?: (token: string) => { tenantId: string; userId: string } | undefined;
  /** Checks an admin session token (ADMIN_SESSION_SECRET); undefined when admin sign-in is not configured. */
  verifyAdminSession?: (token: string) => { userId: string } | undefined;
  /** The request's `Authorization: Bearer …` token, if any (set per request by the server). */
  sessionToken?: string;
  exports?: TenantExportsPort;
  /** The request's logger (Fastify's pino logger, set per request by the server). */
  log?: { error(obj: object, msg: string): void };
  /** Storage analytics for the admin app (startGateway gives it); without it `storage.analytics` is SERVICE_UNAVAILABLE. */
  storage?: () => Promise<StorageView>;
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
const tenantProcedure = procedure.use(({ ctx, next }) => {
  if (!ctx.verifySession) throw new TRPCError({ code: "UNAUTHORIZED", message: "tenant sign-in is not configured on this gateway (TENANT_SESSION_SECRET)" });
  const session = ctx.sessionToken ? ctx.verifySession(ctx.sessionToken) : undefined;
  if (!session) throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in again: the session is missing, not valid or expired" });
  return next({ ctx: { ...ctx, session } });
});

/**
 * Procedures of the admin app: every backup of every tenant, so a super admin's session is required
 * (a tenant session is not one). Without ADMIN_SESSION_SECRET the gateway serves none of them.
 */
const adminProcedure = procedure.use(({ ctx, next }) => {
  if (!ctx.verifyAdminSession) throw new TRPCError({ code: "UNAUTHORIZED", message: "admin sign-in is not configured on this gateway (ADMIN_SESSION_SECRET)" });
  const admin = ctx.sessionToken ? ctx.verifyAdminSession(ctx.sessionToken) : undefined;
  if (!admin) throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in again: the admin session is missing, not valid or expired" });
  return next({ ctx: { ...ctx, admin } });
});

function exportsPort(ctx: Context): TenantExportsPort {
  if (!ctx.exports) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "customer exports are not available on this gateway" });
  return ctx.exports;
}

/** A refusal the user can act on (the daily limit, a tenant that cannot export) as its tRPC code, with the message and `appCode`. */
function asTrpcError(err: unknown): unknown {
  if (!isHesaabError(err)) return err;
  const code = err.code === "export_daily_limit" ? "TOO_MANY_REQUESTS" : err.code.startsWith("tenant_") ? "FORBIDDEN" : undefined;
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
    me: adminProcedure.query(({ ctx }) => ({ userId: ctx.admin.userId })),
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
    create: adminProcedure.input(z.object({ tenantIds: z.array(tenantId).min(1).max(10_000) })).mutation(async ({ ctx, input }) => {
      if (!ctx.requestBackup) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the event bus is not connected" });
      const requestedBy = actorOf(ctx.admin);
      await ctx.requestBackup({ tenantIds: input.tenantIds, requestedBy });
      // queued: an audit row that cannot be written is logged, not reported as a failure the admin would retry (and queue twice)
      await writeAudit(ctx.db, {
        actor: requestedBy,
        action: "backup.request",
        targetType: "tenant_backup",
        targetId: input.tenantIds.length === 1 ? input.tenantIds[0]! : `${input.tenantIds.length} tenants`,
        tenantId: input.tenantIds.length === 1 ? input.tenantIds[0]! : null,
        details: { tenantIds: input.tenantIds },
      }).catch((err: unknown) => {
        process.stderr.write(`${JSON.stringify({ level: "error", msg: "audit entry not written", action: "backup.request", actor: requestedBy, error: err instanceof Error ? err.message : String(err) })}\n`);
      });
      return { queued: input.tenantIds.length };
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
    me: tenantProcedure.query(({ ctx }) => ({ tenantId: ctx.session.tenantId, userId: ctx.session.userId })),
    exports: t.router({
      list: tenantProcedure.query(({ ctx }) => exportsPort(ctx).list(ctx.session.tenantId)),
      request: tenantProcedure.mutation(async ({ ctx }) => {
        try {
          return await exportsPort(ctx).request(ctx.session);
        } catch (err) {
          throw asTrpcError(err);
        }
      }),
    }),
  }),
});

export type AppRouter = typeof appRouter;
