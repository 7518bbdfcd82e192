import { backupRecords, type BackupRecord, type CatalogDb } from "@hesaab/db";
import { and, desc, eq, inArray } from "drizzle-orm";

/**
 * The disaster backup of a schedule period already done or under way, if any. The catalog's
 * once-per-period index does not cover disaster records (their tenant_id is null, and nulls are
 * distinct in a unique index), so a redelivered or repeated scheduled command checks here first.
 */
export async function disasterBackupForPeriod(db: CatalogDb, period: string): Promise<BackupRecord | undefined> {
  const [row] = await db
    .select()
    .from(backupRecords)
    .where(and(eq(backupRecords.backupType, "disaster"), eq(backupRecords.period, period), inArray(backupRecords.status, ["running", "completed", "degraded"])))
    .orderBy(desc(backupRecords.createdAt))
    .limit(1);
  return row;
}
