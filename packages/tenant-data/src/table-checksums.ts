import { to as copyTo } from "pg-copy-streams";
import type pg from "pg";
import { RowChecksum } from "./checksum";
import { PIN_SETTINGS } from "./export";
import { type TenantPlan, selectSql } from "./tenant-plan";

export interface TableChecksum {
  rows: number;
  checksum: string;
}

/**
 * The checksums of one tenant's rows as they are now in the database `client` is connected to: the
 * same `COPY (SELECT …)` per table as an export, under the same pinned settings, in one read-only
 * snapshot. A drill runs it over the restored copy and compares with the backup's recorded checksums.
 */
export async function tenantTableChecksums(o: { client: pg.ClientBase; plan: TenantPlan; tenantId: string }): Promise<Record<string, TableChecksum>> {
  const { client, plan } = o;
  const tenant = client.escapeLiteral(o.tenantId);
  const out: Record<string, TableChecksum> = {};
  await client.query(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ${PIN_SETTINGS}`);
  try {
    for (const table of plan.tables) {
      const sum = new RowChecksum();
      const copy = client.query(copyTo(`COPY (${selectSql({ plan, table, tenant })}) TO STDOUT`));
      for await (const chunk of copy as AsyncIterable<Buffer>) sum.push(chunk);
      out[table.name] = { rows: sum.rows, checksum: sum.digest() };
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
  return out;
}
