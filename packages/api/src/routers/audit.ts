import { z } from "zod";
import { tenantId } from "@hesaab/contracts";
import { listAuditEntries } from "@hesaab/db";
import { adminProcedure, router } from "../trpc";

export const auditRouter = router({
  list: adminProcedure
    .input(z.object({ tenantId: tenantId.optional(), limit: z.number().int().min(1).max(500).default(100) }))
    .query(async ({ ctx, input }) => {
      const rows = await listAuditEntries(ctx.db, input);
      return rows.map((r) => ({
        id: r.id,
        at: r.at.toISOString(),
        actor: r.actor,
        action: r.action,
        targetType: r.targetType,
        targetId: r.targetId,
        tenantId: r.tenantId,
        outcome: r.outcome,
      }));
    }),
});
