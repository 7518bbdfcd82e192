// Restores and disaster recovery through the real gateway: the commands it queues are run as the
// services run them (backup-svc's restore and rollback handlers, dr-svc's backup and restore
// handlers of @hesaab/tenant-backup and @hesaab/dr, in this process, on the real bus, Postgres and
// both S3 endpoints); progress is followed over SSE with @trpc/client's httpSubscriptionLink.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink, TRPCClientError } from "@trpc/client";
import { and, eq } from "drizzle-orm";
import { EventSource } from "eventsource";
import type { AppRouter, ProgressView } from "@hesaab/api";
import { connectBus, type Bus } from "@hesaab/bus";
import { Secret } from "@hesaab/config";
import type { Message, Publish } from "@hesaab/contracts";
import { KeyRing } from "@hesaab/crypto";
import { auditLog, backupRecords } from "@hesaab/db";
import { handleDisasterBackupRequest, handleDisasterRestoreRequest, type DrHandlerDeps } from "@hesaab/dr";
import { tableChecksums } from "@hesaab/platform";
import { openBackend } from "@hesaab/storage";
import { backupTenant, handleRestoreRequest, handleRollbackRequest, type TenantBackupDeps } from "@hesaab/tenant-backup";
import { adminQuery, testEnv, testProviderConfig } from "@hesaab/testkit";
import { startHarness, type Harness } from "./harness";

let h: Harness;
let bus: Bus;
let deps: TenantBackupDeps;
let drDeps: DrHandlerDeps;
let workDir: string;
/** The commands the services were given, in order. */
const commands: Message[] = [];
const stops: { stop(): Promise<void> }[] = [];
const silent = { info() {}, warn() {}, error() {} };

beforeAll(async () => {
  h = await startHarness("gw_restores", { tenants: 5 });
  bus = await connectBus({ url: testEnv().NATS_URL!, name: "test-services", prefix: h.env.HESAAB_BUS_PREFIX });
  workDir = await mkdtemp(path.join(os.tmpdir(), "gw-restores-"));
  const backends = (["b2", "r2"] as const).map((p) => openBackend({ backend: testProviderConfig(p) }).backend);
  const publish: Publish = async (type, data, opts) => void (await bus.publish(type, data, opts));
  deps = { platform: h.pool, catalog: h.catalog, keyRing: h.deps.keyRing, backends, retentionDays: 30, gzipLevel: 1, workDir, publish };
  drDeps = {
    catalog: h.catalog.db,
    keyRing: new KeyRing({ drMasterKeys: new Map([[1, new Secret(randomBytes(32))]]) }),
    backends,
    platformUrl: h.database.url,
    catalogUrl: h.database.url,
    configFiles: [],
    gitCommit: "0123456789abcdef0123456789abcdef01234567",
    retentionDays: 7,
    // its own folder in the shared buckets: "latest" and listings see only this test's backups
    root: `gw-dr-${h.env.HESAAB_BUS_PREFIX}`,
    workDir,
    publish,
    log: silent,
  };
  // backup-svc's restore consumer and dr-svc's, as the services wire them (one delivery each here)
  stops.push(
    await bus.consume({
      durable: "test-restores",
      filter: "cmd.restore.>",
      maxDeliver: 1,
      handler: async (message, delivery) => {
        commands.push(message);
        if (message.type === "restore.requested.v1") await handleRestoreRequest(deps, { message, delivery });
        else if (message.type === "restore.rollback.requested.v1") await handleRollbackRequest(deps, { message, delivery });
      },
    }),
    await bus.consume({
      durable: "test-dr",
      filter: "cmd.dr.>",
      maxDeliver: 1,
      handler: async (message, delivery) => {
        commands.push(message);
        if (message.type === "dr.backup.requested.v1") await handleDisasterBackupRequest(drDeps, { message, delivery });
        else if (message.type === "dr.restore.requested.v1") await handleDisasterRestoreRequest(drDeps, { message, delivery });
      },
    }),
  );
}, 180_000);

const scratch = () => `${h.database.name}_copy`;

afterAll(async () => {
  for (const s of stops) await s.stop();
  await bus?.close();
  if (h) await adminQuery(`drop database if exists "${scratch()}" with (force)`).catch(() => {});
  await h?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** A client as the admin app builds one: batched queries and mutations with a Bearer header, subscriptions over SSE. */
function client(token?: string) {
  const url = `${h.gateway.address}/trpc`;
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({ url, EventSource, connectionParams: () => (token ? { token } : {}) }),
        false: httpBatchLink({ url, headers: () => (token ? { authorization: `Bearer ${token}` } : {}) }),
      }),
    ],
  });
}
const admin = async () => client(await h.adminSession("ops-lead"));

/** A REST call as HesaabPlus's backend makes it. */
async function rest(p: string, o: { token?: string; method?: "GET" | "POST"; body?: unknown } = {}) {
  const res = await fetch(`${h.gateway.address}${p}`, {
    method: o.method ?? "GET",
    headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(o.body === undefined ? {} : { "content-type": "application/json" }) },
    ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

type Subscribe = (handlers: { onData(v: { id: string; data: ProgressView }): void; onError(e: unknown): void; onComplete(): void }) => {
  unsubscribe(): void;
};

/** Every view of one operation until the subscription completes after the final one (or errs). */
function follow(subscribe: Subscribe): Promise<{ views: ProgressView[]; error?: unknown }> {
  return new Promise((resolve) => {
    const views: ProgressView[] = [];
    let done = false;
    const finish = (error?: unknown) => {
      if (done) return;
      done = true;
      sub.unsubscribe();
      resolve(error === undefined ? { views } : { views, error });
    };
    const sub = subscribe({ onData: ({ data }) => void views.push(data), onError: (e) => finish(e), onComplete: () => finish() });
  });
}

/** Views in order: percent never going back, stream ids rising, exactly one final view, the last. */
function expectOrderly(views: ProgressView[]): ProgressView {
  expect(views.length).toBeGreaterThan(0);
  const percents = views.map((v) => v.percent ?? 0);
  expect(
    percents.every((p, i) => i === 0 || p >= percents[i - 1]!),
    `percents ${percents.join(",")}`,
  ).toBe(true);
  const ids = views.map((v) => Number(v.id));
  expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
  expect(views.filter((v) => v.final)).toHaveLength(1);
  return views.at(-1)!;
}

async function refusal(p: Promise<unknown>): Promise<{ code: string | undefined; appCode: string | undefined }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCClientError);
  const data = (err as TRPCClientError<AppRouter>).data as { code?: string; appCode?: string } | undefined;
  return { code: data?.code, appCode: data?.appCode };
}

const checksums = (tenantId: string) => tableChecksums({ pool: h.pool, tenantId });
const q = (sql: string, params: unknown[] = []) => h.pool.query(sql, params);

/** Changes a tenant's rows (what a restore must undo). */
async function damage(tenantId: string) {
  await q("update public.customers set name = 'changed' where tenant_id = $1", [tenantId]);
  await q("delete from public.journal_lines where tenant_id = $1 and line_no > 1", [tenantId]);
}

const audited = (action: string) => h.catalog.db.select().from(auditLog).where(eq(auditLog.action, action));

describe("restores and disaster recovery are for super admins only", () => {
  const rst = "rst_00000000000000000000000000";
  const calls: [string, (c: ReturnType<typeof client>) => Promise<unknown>][] = [
    ["restores.create", (c) => c.restores.create.mutate({ tenantIds: ["t1"] })],
    ["restores.list", (c) => c.restores.list.query({})],
    ["restores.get", (c) => c.restores.get.query({ id: rst })],
    ["restores.rollback", (c) => c.restores.rollback.mutate({ operationId: rst })],
    ["dr.list", (c) => c.dr.list.query({})],
    ["dr.create", (c) => c.dr.create.mutate()],
    ["dr.restore", (c) => c.dr.restore.mutate({ latest: true, targetDb: "scratch" })],
  ];
  it("refuses each without a session, with a tenant's session and with an admin who is not a super admin; nothing is queued", async () => {
    const tenant = client(await h.tenantSession(h.activeTenants()[0]!));
    const support = client(await h.adminSession("viewer", { role: "support" }));
    for (const [name, call] of calls) {
      expect((await refusal(call(client()))).code, `${name} without a session`).toBe("UNAUTHORIZED");
      expect((await refusal(call(tenant))).code, `${name} with a tenant session`).toBe("UNAUTHORIZED");
      expect((await refusal(call(support))).code, `${name} as support`).toBe("FORBIDDEN");
    }
    for (const [method, p] of [
      ["POST", "/api/super-admin/restore/tenant"],
      ["GET", "/api/super-admin/backups/disaster"],
      ["POST", "/api/super-admin/backups/disaster"],
      ["POST", "/api/super-admin/restore/disaster"],
    ] as const) {
      const res = await rest(p, { method, ...(method === "POST" ? { body: {} } : {}) });
      expect(res.status, `${method} ${p}`).toBe(401);
      expect(res.body.code).toBe("unauthorized");
    }
    expect(commands).toEqual([]);
  });
});

describe("tenant restores", () => {
  let tenants: string[];
  let before: Record<string, Awaited<ReturnType<typeof checksums>>>;
  beforeAll(async () => {
    tenants = h.activeTenants().slice(0, 3);
    expect(tenants).toHaveLength(3);
    before = {};
    for (const t of tenants) {
      await backupTenant(deps, { tenantId: t, purpose: "on_demand", requestedBy: "test" });
      before[t] = await checksums(t);
    }
  }, 180_000);

  let twoTenantRestore: string;
  let damaged: Record<string, Awaited<ReturnType<typeof checksums>>>;

  it("restores two tenants through tRPC, followed live to the outcome; the detail has each tenant's outcome; audited", async () => {
    const c = await admin();
    const [a, b] = tenants as [string, string];
    await damage(a);
    await damage(b);
    damaged = { [a]: await checksums(a), [b]: await checksums(b) };
    expect(damaged[a]).not.toEqual(before[a]);

    const { operationId } = await c.restores.create.mutate({ tenantIds: [a, b], from: "r2" });
    expect(operationId).toMatch(/^rst_/);
    twoTenantRestore = operationId;
    const { views, error } = await follow((hs) => c.progress.operation.subscribe({ kind: "restore", operationId, tenantIds: [a, b] }, hs));
    expect(error).toBeUndefined();
    const last = expectOrderly(views);
    expect(last).toMatchObject({ type: "restore.completed.v1", final: true, outcome: "completed", percent: 100 });
    expect(new Set(views.map((v) => v.tenantId).filter(Boolean))).toEqual(new Set([a, b]));
    expect(new Set(views.map((v) => v.percent)).size).toBeGreaterThan(2);
    expect(await checksums(a)).toEqual(before[a]);
    expect(await checksums(b)).toEqual(before[b]);

    const detail = await c.restores.get.query({ id: operationId });
    expect(detail).toMatchObject({ id: operationId, status: "completed", type: "multiple", provider: "r2", providerUsed: "r2", rollbackAvailable: true });
    expect(detail.tenants.map((t) => [t.tenantId, t.ok, t.verifiedOnly])).toEqual([
      [a, true, false],
      [b, true, false],
    ]);
    expect(detail.tenants.every((t) => t.rollbackBackupId?.startsWith("bkp_") && t.rows! > 0)).toBe(true);
    const listed = await c.restores.list.query({ tenantId: a });
    expect(listed.restores.map((r) => r.id)).toContain(operationId);

    const [entry] = (await audited("restore.request")).filter((e) => (e.details as { tenantIds?: string[] }).tenantIds?.includes(a));
    expect(entry).toMatchObject({ actor: "admin:ops-lead", targetType: "restore_operation", outcome: "ok" });
    expect(entry!.details).toMatchObject({ operationId, from: "r2", verifyOnly: false });
  }, 180_000);

  it("rolls the restore back through the API: the pre-restore rows are back; a second rollback is refused", async () => {
    const c = await admin();
    const [a, b] = tenants as [string, string];
    const { operationId } = await c.restores.rollback.mutate({ operationId: twoTenantRestore });
    expect(operationId).toBe(twoTenantRestore);
    const { views, error } = await follow((hs) => c.progress.operation.subscribe({ kind: "rollback", operationId }, hs));
    expect(error).toBeUndefined();
    expect(expectOrderly(views)).toMatchObject({ type: "restore.rolled_back.v1", outcome: "completed", percent: 100 });
    expect(await checksums(a)).toEqual(damaged[a]);
    expect(await checksums(b)).toEqual(damaged[b]);
    expect(await c.restores.get.query({ id: operationId })).toMatchObject({ status: "rolled_back", rollbackAvailable: false });
    expect(await refusal(c.restores.rollback.mutate({ operationId }))).toEqual({ code: "CONFLICT", appCode: "conflict" });
    expect(await refusal(c.restores.rollback.mutate({ operationId: "rst_00000000000000000000000000" }))).toMatchObject({ code: "NOT_FOUND" });
    const entries = await audited("restore.rollback.request");
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor: "admin:ops-lead", targetId: operationId });
  }, 180_000);

  it("restores one tenant through POST /api/super-admin/restore/tenant, followed live to the outcome", async () => {
    const c = await admin();
    const t = tenants[2]!;
    await damage(t);
    const res = await rest("/api/super-admin/restore/tenant", { method: "POST", token: await h.adminSession("ops-lead"), body: { tenantIds: [t] } });
    expect(res.status).toBe(200);
    const operationId = res.body.operationId as string;
    expect(operationId).toMatch(/^rst_/);
    const { views, error } = await follow((hs) => c.progress.operation.subscribe({ kind: "restore", operationId }, hs));
    expect(error).toBeUndefined();
    const last = expectOrderly(views);
    expect(last).toMatchObject({ type: "restore.completed.v1", outcome: "completed", percent: 100 });
    expect(views.some((v) => v.phase === "restoring" || v.phase === "snapshotting")).toBe(true);
    expect(await checksums(t)).toEqual(before[t]);

    // the REST door's refusals are the one error shape
    const bad = await rest("/api/super-admin/restore/tenant", { method: "POST", token: await h.adminSession("ops-lead"), body: { all: true, tenantIds: [t] } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: "invalid_input", retryable: false });
    const missing = await rest("/api/super-admin/restore/tenant", {
      method: "POST",
      token: await h.adminSession("ops-lead"),
      body: { backupId: "bkp_00000000000000000000000000" },
    });
    expect(missing.status).toBe(404);
  }, 180_000);

  it("verifyOnly fetches and verifies the backups and changes nothing", async () => {
    const c = await admin();
    const [a, b] = tenants as [string, string];
    await damage(a); // so a restore would show
    const tenantRows = { [a]: await checksums(a), [b]: await checksums(b) };
    const platformRows = await tableChecksums({ pool: h.pool });
    const snapshots = async () =>
      (
        await h.catalog.db
          .select()
          .from(backupRecords)
          .where(and(eq(backupRecords.purpose, "pre_restore")))
      )
        .map((r) => r.id)
        .sort();
    const snapshotsBefore = await snapshots();

    const { operationId } = await c.restores.create.mutate({ tenantIds: [a, b], verifyOnly: true });
    const { views, error } = await follow((hs) => c.progress.operation.subscribe({ kind: "restore", operationId, tenantIds: [a, b] }, hs));
    expect(error).toBeUndefined();
    expect(expectOrderly(views)).toMatchObject({ type: "restore.completed.v1", outcome: "completed" });
    expect(views.every((v) => v.phase === undefined || v.phase === "verifying" || v.phase === "checking")).toBe(true);

    expect(await checksums(a)).toEqual(tenantRows[a]);
    expect(await checksums(b)).toEqual(tenantRows[b]);
    expect(await tableChecksums({ pool: h.pool })).toEqual(platformRows);
    expect(await snapshots()).toEqual(snapshotsBefore);
    const detail = await c.restores.get.query({ id: operationId });
    expect(detail).toMatchObject({ status: "completed", rollbackAvailable: false });
    expect(detail.tenants.map((t) => [t.tenantId, t.ok, t.verifiedOnly, t.rollbackBackupId])).toEqual([
      [a, true, true, null],
      [b, true, true, null],
    ]);
    expect((await audited("restore.verify.request")).map((e) => (e.details as { operationId: string }).operationId)).toContain(operationId);
  }, 180_000);
});

describe("disaster recovery", () => {
  it("backs up the platform through REST, lists it, restores it into a scratch database; refuses the live database, an unreachable one and a non-empty one", async () => {
    const c = await admin();
    const token = await h.adminSession("ops-lead");
    const created = await rest("/api/super-admin/backups/disaster", { method: "POST", token, body: {} });
    expect(created.status).toBe(200);
    const backupOp = created.body.operationId as string;
    const backedUp = await follow((hs) => c.progress.operation.subscribe({ kind: "disaster_backup", operationId: backupOp }, hs));
    expect(backedUp.error).toBeUndefined();
    expect(expectOrderly(backedUp.views)).toMatchObject({ type: "dr.backup.completed.v1", outcome: "completed" });

    const listed = await rest("/api/super-admin/backups/disaster", { token });
    expect(listed.status).toBe(200);
    const [backup] = listed.body.backups as { id: string; gitCommit: string; size: number; copies: { provider: string; status: string; size: number }[] }[];
    expect(backup).toMatchObject({ gitCommit: drDeps.gitCommit, status: "completed" });
    expect(backup!.copies.map((x) => [x.provider, x.status, x.size]).sort()).toEqual([
      ["b2", "stored", backup!.size],
      ["r2", "stored", backup!.size],
    ]);
    expect((await c.dr.list.query({})).backups.map((b) => b.id)).toEqual([backup!.id]);

    // refused before anything is queued, each refusal audited
    const live = await refusal(c.dr.restore.mutate({ backupId: backup!.id, targetDb: h.database.name }));
    expect(live).toEqual({ code: "FORBIDDEN", appCode: "dr_target_is_live" });
    expect((await refusal(c.dr.restore.mutate({ backupId: backup!.id, targetDb: h.database.url }))).appCode).toBe("dr_target_is_live");
    const unreachable = await refusal(c.dr.restore.mutate({ backupId: backup!.id, targetDb: "postgres://postgres@127.0.0.1:1/nowhere" }));
    expect(unreachable).toEqual({ code: "BAD_REQUEST", appCode: "dr_target_unreachable" });
    const viaRest = await rest("/api/super-admin/restore/disaster", { method: "POST", token, body: { latest: true, targetDb: h.database.name } });
    expect(viaRest.status).toBe(403);
    expect(viaRest.body).toMatchObject({ code: "dr_target_is_live" });
    expect(commands.filter((m) => m.type === "dr.restore.requested.v1")).toEqual([]);

    const restored = await rest("/api/super-admin/restore/disaster", {
      method: "POST",
      token,
      body: { backupId: backup!.id, targetDb: scratch(), skipRoles: true },
    });
    expect(restored.status).toBe(200);
    const restoreOp = restored.body.operationId as string;
    const { views, error } = await follow((hs) => c.progress.operation.subscribe({ kind: "disaster_restore", operationId: restoreOp }, hs));
    expect(error).toBeUndefined();
    expect(expectOrderly(views)).toMatchObject({ type: "dr.restore.completed.v1", outcome: "completed", percent: 100 });
    expect(views.map((v) => v.phase).filter(Boolean)).toEqual(expect.arrayContaining(["fetching", "restoring", "checking"]));
    // the copy holds the platform's rows
    expect(await tableChecksums({ url: `postgres://postgres@127.0.0.1:5432/${scratch()}` })).toEqual(await tableChecksums({ pool: h.pool }));

    // now the scratch database holds the platform: refused unless allowed
    expect(await refusal(c.dr.restore.mutate({ latest: true, targetDb: scratch() }))).toEqual({ code: "CONFLICT", appCode: "dr_target_not_empty" });
    const refusals = (await audited("dr.restore.request")).filter((e) => e.outcome === "refused");
    expect(refusals.map((e) => (e.details as { code: string }).code).sort()).toEqual([
      "dr_target_is_live",
      "dr_target_is_live",
      "dr_target_is_live",
      "dr_target_not_empty",
      "dr_target_unreachable",
    ]);
    expect(refusals.every((e) => e.actor === "admin:ops-lead")).toBe(true);
    expect((await audited("dr.restore")).map((e) => e.outcome)).toEqual(["ok"]);
    expect(commands.filter((m) => m.type === "dr.restore.requested.v1")).toHaveLength(1);
  }, 300_000);

  it("dr-svc checks the target again: a command naming the live database, queued past the gateway, fails without touching it", async () => {
    const c = await admin();
    const operationId = `op_live_${randomBytes(4).toString("hex")}`;
    await bus.publish("dr.restore.requested.v1", { operationId, latest: true, targetDb: h.database.name, requestedBy: "admin:elsewhere" });
    const { views, error } = await follow((hs) => c.progress.operation.subscribe({ kind: "disaster_restore", operationId }, hs));
    expect(error).toBeUndefined();
    expect(views).toHaveLength(1);
    expect(views[0]).toMatchObject({ type: "dr.restore.failed.v1", final: true, outcome: "failed", error: { code: "dr_target_is_live" } });
    const [entry] = (await audited("dr.restore")).filter((e) => e.actor === "admin:elsewhere");
    expect(entry).toMatchObject({ outcome: "failed", details: { operationId, code: "dr_target_is_live" } });
  }, 120_000);
});
