import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { backupId, tenantId } from "@hesaab/contracts";
import { getBackupRecord, listBackupRecords, listVerifications, writeAudit, type BackupRecord, type ListBackupsQuery } from "@hesaab/db";
import { actorOf, adminProcedure, router, type Context, type TenantRefusalView } from "../trpc";

/** What "back up now" did: the tenants queued (one request on the bus), the ids refused with a sentence each. */
export interface BackupRequestAnswer {
  queued: string[];
  refused: TenantRefusalView[];
  /** The request's id when anything was queued: follow it with `progress.operation` ({ kind: "backup", operationId, tenantIds: queued }). */
  operationId?: string;
}

const BACKUP_TYPES = ["tenant", "customer", "disaster"] as const;
const BACKUP_STATUSES = ["pending", "running", "completed", "degraded", "spooled", "failed", "expired", "deleted"] as const;
const COPY_STATES = ["stored", "missing", "failed", "corrupt", "absent"] as const;

/** The filters of a backup list (every one optional), with keyset paging: `cursor` is the `cursor` of the last item of the previous page. */
const listFilters = {
  type: z.enum(BACKUP_TYPES).optional(),
  status: z.array(z.enum(BACKUP_STATUSES)).max(BACKUP_STATUSES.length).optional(),
  /** Only backups whose copy in `provider` is in `providerState` (`absent`: no copy there). */
  provider: z.string().min(1).max(40).optional(),
  providerState: z.enum(COPY_STATES).optional(),
  verification: z.enum(["pending", "verified", "partial", "failed"]).optional(),
  /** Created at or after / before (ISO 8601). */
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  cursor: backupId.optional(),
};

type ListInput = { tenantId?: string | undefined; limit: number } & { [K in keyof typeof listFilters]?: z.output<(typeof listFilters)[K]> };

function backupQuery(input: ListInput): ListBackupsQuery {
  if (input.providerState && !input.provider)
    throw new TRPCError({ code: "BAD_REQUEST", message: "providerState needs provider: the state of which provider's copy?" });
  return {
    ...(input.tenantId ? { tenantId: input.tenantId } : {}),
    ...(input.type ? { type: input.type } : {}),
    ...(input.status?.length ? { statuses: input.status } : {}),
    ...(input.provider ? { provider: { name: input.provider, state: input.providerState ?? "stored" } } : {}),
    ...(input.verification ? { verification: input.verification } : {}),
    ...(input.from ? { from: new Date(input.from) } : {}),
    ...(input.to ? { to: new Date(input.to) } : {}),
    ...(input.cursor ? { after: input.cursor } : {}),
    limit: input.limit,
  };
}

/** One backup in a list: what the admin app shows in a row. */
function listItem(r: BackupRecord) {
  return {
    id: r.id,
    /** Give it as `cursor` for the page after this item. */
    cursor: r.id,
    type: r.backupType,
    tenantId: r.tenantId,
    status: r.status,
    verification: r.verificationStatus,
    size: r.fileSize,
    purpose: r.purpose,
    createdAt: r.createdAt.toISOString(),
    expiresAt: r.expiresAt?.toISOString() ?? null,
    providers: Object.fromEntries(Object.entries(r.providers).map(([p, c]) => [p, c.status])),
  };
}

const restItem = z.object({
  id: z.string(),
  type: z.enum(BACKUP_TYPES),
  tenantId: z.string().nullable(),
  status: z.enum(BACKUP_STATUSES),
  verification: z.string(),
  size: z.number(),
  purpose: z.string(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  providers: z.record(z.string(), z.string()),
});

const refusalView = z.object({ tenantId: z.string(), code: z.string(), message: z.string() });

/**
 * Queues an on-demand backup of the tenants among `tenantIds` that may be backed up; the others
 * are answered per id, not queued. All refused is an answer too (nothing queued), not an error:
 * the admin app shows each refused id with its reason. The audit entry lists both.
 */
async function requestBackups(ctx: Context & { admin: { userId: string } }, tenantIds: string[]): Promise<BackupRequestAnswer> {
  if (!ctx.requestBackup) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the event bus is not connected" });
  if (!ctx.screenTenants) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the platform database is not connected: tenants cannot be checked" });
  const requestedBy = actorOf(ctx.admin);
  const { accepted, refused } = await ctx.screenTenants(tenantIds);
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
}

/** A tenant's backups through the design document's REST path (`/api/super-admin/backups/tenant/{tenant_id}`). */
const tenantBackupsRouter = router({
  create: adminProcedure
    .meta({
      openapi: { method: "POST", path: "/api/super-admin/backups/tenant/{tenant_id}", protect: true, tags: ["backups"], summary: "Back up one tenant now" },
    })
    .input(z.object({ tenant_id: z.string().min(1).max(200) }))
    .output(z.object({ queued: z.array(z.string()), refused: z.array(refusalView) }))
    .mutation(({ ctx, input }) => requestBackups(ctx, [input.tenant_id])),
  list: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/api/super-admin/backups/tenant/{tenant_id}",
        protect: true,
        tags: ["backups"],
        summary: "One tenant's backups, newest first",
      },
    })
    .input(z.object({ tenant_id: tenantId, cursor: backupId.optional(), limit: z.coerce.number().int().min(1).max(500).default(50) }))
    .output(z.object({ backups: z.array(restItem), nextCursor: z.string().nullable() }))
    .query(async ({ ctx, input }) => {
      const rows = await listBackupRecords(ctx.db, backupQuery({ tenantId: input.tenant_id, cursor: input.cursor, limit: input.limit + 1 }));
      const page = rows.slice(0, input.limit);
      return {
        backups: page.map((r) => {
          const { cursor: _cursor, ...item } = listItem(r);
          return item;
        }),
        nextCursor: rows.length > input.limit ? page[page.length - 1]!.id : null,
      };
    }),
});

export const backupsRouter = router({
  /** Backups, newest first, by any of the filters; page with the last item's `cursor`. */
  list: adminProcedure
    .input(z.object({ tenantId: tenantId.optional(), limit: z.number().int().min(1).max(500).default(100), ...listFilters }))
    .query(async ({ ctx, input }) => (await listBackupRecords(ctx.db, backupQuery(input))).map(listItem)),
  /** One backup as the catalog knows it: manifest, rows per table, each provider's copy and checks, the key version. */
  get: adminProcedure.input(z.object({ id: backupId })).query(async ({ ctx, input }) => {
    const r = await getBackupRecord(ctx.db, input.id);
    if (!r) throw new TRPCError({ code: "NOT_FOUND", message: `no backup ${input.id} in the catalog` });
    const checks = await listVerifications(ctx.db, { backupIds: [r.id], limit: 200 });
    const meta = r.metadata;
    const sidecar = r.keySidecar as { slots?: { type?: string; keyVersion?: number }[] } | null;
    return {
      ...listItem(r),
      filename: r.filename,
      checksum: r.checksum,
      encryptionKeyId: r.encryptionKeyId,
      /** The tenant key version (or DR master key version) the data key is wrapped under now. */
      keyVersion: sidecar?.slots?.[0]?.keyVersion ?? null,
      completedAt: r.completedAt?.toISOString() ?? null,
      verifiedAt: r.verifiedAt?.toISOString() ?? null,
      errorMessage: r.errorMessage,
      period: r.period,
      manifest: {
        rows: typeof meta.rows === "number" ? meta.rows : null,
        plaintextBytes: typeof meta.plaintextBytes === "number" ? meta.plaintextBytes : null,
        schemaFingerprint: typeof meta.schemaFingerprint === "string" ? meta.schemaFingerprint : null,
        durationMs: typeof meta.durationMs === "number" ? meta.durationMs : null,
        requestedBy: typeof meta.requestedBy === "string" ? meta.requestedBy : null,
        gitCommit: typeof meta.gitCommit === "string" ? meta.gitCommit : null,
      },
      tables: meta.tables && typeof meta.tables === "object" ? (meta.tables as Record<string, number>) : {},
      copies: Object.entries(r.providers).map(([provider, c]) => ({
        provider,
        status: c.status,
        location: c.location,
        size: c.size ?? null,
        verification: c.verification ?? null,
        verifiedAt: c.verifiedAt ?? null,
        deepVerifiedAt: c.deepVerifiedAt ?? null,
        error: c.error ?? null,
        checks: checks.filter((v) => v.provider === provider).map((v) => ({ depth: v.depth, ok: v.ok, detail: v.detail, at: v.at.toISOString() })),
      })),
    };
  }),
  create: adminProcedure
    .input(z.object({ tenantIds: z.array(z.string().max(200)).min(1).max(10_000) }))
    .mutation(({ ctx, input }): Promise<BackupRequestAnswer> => requestBackups(ctx, input.tenantIds)),
  tenant: tenantBackupsRouter,
});
