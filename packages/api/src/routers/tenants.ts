import { TRPCError } from "@trpc/server";
import { asc, desc, eq } from "drizzle-orm";
import { z } from "zod";
import { isHesaabError } from "@hesaab/config";
import { tenantId } from "@hesaab/contracts";
import { customerExports, tenantBackupSummaries, tenantKeys, tenantSortFigures } from "@hesaab/db";
import { adminProcedure, router } from "../trpc";

/** The exports of a tenant the tenant page lists, newest first. */
const EXPORTS_SHOWN = 50;

export const tenantsRouter = router({
  /**
   * The platform's tenants, a page at a time in the root table's key order (or by size or last backup) (whatever the platform
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
        /**
         * `id`: the root table's key order; `size`: the newest good backup's bytes, biggest first;
         * `lastBackup`: the newest backup first. Tenants without a backup come last (in key order).
         */
        sort: z.enum(["id", "size", "lastBackup"]).default("id"),
        /** The `nextCursor` of the previous page (of the same sort). */
        cursor: z.string().min(1).max(240).optional(),
        limit: z.number().int().min(1).max(500).default(50),
      }),
    )
    .query(async ({ ctx, input }) => {
      if (!ctx.tenantDirectory)
        throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the platform database is not connected: tenants cannot be listed" });
      const { sort, ...query } = input;
      // the figures live in the catalog, the tenants in the platform: the platform's query orders by the catalog's figures
      const rank = sort === "id" ? undefined : await tenantSortFigures(ctx.db, sort);
      const page = await ctx.tenantDirectory({ ...query, rank }).catch((err: unknown) => {
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
  /**
   * A tenant's rows per table now, counted on the platform through the discovered plan (whatever its
   * tables are called): the restore wizard shows them beside a backup's per-table rows.
   */
  rows: adminProcedure.input(z.object({ tenantId })).query(async ({ ctx, input }) => {
    if (!ctx.tenantRows) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the platform database is not connected: rows cannot be counted" });
    const tables = await ctx.tenantRows(input.tenantId).catch((err: unknown) => {
      if (isHesaabError(err, "invalid_tenant_id")) throw new TRPCError({ code: "BAD_REQUEST", message: err.describe(), cause: err });
      if (isHesaabError(err, "tenant_not_found")) throw new TRPCError({ code: "NOT_FOUND", message: err.describe(), cause: err });
      throw err;
    });
    return { tenantId: input.tenantId, at: new Date().toISOString(), tables };
  }),
  /** What the catalog holds for one tenant beside its backups: its key versions (never a seed) and its self-backups (exports). */
  get: adminProcedure.input(z.object({ tenantId })).query(async ({ ctx, input }) => {
    const keys = await ctx.db
      .select({ version: tenantKeys.keyVersion, masterVersion: tenantKeys.masterVersion, createdAt: tenantKeys.createdAt, retiredAt: tenantKeys.retiredAt })
      .from(tenantKeys)
      .where(eq(tenantKeys.tenantId, input.tenantId))
      .orderBy(asc(tenantKeys.keyVersion));
    const exports = await ctx.db
      .select()
      .from(customerExports)
      .where(eq(customerExports.tenantId, input.tenantId))
      .orderBy(desc(customerExports.createdAt))
      .limit(EXPORTS_SHOWN);
    return {
      tenantId: input.tenantId,
      keyVersions: keys.map((k) => ({ ...k, createdAt: k.createdAt.toISOString(), retiredAt: k.retiredAt?.toISOString() ?? null })),
      exports: exports.map((e) => ({
        id: e.id,
        status: e.status,
        requestedBy: e.requestedBy,
        size: e.fileSize,
        createdAt: e.createdAt.toISOString(),
        expiresAt: e.expiresAt?.toISOString() ?? null,
        downloads: e.downloadCount,
      })),
    };
  }),
});
