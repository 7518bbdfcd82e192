// Read models the API shows: per tenant, its latest backups and verification; per backup, its checks.
import { desc, eq, inArray, sql } from "drizzle-orm";
import type { CatalogDb } from "./client";
import { backupRecords, verifications } from "./schema";

export interface TenantBackupSummary {
  /** The newest backup of each type (`tenant`, `customer`), whatever its status, with its state per provider. */
  lastBackup: Record<string, { id: string; status: string; createdAt: Date; size: number; providers: Record<string, string> }>;
  /** Bytes of the newest good tenant backup (what the tenant weighs in the providers, per copy). */
  size: number | null;
  /** The newest verification of any of its backups. */
  lastVerification: { backupId: string; provider: string; depth: string; ok: boolean; at: Date } | null;
}

/** The catalog's facts for a page of tenants, in two queries whatever the page's size. */
export async function tenantBackupSummaries(db: CatalogDb, tenantIds: string[]): Promise<Map<string, TenantBackupSummary>> {
  const out = new Map<string, TenantBackupSummary>(tenantIds.map((id) => [id, { lastBackup: {}, size: null, lastVerification: null }]));
  if (tenantIds.length === 0) return out;
  const latest = await db
    .selectDistinctOn([backupRecords.tenantId, backupRecords.backupType], {
      id: backupRecords.id,
      tenantId: backupRecords.tenantId,
      type: backupRecords.backupType,
      status: backupRecords.status,
      createdAt: backupRecords.createdAt,
      size: backupRecords.fileSize,
      providers: backupRecords.providers,
    })
    .from(backupRecords)
    .where(inArray(backupRecords.tenantId, tenantIds))
    .orderBy(backupRecords.tenantId, backupRecords.backupType, desc(backupRecords.createdAt), desc(backupRecords.id));
  for (const r of latest) {
    const entry = out.get(r.tenantId!)!;
    entry.lastBackup[r.type] = {
      id: r.id,
      status: r.status,
      createdAt: r.createdAt,
      size: r.size,
      providers: Object.fromEntries(Object.entries(r.providers).map(([p, c]) => [p, c.status])),
    };
  }
  const good = await db
    .selectDistinctOn([backupRecords.tenantId], { tenantId: backupRecords.tenantId, size: backupRecords.fileSize })
    .from(backupRecords)
    .where(
      sql`${inArray(backupRecords.tenantId, tenantIds)} and ${backupRecords.backupType} = 'tenant' and ${backupRecords.status} in ('completed', 'degraded')`,
    )
    .orderBy(backupRecords.tenantId, desc(backupRecords.createdAt));
  for (const r of good) out.get(r.tenantId!)!.size = r.size;
  const checks = await db
    .selectDistinctOn([backupRecords.tenantId], {
      tenantId: backupRecords.tenantId,
      backupId: verifications.backupId,
      provider: verifications.provider,
      depth: verifications.depth,
      ok: verifications.ok,
      at: verifications.at,
    })
    .from(verifications)
    .innerJoin(backupRecords, eq(backupRecords.id, verifications.backupId))
    .where(inArray(backupRecords.tenantId, tenantIds))
    .orderBy(backupRecords.tenantId, desc(verifications.at), desc(verifications.id));
  for (const c of checks) out.get(c.tenantId!)!.lastVerification = { backupId: c.backupId, provider: c.provider, depth: c.depth, ok: c.ok, at: c.at };
  return out;
}

/**
 * Every tenant's figure to sort the tenants list by, highest first: `size`, the bytes of its newest
 * good tenant backup (as `tenantBackupSummaries` says); `lastBackup`, when its newest tenant backup
 * of any status was made (epoch ms). Tenants without a backup have none (they sort last).
 */
export async function tenantSortFigures(db: CatalogDb, by: "size" | "lastBackup"): Promise<{ ids: string[]; values: number[] }> {
  const rows =
    by === "size"
      ? await db.execute<{ tenant_id: string; v: string }>(sql`
          select tenant_id, v from (
            select distinct on (tenant_id) tenant_id, file_size::float8 as v from ${backupRecords}
            where tenant_id is not null and backup_type = 'tenant' and status in ('completed', 'degraded')
            order by tenant_id, created_at desc
          ) newest order by v desc, tenant_id`)
      : await db.execute<{ tenant_id: string; v: string }>(sql`
          select tenant_id, (extract(epoch from max(created_at)) * 1000)::float8 as v from ${backupRecords}
          where tenant_id is not null and backup_type = 'tenant'
          group by tenant_id order by v desc, tenant_id`);
  return { ids: rows.rows.map((r) => r.tenant_id), values: rows.rows.map((r) => Number(r.v)) };
}

export type VerificationRow = typeof verifications.$inferSelect;

/** The checks of some backups (every provider, keyless and deep), newest first, at most `limit` per call. */
export async function listVerifications(db: CatalogDb, q: { backupIds: string[]; limit?: number }): Promise<VerificationRow[]> {
  if (q.backupIds.length === 0) return [];
  return db
    .select()
    .from(verifications)
    .where(inArray(verifications.backupId, q.backupIds))
    .orderBy(desc(verifications.at), desc(verifications.id))
    .limit(q.limit ?? 1000);
}
