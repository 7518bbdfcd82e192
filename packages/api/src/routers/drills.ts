import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { tenantId } from "@hesaab/contracts";
import { drillReport } from "@hesaab/drills";
import { adminProcedure, router } from "../trpc";

const candidate = z.object({ tenantId: z.string(), lastDrilledAt: z.string().nullable() });
const tableResult = z.object({
  expectedRows: z.number().nullable(),
  rows: z.number().nullable(),
  expectedChecksum: z.string().nullable(),
  checksum: z.string().nullable(),
  match: z.boolean(),
});

/** The drill report as the admin app and the REST path show it. */
const drillReportSchema = z
  .object({
    coverage: z.object({
      windowDays: z.number(),
      tenantsWithBackups: z.number(),
      drilledInWindow: z.number(),
      oldestUndrilled: candidate.nullable().describe("The tenant with a backup that has waited longest for a drill (never drilled: lastDrilledAt null)"),
      undrilled: z.array(candidate),
    }),
    drills: z.array(
      z.object({
        id: z.string(),
        kind: z.string(),
        backupId: z.string(),
        tenantId: z.string().nullable(),
        outcome: z.string().describe("match, mismatch or failed"),
        providerUsed: z.string().nullable(),
        startedAt: z.string(),
        finishedAt: z.string(),
        durations: z.record(z.string(), z.number()),
        tables: z.record(z.string(), tableResult.partial()),
        error: z.object({ code: z.string(), message: z.string() }).partial().nullable(),
        restoredByVersion: z.string(),
        restoredByCommit: z.string().nullable(),
        attestation: z.enum(["valid", "tampered", "unverifiable"]).describe("The record's signature checked on read: tampered means it was edited"),
      }),
    ),
    tampered: z.number(),
  })
  .meta({ id: "DrillReport" });

export const drillsRouter = router({
  /** Coverage of the drill window and the latest drills, each signature verified. */
  report: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/api/super-admin/drills",
        protect: true,
        tags: ["drills"],
        summary: "Restore drills: coverage of the window and the latest attested drill records",
      },
    })
    .input(z.object({ tenant_id: tenantId.optional(), limit: z.coerce.number().int().min(1).max(500).default(50) }))
    .output(drillReportSchema)
    .query(async ({ ctx, input }) => {
      if (!ctx.drills) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "drill reports need DR_MASTER_KEYS on this gateway" });
      const r = await drillReport({
        db: ctx.db,
        keys: ctx.drills.keys,
        windowDays: ctx.drills.windowDays,
        limit: input.limit,
        ...(input.tenant_id ? { tenantId: input.tenant_id } : {}),
      });
      const when = (c: { tenantId: string; lastDrilledAt: Date | null }) => ({ tenantId: c.tenantId, lastDrilledAt: c.lastDrilledAt?.toISOString() ?? null });
      return {
        coverage: {
          ...r.coverage,
          oldestUndrilled: r.coverage.oldestUndrilled ? when(r.coverage.oldestUndrilled) : null,
          undrilled: r.coverage.undrilled.slice(0, 100).map(when),
        },
        drills: r.drills.map((d) => ({
          id: d.id,
          kind: d.kind,
          backupId: d.backupId,
          tenantId: d.tenantId,
          outcome: d.outcome,
          providerUsed: d.providerUsed,
          startedAt: d.startedAt.toISOString(),
          finishedAt: d.finishedAt.toISOString(),
          durations: d.durations,
          tables: d.tables,
          error: d.error,
          restoredByVersion: d.restoredByVersion,
          restoredByCommit: d.restoredByCommit,
          attestation: d.attestation,
        })),
        tampered: r.tampered,
      };
    }),
});
