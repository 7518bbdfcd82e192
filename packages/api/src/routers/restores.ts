// Restores through the API (what `hesaab restore …` does): the gateway checks the request, audits it
// in the admin's name and queues it for backup-svc; the catalog's restore operations say how each
// tenant fared, and a rollback puts back what a restore replaced.
import { TRPCError } from "@trpc/server";
import { and, desc, eq, lt, sql } from "drizzle-orm";
import { z } from "zod";
import { backupId, restoreId, tenantId } from "@hesaab/contracts";
import { getBackupRecord, restoreOperations, writeAudit } from "@hesaab/db";
import { redactUrl } from "@hesaab/config";
import { startOperation } from "../operations";
import { actorOf, adminProcedure, router, type Context } from "../trpc";

const PROVIDERS = ["b2", "r2"] as const;

/** A copy's target: a postgres URL (backup-svc connects to it; its password is never stored or audited). */
const targetDbUrl = z
  .string()
  .min(1)
  .max(2000)
  .refine((v) => /^postgres(ql)?:\/\/[^/]+\/[^/?]+/.test(v), "a postgres URL naming a database, e.g. postgres://user@host:5432/copy");

const createInput = z.object({
  /** The tenants to restore (their latest restorable backup, or the latest at or before `at`). */
  tenantIds: z.array(tenantId).min(1).max(10_000).optional(),
  /** Every tenant that has a restorable backup. */
  all: z.boolean().optional(),
  /** This backup (its tenant is restored). */
  backupId: backupId.optional(),
  /** The latest backup at or before this time (ISO 8601). */
  at: z.iso.datetime({ offset: true }).optional(),
  /** The provider read first (the other one is the fallback). */
  from: z.enum(PROVIDERS).default("b2"),
  /** A dry run: each backup fetched and verified (checksum, authenticated decrypt), nothing restored. */
  verifyOnly: z.boolean().default(false),
  /** Restore as a copy into this database instead of production. */
  targetDb: targetDbUrl.optional(),
  /** With targetDb: first copy the global tables' rows tenant rows reference from the platform. */
  withDependencies: z.boolean().default(false),
  /** Load backups whose columns were dropped since, leaving those values out. */
  allowDroppedColumns: z.boolean().default(false),
});
type CreateInput = z.output<typeof createInput>;

/** Refuses a request backup-svc would refuse, before anything is queued: what to restore, once. */
async function checkCreate(ctx: Context, input: CreateInput): Promise<void> {
  const scopes = [Boolean(input.tenantIds?.length), Boolean(input.all)].filter(Boolean).length;
  if (scopes > 1 || (scopes === 0 && !input.backupId) || (input.all && input.backupId))
    throw new TRPCError({ code: "BAD_REQUEST", message: "give tenantIds, all: true or a backupId (with at most its own tenant in tenantIds)" });
  if (input.backupId && input.at) throw new TRPCError({ code: "BAD_REQUEST", message: "give a backupId or a point in time (at), not both" });
  if (input.withDependencies && !input.targetDb)
    throw new TRPCError({ code: "BAD_REQUEST", message: "withDependencies goes with targetDb: production has its global tables" });
  if (!input.backupId) return;
  const record = await getBackupRecord(ctx.db, input.backupId);
  if (!record || record.backupType !== "tenant" || !record.tenantId)
    throw new TRPCError({ code: "NOT_FOUND", message: `no tenant backup ${input.backupId} in the catalog` });
  if (input.tenantIds && (input.tenantIds.length !== 1 || input.tenantIds[0] !== record.tenantId))
    throw new TRPCError({ code: "BAD_REQUEST", message: `backup ${input.backupId} belongs to tenant ${record.tenantId}, not ${input.tenantIds.join(", ")}` });
}

/** One tenant's outcome of a restore. */
export interface TenantOutcomeView {
  tenantId: string;
  ok: boolean;
  backupId: string | null;
  providerUsed: string | null;
  fallbackFrom: string[];
  rows: number | null;
  /** The pre-restore snapshot a rollback restores (null: the tenant had no rows, or nothing of production was touched). */
  rollbackBackupId: string | null;
  /** A dry run: the backup was verified, nothing restored. */
  verifiedOnly: boolean;
  error: { code: string; message: string } | null;
}

type Operation = typeof restoreOperations.$inferSelect;

function summary(op: Operation) {
  return {
    id: op.id,
    status: op.status,
    type: op.restoreType,
    tenantIds: op.targetTenants,
    provider: op.storageProvider,
    providerUsed: op.providerUsed,
    /** A copy's target, password redacted (null: production). */
    targetDb: op.targetDb ? redactUrl(op.targetDb) : null,
    percent: op.progressPercentage,
    initiatedBy: op.initiatedBy,
    initiatedAt: op.initiatedAt.toISOString(),
    completedAt: op.completedAt?.toISOString() ?? null,
    rollbackAvailable: op.rollbackAvailable,
  };
}

/** A tenant's outcome as backup-svc recorded it (`TenantRestoreOutcome` of @hesaab/tenant-backup, stored as JSON). */
function outcomeOf(tenant: string, raw: Record<string, unknown>): TenantOutcomeView {
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  const err = raw.error as { code?: unknown; message?: unknown } | undefined;
  return {
    tenantId: tenant,
    ok: raw.ok === true,
    backupId: str(raw.backupId),
    providerUsed: str(raw.providerUsed),
    fallbackFrom: Array.isArray(raw.fallbackFrom) ? raw.fallbackFrom.filter((p): p is string => typeof p === "string") : [],
    rows: typeof raw.rows === "number" ? raw.rows : null,
    rollbackBackupId: str(raw.rollbackBackupId),
    verifiedOnly: raw.verifiedOnly === true,
    error: err ? { code: String(err.code), message: String(err.message) } : null,
  };
}

async function operation(ctx: Context, id: string): Promise<Operation> {
  const [op] = await ctx.db.select().from(restoreOperations).where(eq(restoreOperations.id, id));
  if (!op) throw new TRPCError({ code: "NOT_FOUND", message: `no restore operation ${id}: it may not have started yet (backup-svc records it when it does)` });
  return op;
}

export const restoresRouter = router({
  /**
   * Restores one, several or all tenants on backup-svc (the CLI's `hesaab restore tenant`): verified
   * first, a pre-restore snapshot per tenant (the rollback point), one transaction per tenant. Answers
   * the operation id: follow it with `progress.operation` ({ kind: "restore", operationId }).
   */
  create: adminProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/api/super-admin/restore/tenant",
        protect: true,
        tags: ["restores"],
        summary: "Restore tenants (one, several or all; a backup or a point in time), or only verify their backups",
      },
    })
    .input(createInput)
    .output(z.object({ operationId: z.string() }))
    .mutation(async ({ ctx, input }) => {
      await checkCreate(ctx, input);
      const actor = actorOf(ctx.admin);
      const only = input.tenantIds?.length === 1 ? input.tenantIds[0]! : undefined;
      return startOperation(ctx, {
        type: "restore.requested.v1",
        prefix: "rst",
        data: (operationId) => ({
          operationId,
          ...(input.tenantIds ? { tenantIds: input.tenantIds } : {}),
          ...(input.all ? { all: true } : {}),
          ...(input.backupId ? { backupId: input.backupId } : {}),
          ...(input.at ? { at: new Date(input.at).toISOString() } : {}),
          provider: input.from,
          ...(input.targetDb ? { targetDb: input.targetDb } : {}),
          withDependencies: input.withDependencies,
          allowDroppedColumns: input.allowDroppedColumns,
          verifyOnly: input.verifyOnly,
          requestedBy: actor,
        }),
        audit: {
          actor,
          action: input.verifyOnly ? "restore.verify.request" : "restore.request",
          targetType: "restore_operation",
          targetId: only ?? input.backupId ?? (input.all ? "all" : `${input.tenantIds!.length} tenants`),
          tenantId: only ?? null,
          details: {
            tenantIds: input.tenantIds ?? null,
            all: Boolean(input.all),
            backupId: input.backupId ?? null,
            at: input.at ?? null,
            from: input.from,
            verifyOnly: input.verifyOnly,
            targetDb: input.targetDb ? redactUrl(input.targetDb) : null,
          },
        },
      });
    }),
  /** Restore operations, newest first; page with the last item's id as `cursor`. */
  list: adminProcedure
    .input(z.object({ limit: z.number().int().min(1).max(500).default(50), cursor: restoreId.optional(), tenantId: tenantId.optional() }))
    .query(async ({ ctx, input }) => {
      const rows = await ctx.db
        .select()
        .from(restoreOperations)
        .where(
          and(
            input.cursor ? lt(restoreOperations.id, input.cursor) : undefined,
            // a tenant's restores: those whose targets name it (jsonb containment)
            input.tenantId ? sql`${restoreOperations.targetTenants} @> ${JSON.stringify([input.tenantId])}::jsonb` : undefined,
          ),
        )
        .orderBy(desc(restoreOperations.id))
        .limit(input.limit + 1);
      const page = rows.slice(0, input.limit);
      return { restores: page.map(summary), nextCursor: rows.length > input.limit ? (page.at(-1)?.id ?? null) : null };
    }),
  /** One restore with each tenant's outcome: the backup used, the provider it came from, rows, the rollback point, the error. */
  get: adminProcedure.input(z.object({ id: restoreId })).query(async ({ ctx, input }) => {
    const op = await operation(ctx, input.id);
    const outcomes = op.outcomes;
    return {
      ...summary(op),
      backupId: op.backupRecordId,
      bytesDone: op.bytesDone,
      bytesTotal: op.bytesTotal,
      rowsDone: op.rowsDone,
      errorMessage: op.errorMessage,
      tenants: op.targetTenants.map((t) => (outcomes[t] ? outcomeOf(t, outcomes[t]) : null)).filter((o) => o !== null),
    };
  }),
  /**
   * Puts back what a restore replaced, on backup-svc (the CLI's `hesaab restore rollback`): each
   * tenant's pre-restore snapshot restored the same careful way. Follow it with
   * `progress.operation` ({ kind: "rollback", operationId }).
   */
  rollback: adminProcedure.input(z.object({ operationId: restoreId })).mutation(async ({ ctx, input }) => {
    const op = await operation(ctx, input.operationId);
    if (!op.rollbackAvailable)
      throw new TRPCError({
        code: "CONFLICT",
        message: `restore ${op.id} has no rollback point${op.status === "rolled_back" ? " (it was already rolled back)" : op.targetDb ? " (it restored a copy, production was not touched)" : ""}`,
      });
    const actor = actorOf(ctx.admin);
    if (!ctx.send) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the event bus is not connected: the rollback cannot be started" });
    // one rollback per restore, however often it is asked for (JetStream's duplicate window)
    await ctx.send("restore.rollback.requested.v1", { operationId: op.id, requestedBy: actor }, { msgId: `rollback:${op.id}` });
    const tenants = op.targetTenants;
    await writeAudit(ctx.db, {
      actor,
      action: "restore.rollback.request",
      targetType: "restore_operation",
      targetId: op.id,
      tenantId: tenants.length === 1 ? tenants[0]! : null,
      details: { operationId: op.id, tenants },
    });
    return { operationId: op.id };
  }),
});
