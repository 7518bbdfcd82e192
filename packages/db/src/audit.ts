import { desc, eq } from "drizzle-orm";
import type { CatalogDb } from "./client";
import { auditLog } from "./schema";

export interface AuditEntry {
  actor: string;
  action: string;
  targetType?: string;
  targetId?: string;
  tenantId?: string | null;
  outcome?: "ok" | "failed" | "refused";
  details?: Record<string, unknown>;
}

/** Appends one entry to the audit trail. Details must never hold secrets. */
export async function writeAudit(db: CatalogDb, entry: AuditEntry): Promise<void> {
  await db.insert(auditLog).values({
    actor: entry.actor,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId,
    tenantId: entry.tenantId ?? null,
    outcome: entry.outcome ?? "ok",
    details: entry.details ?? {},
  });
}

export type AuditRow = typeof auditLog.$inferSelect;

/** The audit trail (optionally one tenant's), newest first. */
export async function listAuditEntries(db: CatalogDb, q: { tenantId?: string | undefined; limit?: number } = {}): Promise<AuditRow[]> {
  return db
    .select()
    .from(auditLog)
    .where(q.tenantId ? eq(auditLog.tenantId, q.tenantId) : undefined)
    .orderBy(desc(auditLog.at), desc(auditLog.id))
    .limit(q.limit ?? 100);
}
