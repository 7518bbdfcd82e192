import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { alertId } from "@hesaab/contracts";
import { listAlerts, settleAlert, writeAudit } from "@hesaab/db";
import { actorOf, adminProcedure, router, type Context } from "../trpc";

/** Acknowledges or resolves an open alert in the admin's name (audited); NOT_FOUND for an unknown or already resolved one. */
async function settle(ctx: Context & { admin: { userId: string } }, o: { id: string; as: "acknowledged" | "resolved" }): Promise<{ id: string }> {
  const by = actorOf(ctx.admin);
  const changed = await settleAlert(ctx.db, { id: o.id, as: o.as, by });
  if (!changed) throw new TRPCError({ code: "NOT_FOUND", message: `alert ${o.id} is not open (unknown, or resolved already)` });
  const tenant = changed.context.tenantId;
  await writeAudit(ctx.db, { actor: by, action: `alert.${o.as}`, targetType: "alert", targetId: o.id, tenantId: typeof tenant === "string" ? tenant : null });
  return { id: o.id };
}

export const alertsRouter = router({
  list: adminProcedure
    .input(z.object({ resolved: z.boolean().default(false), limit: z.number().int().min(1).max(500).default(100) }))
    .query(async ({ ctx, input }) => {
      const rows = await listAlerts(ctx.db, input);
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
        occurrences: a.occurrences,
        lastRaisedAt: a.lastRaisedAt?.toISOString() ?? null,
      }));
    }),
  /** Where alerts are delivered (storage-svc sends them): each configured channel's kind and target, never its secret. */
  channels: adminProcedure.query(({ ctx }) => ({ channels: (ctx.alertChannels ?? []).map((c) => ({ kind: c.kind, target: c.target })) })),
  /** "Someone is on it": the alert stays open until resolved. */
  acknowledge: adminProcedure.input(z.object({ id: alertId })).mutation(({ ctx, input }) => settle(ctx, { id: input.id, as: "acknowledged" })),
  /** Closed: it leaves the open list. */
  resolve: adminProcedure.input(z.object({ id: alertId })).mutation(({ ctx, input }) => settle(ctx, { id: input.id, as: "resolved" })),
});
