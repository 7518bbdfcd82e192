// The gateway's tRPC router. Only its *type* crosses to the SPAs (`import type { AppRouter }`).
import { initTRPC, TRPCError } from "@trpc/server";
import { desc, eq } from "drizzle-orm";
import { z } from "zod";
import { isHesaabError } from "@hesaab/config";
import { tenantId } from "@hesaab/contracts";
import { backupRecords, type CatalogDb } from "@hesaab/db";

export interface Context {
  db: CatalogDb;
  /** Publishes a validated command (NATS); undefined when the gateway runs without a bus. */
  requestBackup?: (input: { tenantIds: string[]; requestedBy: string }) => Promise<void>;
}

const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    return { ...shape, data: { ...shape.data, appCode: isHesaabError(cause) ? cause.code : undefined } };
  },
});

export const appRouter = t.router({
  health: t.procedure.query(() => ({ ok: true as const, at: new Date().toISOString() })),
  backups: t.router({
    list: t.procedure
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
    create: t.procedure.input(z.object({ tenantIds: z.array(tenantId).min(1) })).mutation(async ({ ctx, input }) => {
      if (!ctx.requestBackup) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the event bus is not connected" });
      await ctx.requestBackup({ tenantIds: input.tenantIds, requestedBy: "admin" });
      return { queued: input.tenantIds.length };
    }),
  }),
});

export type AppRouter = typeof appRouter;
