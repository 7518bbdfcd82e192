import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { tenantId } from "@hesaab/contracts";
import { listBackupRecords, writeAudit } from "@hesaab/db";
import { actorOf, adminProcedure, router, type TenantRefusalView } from "../trpc";

/** What "back up now" did: the tenants queued (one request on the bus), the ids refused with a sentence each. */
export interface BackupRequestAnswer {
  queued: string[];
  refused: TenantRefusalView[];
  /** The request's id when anything was queued: follow it with `progress.operation` ({ kind: "backup", operationId, tenantIds: queued }). */
  operationId?: string;
}

export const backupsRouter = router({
  list: adminProcedure
    .input(z.object({ tenantId: tenantId.optional(), limit: z.number().int().min(1).max(500).default(100) }))
    .query(async ({ ctx, input }) => {
      const rows = await listBackupRecords(ctx.db, { ...(input.tenantId ? { tenantId: input.tenantId } : {}), limit: input.limit });
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
  create: adminProcedure
    .input(z.object({ tenantIds: z.array(z.string().max(200)).min(1).max(10_000) }))
    .mutation(async ({ ctx, input }): Promise<BackupRequestAnswer> => {
      if (!ctx.requestBackup) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the event bus is not connected" });
      if (!ctx.screenTenants)
        throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the platform database is not connected: tenants cannot be checked" });
      const requestedBy = actorOf(ctx.admin);
      const { accepted, refused } = await ctx.screenTenants(input.tenantIds);
      const queued = accepted.length > 0 ? await ctx.requestBackup({ tenantIds: accepted, requestedBy }) : undefined;
      const only = accepted.length + refused.length === 1 ? (accepted[0] ?? refused[0]!.tenantId) : undefined;
      // queued: an audit row that cannot be written is logged, not reported as a failure the admin would retry (and queue twice)
      await writeAudit(ctx.db, {
        actor: requestedBy,
        action: "backup.request",
        targetType: "tenant_backup",
        targetId: only ?? `${accepted.length} tenants`,
        tenantId: only && accepted.length === 1 ? only : null,
        outcome: accepted.length > 0 ? "ok" : "refused",
        details: { tenantIds: accepted, refused: refused.map((r) => ({ tenantId: r.tenantId, code: r.code })), operationId: queued?.operationId ?? null },
      }).catch((err: unknown) => {
        process.stderr.write(
          `${JSON.stringify({ level: "error", msg: "audit entry not written", action: "backup.request", actor: requestedBy, error: err instanceof Error ? err.message : String(err) })}\n`,
        );
      });
      return { queued: accepted, refused, ...(queued ? { operationId: queued.operationId } : {}) };
    }),
});
