// Restore records left unfinished: marked abandoned only when no live process holds the operation.
import { newId } from "@hesaab/contracts";
import { restoreOperations } from "@hesaab/db";
import { eq } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { RESTORE_ABANDONED, markAbandonedRestores } from "../src";
import { withOperationLock } from "../src/restore-abandoned";
import { type Harness, harness } from "./harness";

let h: Harness;

beforeAll(async () => {
  h = await harness({ tenants: 2, scale: 0.05 });
});

afterAll(async () => {
  await h?.close();
});

async function unfinished(status: "verifying" | "snapshotting" | "restoring"): Promise<string> {
  const id = newId("rst");
  await h.deps.catalog.db.insert(restoreOperations).values({ id, restoreType: "individual", storageProvider: "b2", status, initiatedBy: "test" });
  return id;
}

const statusOf = async (id: string) => (await h.deps.catalog.db.select().from(restoreOperations).where(eq(restoreOperations.id, id)))[0]!;

it("leaves a live restore alone and marks one whose process is gone", async () => {
  const live = await unfinished("restoring");
  const dead = await unfinished("snapshotting");
  let marked: string[] = [];
  await withOperationLock(h.deps, live, async () => {
    // another process (its own connection) sweeps while the live one runs
    const other = new pg.Pool({ connectionString: h.url, max: 1 });
    try {
      marked = await markAbandonedRestores({ catalog: { ...h.deps.catalog, pool: other } });
    } finally {
      await other.end();
    }
  });
  expect(marked).toEqual([dead]);
  expect((await statusOf(live)).status).toBe("restoring");
  const d = await statusOf(dead);
  expect(d.status).toBe("failed");
  expect(d.errorMessage).toBe(RESTORE_ABANDONED);
  // once the live one's lock is gone (its process ended without finishing), it is abandoned too
  expect(await markAbandonedRestores(h.deps)).toEqual([live]);
});
