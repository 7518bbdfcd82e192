import { tracked, TRPCError } from "@trpc/server";
import { z } from "zod";
import { exportId } from "@hesaab/contracts";
import type { CustomerExportLinks, CustomerExportView } from "@hesaab/tenant-backup";
import { ApiError, asTrpcError } from "../errors";
import { followOperation } from "../progress";
import { router, tenantProcedure, type Context } from "../trpc";
import { eventsOf, lastEventId } from "./progress";

/** The roles whose users may ask for a customer self-backup unless CUSTOMER_EXPORT_ROLES says otherwise. */
export const DEFAULT_EXPORT_ROLES = ["owner", "admin"] as const;

/** Why a tenant user's role may not ask for a customer self-backup, or undefined when it may. */
function exportRoleRefusal(ctx: Context, role: string): ApiError | undefined {
  const roles: readonly string[] = ctx.exportRoles ?? DEFAULT_EXPORT_ROLES;
  if (roles.includes(role)) return undefined;
  const allowed = roles.length > 0 ? roles.join(" or ") : "nobody";
  return new ApiError({
    code: "export_role_required",
    message: `only ${allowed} can ask for a copy of your organisation's data (your role is ${role})`,
    hint: roles.includes("owner") ? "Ask an owner of your organisation to prepare it" : `Ask a user whose role is ${allowed} to prepare it`,
  });
}

function exportsOf(ctx: Context): CustomerExportLinks {
  if (!ctx.exports) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "customer exports are not available on this gateway" });
  return ctx.exports;
}

/** A customer self-backup as the tenant app and the REST paths show it. */
const exportView = z
  .object({
    id: z.string(),
    tenantId: z.string().describe("The session's own tenant"),
    day: z.string().describe("The day it was asked for (YYYY-MM-DD, in the daily limit's time zone)"),
    status: z.string().describe("pending | running | ready | failed | expired"),
    size: z.number().nullable().describe("Bytes of the ZIP, once built"),
    readyAt: z.string().nullable(),
    expiresAt: z.string().nullable().describe("When the file is deleted"),
    downloads: z.number(),
    downloadUrl: z.string().nullable().describe("A signed link (minutes) to the ZIP, while it can be downloaded; relative to the gateway"),
  })
  .meta({ id: "CustomerExport" });

const exportList = z.object({
  today: z.string(),
  askedToday: z.boolean(),
  resetsAt: z.string().describe("When the next day begins in the daily limit's time zone (ISO): the next export may be asked for from then"),
  exports: z.array(exportView),
});

const exportStatus = z.object({
  today: z.string().describe("Today, in the daily limit's time zone"),
  dailyLimit: z.literal(1).describe("Exports a tenant may ask for per day"),
  askedToday: z.boolean(),
  resetsAt: z.string().describe("When the next day begins in the daily limit's time zone (ISO): the limit is free again from then"),
  canRequest: z.boolean().describe("Whether this session may ask for one now (its role, and today's limit)"),
  refusal: z.string().nullable().describe("Why not, as a sentence, when it may not"),
  latest: exportView.nullable().describe("The newest export, whatever its state"),
});

const exportLink = z.object({
  id: z.string(),
  downloadUrl: z.string().describe("A signed link to the ZIP, valid for minutes; relative to the gateway"),
  expiresAt: z.string().nullable(),
});

const TAGS = ["Tenant self-backup"];

/** The signed link of one of the tenant's exports, or why there is none (not the tenant's, not built yet, gone). */
function linkOf(e: CustomerExportView | undefined, exportId: string): z.infer<typeof exportLink> {
  if (!e)
    throw new ApiError({
      code: "export_unknown",
      message: `export ${exportId} not found`,
      hint: "Check the id in the history; exports are your organisation's only",
    });
  if (e.status === "pending" || e.status === "running") {
    throw new ApiError({
      code: "export_pending",
      message: `export ${exportId} is still being prepared`,
      hint: "Its status says when it is ready",
      retryable: true,
    });
  }
  if (!e.downloadUrl) {
    const why =
      e.status === "failed"
        ? "could not be prepared"
        : e.status === "expired" || (e.expiresAt && e.expiresAt <= new Date().toISOString())
          ? "has expired"
          : "cannot be downloaded any more";
    throw new ApiError({ code: "export_unavailable", message: `export ${exportId} ${why}`, hint: "Ask for a new export (one a day)" });
  }
  return { id: e.id, downloadUrl: e.downloadUrl, expiresAt: e.expiresAt };
}

export const tenantRouter = router({
  /** Who the session names, and whether their role may ask for a self-backup (if not, the sentence that says why). */
  me: tenantProcedure.query(({ ctx }) => {
    const refusal = exportRoleRefusal(ctx, ctx.session.role);
    return {
      tenantId: ctx.session.tenantId,
      userId: ctx.session.userId,
      role: ctx.session.role,
      canExport: !refusal,
      exportRefusal: refusal?.describe() ?? null,
    };
  }),
  exports: router({
    list: tenantProcedure
      .meta({ openapi: { method: "GET", path: "/api/tenant/backup/history", tags: TAGS, summary: "The tenant's exports, newest first (30 at most)" } })
      .output(exportList)
      .query(({ ctx }) => exportsOf(ctx).list(ctx.session.tenantId)),
    /** Today's limit and the newest export's state, for a caller that shows "ask" or "wait" or "download". */
    status: tenantProcedure
      .meta({ openapi: { method: "GET", path: "/api/tenant/backup/status", tags: TAGS, summary: "Today's limit and the newest export's state" } })
      .output(exportStatus)
      .query(async ({ ctx }) => {
        const { today, askedToday, resetsAt, exports } = await exportsOf(ctx).list(ctx.session.tenantId);
        const refusal = exportRoleRefusal(ctx, ctx.session.role)?.describe() ?? (askedToday ? "today's export was already asked for: one a day" : null);
        return { today, dailyLimit: 1 as const, askedToday, resetsAt, canRequest: refusal === null, refusal, latest: exports[0] ?? null };
      }),
    /** A fresh signed link to one of the session tenant's exports (the list's links expire within minutes). */
    download: tenantProcedure
      .meta({
        openapi: {
          method: "GET",
          path: "/api/tenant/backup/download/{backup_id}",
          tags: TAGS,
          summary: "A signed link to download one export",
          errorResponses: { 404: "No such export of this tenant", 409: "Still being prepared (retryable)", 410: "Failed, expired or downloaded too often" },
        },
      })
      .input(z.object({ backup_id: z.string().min(1).max(200).describe("The export's id (from the history or the create answer)") }))
      .output(exportLink)
      .query(async ({ ctx, input }) => {
        try {
          // the newest 30: one a day, and exports expire long before a month
          const { exports } = await exportsOf(ctx).list(ctx.session.tenantId);
          return linkOf(
            exports.find((e) => e.id === input.backup_id),
            input.backup_id,
          );
        } catch (err) {
          throw asTrpcError(err);
        }
      }),
    request: tenantProcedure
      .meta({
        openapi: {
          method: "POST",
          path: "/api/tenant/backup/create",
          tags: TAGS,
          summary: "Ask for today's export (one a day); it is built in the background",
        },
      })
      .output(exportView)
      .mutation(async ({ ctx }) => {
        try {
          const refusal = exportRoleRefusal(ctx, ctx.session.role);
          if (refusal) throw refusal;
          return await exportsOf(ctx).request(ctx.session);
        } catch (err) {
          throw asTrpcError(err);
        }
      }),
    /**
     * One of the session's own exports being built, over SSE: rows and tables so far, then ready or
     * failed. Whose export it is comes from the catalog (the session tenant's exports), never from input.
     */
    progress: tenantProcedure.input(z.object({ exportId, lastEventId })).subscription(async function* ({ ctx, input, signal }) {
      const read = eventsOf(ctx);
      const own = await exportsOf(ctx).list(ctx.session.tenantId);
      if (!own.exports.some((e) => e.id === input.exportId)) {
        throw new TRPCError({ code: "NOT_FOUND", message: `export ${input.exportId} is not one of your organisation's exports` });
      }
      for await (const view of followOperation(read, { kind: "export", operationId: input.exportId, lastEventId: input.lastEventId, signal })) {
        yield tracked(view.id, view);
      }
    }),
  }),
});
