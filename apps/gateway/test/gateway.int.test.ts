import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTRPCClient, httpBatchLink } from "@trpc/client";
import { freshDatabase, type FreshDatabase } from "@hesaab/testkit";
import { backupRecords, migrate, openCatalog, type Catalog } from "@hesaab/db";
import { newId } from "@hesaab/contracts";
import { buildServer } from "../src/server";
import type { AppRouter } from "../src/router";

let database: FreshDatabase;
let catalog: Catalog;
let url: string;
let close: () => Promise<void>;

beforeAll(async () => {
  database = await freshDatabase("gateway");
  await migrate({ url: database.url });
  catalog = openCatalog({ url: database.url });
  const app = await buildServer({ db: catalog.db });
  url = await app.listen({ host: "127.0.0.1", port: 0 });
  close = () => app.close();
});
afterAll(async () => {
  await close?.();
  await catalog?.close();
  await database?.drop();
});

describe("gateway", () => {
  it("serves the typed router over HTTP", async () => {
    const id = newId("bkp");
    await catalog.db.insert(backupRecords).values({ id, backupType: "tenant", tenantId: "t1", filename: "x", encryptionKeyId: "k", status: "completed" });
    const client = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${url}/trpc` })] });
    expect((await client.health.query()).ok).toBe(true);
    const list = await client.backups.list.query({ tenantId: "t1" });
    expect(list.map((b) => b.id)).toEqual([id]);
  });

  it("rejects bad input with a clear error", async () => {
    const client = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${url}/trpc` })] });
    await expect(client.backups.list.query({ tenantId: "x'; drop table y" })).rejects.toThrow(/tenant id/);
  });
});
