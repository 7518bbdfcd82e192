import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportTenant } from "../src/index";
import { type Platform, backupId, busyConnections, platform } from "./helpers";

let p: Platform;

beforeAll(async () => {
  p = await platform("td_export");
});

afterAll(async () => {
  await p?.close();
});

const busyBackends = () => busyConnections(p.pool);

describe("exportTenant refuses before streaming anything", () => {
  it("a tenant that does not exist", async () => {
    await expect(exportTenant({ pool: p.pool, tenantId: randomUUID(), backupId: backupId() })).rejects.toMatchObject({ code: "tenant_not_found" });
  });

  it("a suspended or deleted tenant (unless allowInactive)", async () => {
    for (const tenantId of [p.suspended, p.deleted]) {
      const err = await exportTenant({ pool: p.pool, tenantId, backupId: backupId() }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "tenant_not_active" });
      expect((err as Error).message).toMatch(/suspended|deleted/);
    }
    const exp = await exportTenant({ pool: p.pool, tenantId: p.suspended, backupId: backupId(), allowInactive: true });
    exp.stream.resume();
    expect((await exp.done).rows).toBeGreaterThan(0);
  });

  it("ids that are not ids (no SQL reaches the database)", async () => {
    await expect(exportTenant({ pool: p.pool, tenantId: "x'); DROP TABLE tenants; --", backupId: backupId() })).rejects.toMatchObject({
      code: "invalid_tenant_id",
    });
    await expect(exportTenant({ pool: p.pool, tenantId: "not-a-uuid", backupId: backupId() })).rejects.toMatchObject({ code: "tenant_not_found" });
    await expect(exportTenant({ pool: p.pool, tenantId: p.tenant, backupId: "backup-1" })).rejects.toMatchObject({ code: "invalid_backup_id" });
  });

  it("gives its connection back after refusing", async () => {
    await exportTenant({ pool: p.pool, tenantId: randomUUID(), backupId: backupId() }).catch(() => undefined);
    expect(p.pool.waitingCount).toBe(0);
    expect(await busyBackends()).toBe(0);
  });
});

describe("exportTenant when the reader goes away", () => {
  it("an abort mid-stream fails the stream and done, and destroys the connection", async () => {
    const controller = new AbortController();
    const exp = await exportTenant({ pool: p.pool, tenantId: p.tenant, backupId: backupId(), signal: controller.signal, highWaterMark: 4096 });
    let seen = 0;
    const sink = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        if (seen > 50_000) controller.abort();
        setTimeout(cb, 1);
      },
    });
    await expect(pipeline(exp.stream, sink)).rejects.toMatchObject({ code: "export_aborted" });
    await expect(exp.done).rejects.toMatchObject({ code: "export_aborted" });
    await expect.poll(busyBackends).toBe(0);
  });

  it("a consumer that destroys the stream ends the export, and the pool still works", async () => {
    const before = p.pool.totalCount;
    const exp = await exportTenant({ pool: p.pool, tenantId: p.tenant, backupId: backupId(), highWaterMark: 4096 });
    for await (const _ of exp.stream) {
      void _;
      break; // destroys the stream
    }
    await expect(exp.done).rejects.toMatchObject({ code: "export_aborted" });
    await expect.poll(busyBackends).toBe(0);
    expect(p.pool.totalCount).toBeLessThanOrEqual(before + 1);
    const again = await exportTenant({ pool: p.pool, tenantId: p.tenant, backupId: backupId() });
    again.stream.resume();
    expect((await again.done).rows).toBeGreaterThan(0);
  });

  it("takes a client it is given and releases it when done", async () => {
    const client = await p.pool.connect();
    const idle = p.pool.idleCount;
    const exp = await exportTenant({ client, tenantId: p.tenant, backupId: backupId() });
    exp.stream.resume();
    const summary = await exp.done;
    expect(summary.tables.map((t) => t.name)).toContain("public.attachment_thumbnails");
    expect(p.pool.idleCount).toBe(idle + 1);
  });

  it("reports progress with bytes and rows", async () => {
    const events: { bytes: number; rows: number; tablesDone: number }[] = [];
    const exp = await exportTenant({ pool: p.pool, tenantId: p.tenant, backupId: backupId(), onProgress: (e) => events.push(e) });
    exp.stream.resume();
    const summary = await exp.done;
    const last = events.at(-1)!;
    expect(last).toMatchObject({ bytes: summary.bytes, rows: summary.rows, tablesDone: summary.tables.length });
  });
});
