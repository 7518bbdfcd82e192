import { and, asc, eq, inArray, lte, sql } from "drizzle-orm";
import type { CatalogDb } from "./client";
import { alertDeliveries } from "./schema";

/**
 * The outbox of alert notifications (`alert_deliveries`): rows are queued per alert, kind and
 * channel, claimed when due (a lease, so two replicas never send one row at once), then delivered,
 * retried later with exponential backoff, or `dead` after their last attempt: kept with their
 * payload, never dropped.
 */

export type AlertDelivery = typeof alertDeliveries.$inferSelect;
export type NewAlertDelivery = Pick<typeof alertDeliveries.$inferInsert, "key" | "alertId" | "channel" | "kind" | "payload">;

/** Queues deliveries; one already queued with the same key is left as it is. Returns how many were new. */
export async function enqueueAlertDeliveries(db: CatalogDb, rows: readonly NewAlertDelivery[], now: Date = new Date()): Promise<number> {
  if (rows.length === 0) return 0;
  const added = await db
    .insert(alertDeliveries)
    .values(rows.map((r) => ({ ...r, nextAttemptAt: now, createdAt: now })))
    .onConflictDoNothing({ target: alertDeliveries.key })
    .returning({ id: alertDeliveries.id });
  return added.length;
}

/** Takes the pending deliveries due at `now` for `leaseMs` (their next attempt moves past the lease). */
export async function claimDueAlertDeliveries(db: CatalogDb, o: { now: Date; leaseMs: number; limit?: number }): Promise<AlertDelivery[]> {
  const due = db
    .select({ id: alertDeliveries.id })
    .from(alertDeliveries)
    .where(and(eq(alertDeliveries.status, "pending"), lte(alertDeliveries.nextAttemptAt, o.now)))
    .orderBy(asc(alertDeliveries.id))
    .limit(o.limit ?? 20)
    .for("update", { skipLocked: true });
  return db
    .update(alertDeliveries)
    .set({ nextAttemptAt: new Date(o.now.getTime() + o.leaseMs) })
    .where(inArray(alertDeliveries.id, due))
    .returning();
}

/**
 * Records an attempt: delivered, or failed (retried at `now + backoffMs × 2^(attempts-1)`, or `dead`
 * once `maxAttempts` were made). Returns the row's new status.
 */
export async function settleAlertDelivery(
  db: CatalogDb,
  o: { id: number; ok: boolean; error?: string; now: Date; maxAttempts: number; backoffMs: number },
): Promise<"delivered" | "pending" | "dead"> {
  if (o.ok) {
    await db
      .update(alertDeliveries)
      .set({ status: "delivered", attempts: sql`${alertDeliveries.attempts} + 1`, deliveredAt: o.now, lastError: null })
      .where(eq(alertDeliveries.id, o.id));
    return "delivered";
  }
  const [row] = await db
    .update(alertDeliveries)
    .set({
      attempts: sql`${alertDeliveries.attempts} + 1`,
      lastError: o.error ?? "failed",
      status: sql`case when ${alertDeliveries.attempts} + 1 >= ${o.maxAttempts} then 'dead' else 'pending' end`,
      nextAttemptAt: sql`${o.now}::timestamptz + make_interval(secs => ${o.backoffMs / 1000}::float8 * power(2, ${alertDeliveries.attempts}))`,
    })
    .where(eq(alertDeliveries.id, o.id))
    .returning({ status: alertDeliveries.status });
  return row?.status === "dead" ? "dead" : "pending";
}

/** Sends the dead deliveries again (the endpoint is back): pending, attempts from zero. Returns how many. */
export async function redeliverDeadAlerts(db: CatalogDb, now: Date = new Date()): Promise<number> {
  const rows = await db
    .update(alertDeliveries)
    .set({ status: "pending", attempts: 0, nextAttemptAt: now })
    .where(eq(alertDeliveries.status, "dead"))
    .returning({ id: alertDeliveries.id });
  return rows.length;
}

/** Deliveries, oldest first (of one alert, or all). */
export async function listAlertDeliveries(db: CatalogDb, q: { alertId?: string } = {}): Promise<AlertDelivery[]> {
  return db
    .select()
    .from(alertDeliveries)
    .where(q.alertId ? eq(alertDeliveries.alertId, q.alertId) : undefined)
    .orderBy(asc(alertDeliveries.id));
}
