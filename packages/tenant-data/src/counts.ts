import type pg from "pg";
import { type TenantPlan, aggregateSql } from "./tenant-plan";

/** The tenant's rows per table of the plan (a plain count(*) each, outside any snapshot of its own). */
export async function countTenantRows(o: { client: pg.ClientBase; plan: TenantPlan; tenantId: string }): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of o.plan.tables) {
    const { rows } = await o.client.query<{ n: string }>(aggregateSql({ plan: o.plan, table, tenant: "$1", expression: "count(*) AS n" }), [o.tenantId]);
    out[table.name] = Number(rows[0]?.n ?? 0);
  }
  return out;
}
