import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { isHesaabError } from "@hesaab/config";
import { tenantBackupSummaries } from "@hesaab/db";
import { adminProcedure, router } from "../trpc";

export const tenantsRouter = router({
  /**
   * The platform's tenants, a page at a time in the root table's key order (whatever the platform
   * calls that table: discovered as backups discover it), each with what the catalog knows: the
   * newest backup of each type and its state per provider, the size of the newest good backup, the
   * newest verification. `lastDrill` stays null until restore drills exist.
   */
  list: adminProcedure
    .input(
      z.object({
        /** Part of an id or a name, case-insensitive. */
        search: z.string().trim().min(1).max(200).optional(),
        /** The root table's status value (`active`, `suspended`, …). */
        status: z.string().min(1).max(64).optional(),
        cursor: z.string().min(1).max(200).optional(),
        limit: z.number().int().min(1).max(500).default(50),
      }),
    )
    .query(async ({ ctx, input }) => {
      if (!ctx.tenantDirectory)
        throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the platform database is not connected: tenants cannot be listed" });
      const page = await ctx.tenantDirectory(input).catch((err: unknown) => {
        // a cursor that is not a key of the root table is the caller's mistake, said as such
        if (isHesaabError(err, "invalid_tenant_id")) throw new TRPCError({ code: "BAD_REQUEST", message: err.describe(), cause: err });
        throw err;
      });
      const facts = await tenantBackupSummaries(
        ctx.db,
        page.tenants.map((t) => t.id),
      );
      return {
        tenants: page.tenants.map((t) => {
          const f = facts.get(t.id)!;
          return {
            id: t.id,
            name: t.name,
            status: t.status ?? "active",
            size: f.size,
            lastBackup: Object.fromEntries(
              Object.entries(f.lastBackup).map(([type, b]) => [
                type,
                { id: b.id, status: b.status, createdAt: b.createdAt.toISOString(), size: b.size, providers: b.providers },
              ]),
            ),
            lastVerification: f.lastVerification && { ...f.lastVerification, at: f.lastVerification.at.toISOString() },
            lastDrill: null,
          };
        }),
        nextCursor: page.nextCursor,
      };
    }),
});
