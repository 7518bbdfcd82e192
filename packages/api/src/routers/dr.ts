// Disaster recovery through the API: the disaster backups the catalog knows (each provider's copy,
// the deployed commit, sizes), a backup now (dr-svc), and a restore into another database (dr-svc),
// whose target the gateway checks first: never a database the platform runs on, reachable, empty
// unless allowed, as `hesaab dr restore` checks it.
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { backupId } from "@hesaab/contracts";
import { listBackupRecords, writeAudit, type BackupRecord } from "@hesaab/db";
import { isHesaabError } from "@hesaab/config";
import { asTrpcError } from "../errors";
import { startOperation } from "../operations";
import { actorOf, adminProcedure, router } from "../trpc";

const copyView = z.object({
  provider: z.string(),
  status: z.string(),
  size: z.number().nullable(),
  verification: z.string().nullable(),
  verifiedAt: z.string().nullable(),
});

const disasterView = z.object({
  id: z.string(),
  status: z.string(),
  purpose: z.string(),
  createdAt: z.string(),
  completedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  /** Bytes of the encrypted dump. */
  size: z.number(),
  /** The platform's deployed commit when the backup was taken. */
  gitCommit: z.string().nullable(),
  databaseName: z.string().nullable(),
  databaseSizeBytes: z.number().nullable(),
  tables: z.number().nullable(),
  copies: z.array(copyView),
});

function disasterItem(r: BackupRecord): z.output<typeof disasterView> {
  const meta = r.metadata;
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  return {
    id: r.id,
    status: r.status,
    purpose: r.purpose,
    createdAt: r.createdAt.toISOString(),
    completedAt: r.completedAt?.toISOString() ?? null,
    expiresAt: r.expiresAt?.toISOString() ?? null,
    size: r.fileSize,
    gitCommit: str(meta.gitCommit),
    databaseName: str(meta.databaseName),
    databaseSizeBytes: typeof meta.databaseSizeBytes === "number" ? meta.databaseSizeBytes : null,
    tables: meta.tables && typeof meta.tables === "object" ? Object.keys(meta.tables).length : null,
    copies: Object.entries(r.providers).map(([provider, c]) => ({
      provider,
      status: c.status,
      size: c.size ?? null,
      verification: c.verification ?? null,
      verifiedAt: c.verifiedAt ?? null,
    })),
  };
}

const restoreInput = z.object({
  /** The disaster backup to restore; or `latest`: the newest complete one. */
  backupId: backupId.optional(),
  latest: z.boolean().optional(),
  /** The provider read first (the other one is the fallback). */
  from: z.enum(["b2", "r2"]).default("b2"),
  /** A database name (on the platform's server; created if missing) or a postgres URL; never the platform's own database. */
  targetDb: z.string().min(1).max(2000),
  /** Restore into a database that holds objects (those of the same names are dropped first): the CLI's --force-non-empty. */
  allowNonEmpty: z.boolean().default(false),
  /** Create none of the backup's roles the target server lacks: the CLI's --skip-roles. */
  skipRoles: z.boolean().default(false),
});

export const drRouter = router({
  /** Disaster backups as the catalog records them (kept current by storage-svc's verification), newest first. */
  list: adminProcedure
    .meta({ openapi: { method: "GET", path: "/api/super-admin/backups/disaster", protect: true, tags: ["disaster recovery"], summary: "Disaster backups" } })
    .input(z.object({ cursor: backupId.optional(), limit: z.coerce.number().int().min(1).max(500).default(50) }))
    .output(z.object({ backups: z.array(disasterView), nextCursor: z.string().nullable() }))
    .query(async ({ ctx, input }) => {
      const rows = await listBackupRecords(ctx.db, { type: "disaster", ...(input.cursor ? { after: input.cursor } : {}), limit: input.limit + 1 });
      const page = rows.slice(0, input.limit);
      return { backups: page.map(disasterItem), nextCursor: rows.length > input.limit ? page.at(-1)!.id : null };
    }),
  /** A disaster backup now, on dr-svc. Follow it with `progress.operation` ({ kind: "disaster_backup", operationId }). */
  create: adminProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/api/super-admin/backups/disaster",
        protect: true,
        tags: ["disaster recovery"],
        summary: "Back up the whole platform now",
      },
    })
    .input(z.object({}).optional())
    .output(z.object({ operationId: z.string() }))
    .mutation(async ({ ctx }) => {
      if (!ctx.send) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the event bus is not connected: the backup cannot be started" });
      const actor = actorOf(ctx.admin);
      // the message's id is the operation's: dr-svc's progress events carry it
      const { id } = await ctx.send("dr.backup.requested.v1", { purpose: "on_demand", requestedBy: actor });
      await writeAudit(ctx.db, { actor, action: "dr.backup.request", targetType: "backup", targetId: "disaster", details: { operationId: id } });
      return { operationId: id };
    }),
  /**
   * Restores a disaster backup into another database, on dr-svc (the CLI's `hesaab dr restore`). The
   * target is checked here first; refused (and the refusal audited): the platform's own database
   * (`dr_target_is_live`), one that cannot be reached (`dr_target_unreachable`), one that holds
   * objects without `allowNonEmpty` (`dr_target_not_empty`). Follow it with `progress.operation`
   * ({ kind: "disaster_restore", operationId }).
   */
  restore: adminProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/api/super-admin/restore/disaster",
        protect: true,
        tags: ["disaster recovery"],
        summary: "Restore the whole platform into another database",
      },
    })
    .input(restoreInput)
    .output(z.object({ operationId: z.string() }))
    .mutation(async ({ ctx, input }) => {
      if (Boolean(input.backupId) === Boolean(input.latest)) throw new TRPCError({ code: "BAD_REQUEST", message: "give a backupId or latest: true" });
      if (!ctx.checkDisasterTarget)
        throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "disaster restores are not configured on this gateway: its targets cannot be checked" });
      const actor = actorOf(ctx.admin);
      const audit = { actor, action: "dr.restore.request", targetType: "database", targetId: "disaster restore target" };
      try {
        await ctx.checkDisasterTarget({ targetDb: input.targetDb, allowNonEmpty: input.allowNonEmpty });
      } catch (err) {
        if (isHesaabError(err)) await writeAudit(ctx.db, { ...audit, outcome: "refused", details: { code: err.code, backupId: input.backupId ?? "latest" } });
        throw asTrpcError(err);
      }
      return startOperation(ctx, {
        type: "dr.restore.requested.v1",
        data: (operationId) => ({
          operationId,
          ...(input.backupId ? { backupId: input.backupId } : { latest: true }),
          provider: input.from,
          targetDb: input.targetDb,
          allowNonEmpty: input.allowNonEmpty,
          skipRoles: input.skipRoles,
          requestedBy: actor,
        }),
        audit: { ...audit, details: { backupId: input.backupId ?? "latest", from: input.from, allowNonEmpty: input.allowNonEmpty } },
      });
    }),
});
