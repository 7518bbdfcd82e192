import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { tenantId } from "@hesaab/contracts";
import { writeAudit } from "@hesaab/db";
import { startOperation } from "../operations";
import { actorOf, adminProcedure, router } from "../trpc";

export const keysRouter = router({
  /**
   * Key rotation on backup-svc (what `hesaab keys rotate` does): the tenants named, every tenant with
   * a key (`all`), or those whose key predates the highest master key (`behindMaster`). Answers the
   * operation id; `keys.rotated.v1` (or `keys.failed.v1`) carries it.
   */
  rotate: adminProcedure
    .input(
      z.object({
        tenantIds: z.array(tenantId).min(1).max(10_000).optional(),
        all: z.boolean().optional(),
        behindMaster: z.boolean().optional(),
        /** Retire the older key versions once every sidecar is re-wrapped (default). */
        retire: z.boolean().default(true),
      }),
    )
    .mutation(({ ctx, input }) => {
      const chosen = [Boolean(input.tenantIds?.length), Boolean(input.all), Boolean(input.behindMaster)].filter(Boolean).length;
      if (chosen !== 1) throw new TRPCError({ code: "BAD_REQUEST", message: "give one of tenantIds, all: true or behindMaster: true" });
      const actor = actorOf(ctx.admin);
      const scope = input.tenantIds ? { tenantIds: input.tenantIds } : input.all ? { all: true } : { behindMaster: true };
      const only = input.tenantIds?.length === 1 ? input.tenantIds[0]! : undefined;
      return startOperation(ctx, {
        type: "keys.rotate.requested.v1",
        data: (operationId) => ({ operationId, ...scope, retire: input.retire, requestedBy: actor }),
        audit: {
          actor,
          action: "keys.rotate.requested",
          targetType: "tenant_keys",
          targetId: only ?? (input.tenantIds ? `${input.tenantIds.length} tenants` : input.all ? "all" : "behind master"),
          tenantId: only ?? null,
          details: { ...scope, retire: input.retire },
        },
      });
    }),
  /**
   * Crypto-shredding of one tenant on backup-svc (what `hesaab keys shred` does): every backup of the
   * tenant becomes unreadable, for good. `confirm` must be the tenant id typed again; anything else
   * is refused (and the refusal audited) before anything is asked of backup-svc.
   */
  shred: adminProcedure.input(z.object({ tenantId, confirm: z.string().max(200) })).mutation(async ({ ctx, input }) => {
    const actor = actorOf(ctx.admin);
    if (input.confirm !== input.tenantId) {
      await writeAudit(ctx.db, {
        actor,
        action: "keys.shred.requested",
        targetType: "tenant_keys",
        targetId: input.tenantId,
        tenantId: input.tenantId,
        outcome: "refused",
        details: { reason: "confirmation token does not match the tenant id" },
      });
      throw new TRPCError({
        code: "BAD_REQUEST",
        message: `shredding ${input.tenantId} cannot be undone: type the tenant id itself as the confirmation (confirm: "${input.tenantId}")`,
      });
    }
    return startOperation(ctx, {
      type: "keys.shred.requested.v1",
      data: (operationId) => ({ operationId, tenantId: input.tenantId, requestedBy: actor }),
      audit: { actor, action: "keys.shred.requested", targetType: "tenant_keys", targetId: input.tenantId, tenantId: input.tenantId },
    });
  }),
});
