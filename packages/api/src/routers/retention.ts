import { TRPCError } from "@trpc/server";
import { readRuntimeSettings } from "@hesaab/db";
import { planRetention, retentionRulesInForce, type RetentionRules } from "@hesaab/storage-ops";
import { startOperation } from "../operations";
import { actorOf, adminProcedure, router, type Context } from "../trpc";

/** The rules storage-svc applies now: the catalog's settings over the environment's (the same function storage-svc calls). */
async function rulesInForce(ctx: Context): Promise<RetentionRules> {
  if (!ctx.runtimeEnv) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the retention configuration is not available on this gateway" });
  return retentionRulesInForce(ctx.runtimeEnv, await readRuntimeSettings(ctx.db));
}

export const retentionRouter = router({
  /** The retention rules in force, and which of them the catalog's settings changed. */
  policy: adminProcedure.query(async ({ ctx }) => {
    const settings = await readRuntimeSettings(ctx.db);
    return { rules: await rulesInForce(ctx), overridden: Object.keys(settings).filter((k) => k.startsWith("retention.")) };
  }),
  /**
   * What retention would delete now, and what it keeps past expiry and why: `planRetention`, the
   * first half of what `apply` runs, over the catalog (no provider is touched, nothing is deleted).
   */
  preview: adminProcedure.query(async ({ ctx }) => {
    const rules = await rulesInForce(ctx);
    // unknown platform tenants: every tenant's last good backup is kept, as storage-svc does
    const activeTenants = ctx.existingTenants ? await ctx.existingTenants().catch(() => "all" as const) : ("all" as const);
    const { report } = await planRetention({ db: ctx.db, rules, dryRun: true, activeTenants });
    return { at: report.at, rules: report.rules, expired: report.expired, kept: report.kept };
  }),
  /**
   * Applies retention now on storage-svc (`storage.retention.requested.v1`); `storage.retention.applied.v1`
   * carries the operation id. Named `applyNow`: tRPC reserves `apply` (a router is callable).
   */
  applyNow: adminProcedure.mutation(({ ctx }) => {
    const actor = actorOf(ctx.admin);
    return startOperation(ctx, {
      type: "storage.retention.requested.v1",
      data: (operationId) => ({ operationId, requestedBy: actor }),
      audit: { actor, action: "retention.requested", targetType: "storage", targetId: "retention" },
    });
  }),
});
