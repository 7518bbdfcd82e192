import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { backupId, tenantId } from "@hesaab/contracts";
import { getBackupRecord, listBackupRecords, listVerifications } from "@hesaab/db";
import { startOperation } from "../operations";
import { actorOf, adminProcedure, router } from "../trpc";

const providerState = z.object({
  provider: z.string(),
  status: z.string(),
  verification: z.string().nullable(),
  verifiedAt: z.string().nullable(),
  deepVerifiedAt: z.string().nullable(),
  /** The newest check of this copy, keyless or deep. */
  lastCheck: z.object({ depth: z.string(), ok: z.boolean(), detail: z.string().nullable(), at: z.string() }).nullable(),
});

export const verificationRouter = router({
  /** Verification state per backup and provider, newest backups first: one backup, one tenant's, or every good one. */
  status: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/api/super-admin/storage/verification",
        protect: true,
        tags: ["storage"],
        summary: "Verification per backup and provider",
      },
    })
    .input(
      z.object({
        backupId: backupId.optional(),
        tenantId: tenantId.optional(),
        limit: z.coerce.number().int().min(1).max(500).default(100),
      }),
    )
    .output(
      z.object({
        backups: z.array(
          z.object({
            backupId: z.string(),
            tenantId: z.string().nullable(),
            type: z.string(),
            status: z.string(),
            verification: z.string(),
            verifiedAt: z.string().nullable(),
            providers: z.array(providerState),
          }),
        ),
      }),
    )
    .query(async ({ ctx, input }) => {
      const one = input.backupId ? await getBackupRecord(ctx.db, input.backupId) : undefined;
      const rows = input.backupId
        ? one
          ? [one]
          : []
        : await listBackupRecords(ctx.db, { ...(input.tenantId ? { tenantId: input.tenantId } : {}), statuses: ["completed", "degraded"], limit: input.limit });
      const checks = await listVerifications(ctx.db, { backupIds: rows.map((r) => r.id), limit: 20 * rows.length });
      return {
        backups: rows.map((r) => ({
          backupId: r.id,
          tenantId: r.tenantId,
          type: r.backupType,
          status: r.status,
          verification: r.verificationStatus,
          verifiedAt: r.verifiedAt?.toISOString() ?? null,
          providers: Object.entries(r.providers).map(([provider, c]) => {
            const last = checks.find((v) => v.backupId === r.id && v.provider === provider);
            return {
              provider,
              status: c.status,
              verification: c.verification ?? null,
              verifiedAt: c.verifiedAt ?? null,
              deepVerifiedAt: c.deepVerifiedAt ?? null,
              lastCheck: last ? { depth: last.depth, ok: last.ok, detail: last.detail, at: last.at.toISOString() } : null,
            };
          }),
        })),
      };
    }),
  /**
   * Starts a verification on storage-svc: one backup, every good backup of a tenant, or a deep
   * sample of `sample` percent; with none of them every good backup keyless (or, `deep`, the
   * configured sample). Answers the operation id; `storage.verify.completed.v1` carries it.
   */
  trigger: adminProcedure
    .meta({
      openapi: { method: "POST", path: "/api/super-admin/storage/verify", protect: true, tags: ["storage"], summary: "Verify a backup, a tenant or a sample" },
    })
    .input(
      z.object({
        backupId: backupId.optional(),
        tenantId: tenantId.optional(),
        /** Percent of the good backups to check deep (a sample). */
        sample: z.number().min(0).max(100).optional(),
        /** Decrypt and decompress every copy too (needs the keys on storage-svc). */
        deep: z.boolean().default(false),
      }),
    )
    .output(z.object({ operationId: z.string() }))
    .mutation(async ({ ctx, input }) => {
      const scopes = [input.backupId, input.tenantId, input.sample].filter((v) => v !== undefined).length;
      if (scopes > 1) throw new TRPCError({ code: "BAD_REQUEST", message: "give one of backupId, tenantId or sample (or none: every good backup)" });
      const actor = actorOf(ctx.admin);
      const deep = input.deep || input.sample !== undefined;
      return startOperation(ctx, {
        type: "storage.verify.requested.v1",
        data: (operationId) => ({
          ...(input.backupId ? { backupId: input.backupId } : {}),
          ...(input.tenantId ? { tenantId: input.tenantId } : {}),
          ...(input.sample !== undefined ? { sample: input.sample } : {}),
          deep,
          operationId,
          requestedBy: actor,
        }),
        audit: {
          actor,
          action: "verification.requested",
          targetType: input.backupId ? "backup" : input.tenantId ? "tenant" : "storage",
          targetId: input.backupId ?? input.tenantId ?? (input.sample !== undefined ? `sample ${input.sample}%` : "all"),
          tenantId: input.tenantId ?? null,
          details: { deep, ...(input.sample !== undefined ? { sample: input.sample } : {}) },
        },
      });
    }),
});
