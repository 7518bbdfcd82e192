import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTRPCClient, httpBatchLink } from "@trpc/client";
import { randomBytes } from "node:crypto";
import { connectBus } from "@hesaab/bus";
import { freshDatabase, testEnv, waitFor, type FreshDatabase } from "@hesaab/testkit";
import { backupRecords, migrate, openCatalog, type Catalog } from "@hesaab/db";
import { newId, subjectOf, type Message } from "@hesaab/contracts";
import { loadEnv } from "../src/env";
import { startGateway } from "../src/gateway";
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

  it("queues a backup request on the bus (startGateway wires the command publisher)", async () => {
    const prefix = `G${randomBytes(3).toString("hex")}`;
    const control = await connectBus({ url: testEnv().NATS_URL!, name: "test-control", prefix });
    const gateway = await startGateway(loadEnv({ ...testEnv(), PLATFORM_DATABASE_URL: database.url, BACKUP_DATABASE_URL: database.url, HESAAB_BUS_PREFIX: prefix, GATEWAY_PORT: "0" }));
    const seen: Message[] = [];
    const consumer = await control.consume({ durable: "test-watch", filter: subjectOf("backup.tenant.requested.v1"), handler: async (m) => void seen.push(m) });
    try {
      const client = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${gateway.address}/trpc` })] });
      expect(await client.backups.create.mutate({ tenantIds: ["t1", "t2"] })).toEqual({ queued: 2 });
      const request = await waitFor(() => seen.find((m) => m.type === "backup.tenant.requested.v1"), "the backup request");
      expect(request.data).toMatchObject({ tenantIds: ["t1", "t2"], purpose: "on_demand", requestedBy: "admin" });
    } finally {
      await consumer.stop();
      await gateway.stop();
      await control.deleteStreams().catch(() => {});
      await control.close();
    }
  });
});
