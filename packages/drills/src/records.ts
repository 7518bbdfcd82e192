import { and, desc, eq, inArray, isNotNull, sql } from "drizzle-orm";
import type { MasterKeySet } from "@hesaab/config";
import { backupRecords, drillRecords, RESTORABLE, type CatalogDb } from "@hesaab/db";
import { type Attestation, verifyDrill } from "./attest";
import type { DrillCandidate } from "./planner";

export type DrillRow = typeof drillRecords.$inferSelect;
export type DrillRecordView = DrillRow & { attestation: Attestation };

export async function insertDrillRecord(db: CatalogDb, row: DrillRow): Promise<void> {
  await db.insert(drillRecords).values(row);
}

/** Drill records, newest first, each verified against its signature (`attestation`). */
export async function listDrillRecords(
  db: CatalogDb,
  o: { keys: MasterKeySet; tenantId?: string | undefined; kind?: "tenant" | "disaster" | undefined; limit?: number },
): Promise<DrillRecordView[]> {
  const where = [];
  if (o.tenantId) where.push(eq(drillRecords.tenantId, o.tenantId));
  if (o.kind) where.push(eq(drillRecords.kind, o.kind));
  const rows = await db
    .select()
    .from(drillRecords)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(drillRecords.finishedAt), desc(drillRecords.id))
    .limit(o.limit ?? 100);
  return rows.map((r) => ({ ...r, attestation: verifyDrill(o.keys, r) }));
}

/**
 * Tenants with a restorable tenant backup, each with the time of its last drill (null: never).
 * A drill that failed counts as a drill that ran (it raised its alert); the planner's rotation then
 * moves on rather than drilling the same broken backup every night.
 */
export async function drillCandidates(db: CatalogDb): Promise<DrillCandidate[]> {
  const rows = await db
    .select({
      tenantId: backupRecords.tenantId,
      firstBackupAt: sql<Date>`min(${backupRecords.createdAt})`,
      // the subquery spelled out with an alias: drizzle leaves column names unqualified inside sql``, and
      // "tenant_id = tenant_id" within drill_records alone would match every drill
      lastDrilledAt: sql<Date | null>`(select max(d.finished_at) from "backup"."drill_records" d where d.tenant_id = "backup_records"."tenant_id" and d.kind = 'tenant')`,
    })
    .from(backupRecords)
    .where(and(eq(backupRecords.backupType, "tenant"), inArray(backupRecords.status, [...RESTORABLE]), isNotNull(backupRecords.tenantId)))
    .groupBy(backupRecords.tenantId);
  return rows.map((r) => ({
    tenantId: r.tenantId!,
    lastDrilledAt: r.lastDrilledAt ? new Date(r.lastDrilledAt) : null,
    firstBackupAt: new Date(r.firstBackupAt),
  }));
}
