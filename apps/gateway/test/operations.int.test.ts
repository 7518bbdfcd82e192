// The super admin's operations through the real gateway on a generated platform: tenants, backups
// (filters, cursor, detail, the REST-named tenant procedures), verification, retention, keys and
// settings. storage-svc's part (retention) is played with the handler storage-svc runs; commands
// for backup-svc are read off the bus.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import { and, eq, inArray } from "drizzle-orm";
import type { AppRouter } from "@hesaab/api";
import { connectBus, eventPublisher, type Bus } from "@hesaab/bus";
import { newId, type Message } from "@hesaab/contracts";
import { auditLog, backupRecords, customerExports, insertBackupRecord, readRuntimeSettings, tenantKeys, verifications, type ProviderCopy } from "@hesaab/db";
import { tableChecksums } from "@hesaab/platform";
import { handleRetentionRequested, retentionRulesInForce } from "@hesaab/storage-ops";
import { testEnv, waitFor } from "@hesaab/testkit";
import { loadEnv } from "../src/env";
import { startHarness, type Harness } from "./harness";

const DAY = 86_400_000;
let h: Harness;
let control: Bus;
const commands: Message[] = [];
const events: Message[] = [];
const stops: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  h = await startHarness("gw_ops", { tenants: 7, env: { BACKUP_RETENTION_DAYS: "30" } });
  control = await connectBus({ url: testEnv().NATS_URL!, name: "test-ops", prefix: h.env.HESAAB_BUS_PREFIX });
  const env = loadEnv(h.env);
  const storage = { catalog: h.catalog, backends: [], publish: eventPublisher(control), actor: "system:storage-svc" };
  stops.push(
    await control.consume({
      durable: "test-storage",
      filter: "cmd.storage.>",
      handler: async (m, ctx) => {
        commands.push(m);
        if (m.type === "storage.retention.requested.v1")
          await handleRetentionRequested(
            { ...storage, rules: async () => retentionRulesInForce(env, await readRuntimeSettings(h.catalog.db)), activeTenants: async () => "all" },
            { message: m, delivery: ctx },
          );
      },
    }),
    await control.consume({ durable: "test-keys", filter: "cmd.keys.>", handler: async (m) => void commands.push(m) }),
    await control.consumeEvents({ durable: "test-events", filter: "evt.>", handler: async (m) => void events.push(m) }),
  );
}, 180_000);
afterAll(async () => {
  for (const s of stops) await s.stop();
  await control?.close();
  await h?.stop();
});

function client(token?: string) {
  return createTRPCClient<AppRouter>({
    links: [httpBatchLink({ url: `${h.gateway.address}/trpc`, headers: token ? { authorization: `Bearer ${token}` } : {} })],
  });
}
const admin = async () => client(await h.adminSession("ops-lead"));

async function refusal(p: Promise<unknown>): Promise<{ code: string | undefined; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCClientError);
  return { code: (err as TRPCClientError<AppRouter>).data?.code, message: (err as Error).message };
}

async function audited(action: string): Promise<(typeof auditLog.$inferSelect)[]> {
  return h.catalog.db.select().from(auditLog).where(eq(auditLog.action, action));
}

async function record(o: {
  tenantId: string;
  ageDays: number;
  status?: "completed" | "degraded" | "failed";
  providers?: Record<string, "stored" | "missing">;
  size?: number;
}) {
  const id = newId("bkp");
  const providers: Record<string, ProviderCopy> = Object.fromEntries(
    Object.entries<ProviderCopy["status"]>(o.providers ?? { b2: "stored", r2: "stored" }).map(([p, status]) => [p, { location: `k/${id}`, status }]),
  );
  await insertBackupRecord(h.catalog.db, {
    id,
    backupType: "tenant",
    tenantId: o.tenantId,
    filename: `${id}.bkp`,
    encryptionKeyId: "k",
    status: o.status ?? "completed",
    fileSize: o.size ?? 1000 + Math.floor(o.ageDays),
    providers,
    createdAt: new Date(Date.now() - o.ageDays * DAY),
  });
  return id;
}

describe("every new procedure is for super admins only", () => {
  const calls: [string, (c: ReturnType<typeof client>) => Promise<unknown>][] = [
    ["tenants.list", (c) => c.tenants.list.query({})],
    ["tenants.rows", (c) => c.tenants.rows.query({ tenantId: "t1" })],
    ["tenants.get", (c) => c.tenants.get.query({ tenantId: "t1" })],
    ["backups.get", (c) => c.backups.get.query({ id: newId("bkp") })],
    ["backups.tenant.list", (c) => c.backups.tenant.list.query({ tenant_id: "t1" })],
    ["backups.tenant.create", (c) => c.backups.tenant.create.mutate({ tenant_id: "t1" })],
    ["verification.status", (c) => c.verification.status.query({})],
    ["verification.trigger", (c) => c.verification.trigger.mutate({})],
    ["retention.policy", (c) => c.retention.policy.query()],
    ["retention.preview", (c) => c.retention.preview.query()],
    ["retention.applyNow", (c) => c.retention.applyNow.mutate()],
    ["keys.rotate", (c) => c.keys.rotate.mutate({ all: true })],
    ["keys.shred", (c) => c.keys.shred.mutate({ tenantId: "t1", confirm: "t1" })],
    ["settings.get", (c) => c.settings.get.query()],
    ["settings.set", (c) => c.settings.set.mutate({ key: "retention.tenant.days", value: 10 })],
  ];
  it("refuses each without a session and with a tenant's session, and changes nothing", async () => {
    const tenant = client(await h.tenantSession(h.activeTenants()[0]!));
    for (const [name, call] of calls) {
      expect((await refusal(call(client()))).code, `${name} without a session`).toBe("UNAUTHORIZED");
      expect((await refusal(call(tenant))).code, `${name} with a tenant session`).toBe("UNAUTHORIZED");
    }
    const admin = client(await h.adminSession("viewer", { role: "support" }));
    expect((await refusal(calls[0]![1](admin))).code, "an admin session without the super admin role").toBe("FORBIDDEN");
    expect(await readRuntimeSettings(h.catalog.db)).toEqual({});
    expect(commands).toEqual([]);
  });
});

describe("tenants.list", () => {
  it("pages through every tenant of the platform's root table in key order, with search and a status filter", async () => {
    const c = await admin();
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await c.tenants.list.query({ limit: 3, ...(cursor ? { cursor } : {}) });
      expect(page.tenants.length).toBeLessThanOrEqual(3);
      seen.push(...page.tenants.map((t) => t.id));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(h.platform.tenants.map((t) => t.id).sort());

    const some = h.platform.tenants[4]!;
    const found = await c.tenants.list.query({ search: some.name.slice(1, -1).toUpperCase() });
    expect(found.tenants.map((t) => t.id)).toContain(some.id);
    expect(found.tenants.find((t) => t.id === some.id)).toMatchObject({ name: some.name, status: some.status });
    expect((await c.tenants.list.query({ search: some.id.slice(0, 13) })).tenants.map((t) => t.id)).toContain(some.id);

    for (const status of new Set(h.platform.tenants.map((t) => t.status))) {
      const ids = (await c.tenants.list.query({ status })).tenants.map((t) => t.id);
      expect(ids, status).toEqual(
        h.platform.tenants
          .filter((t) => t.status === status)
          .map((t) => t.id)
          .sort(),
      );
    }
    expect((await refusal(c.tenants.list.query({ cursor: "not-a-uuid" }))).code).toBe("BAD_REQUEST");
  });

  it("joins each tenant with the catalog: newest backup per type with its copies, size, newest verification", async () => {
    const c = await admin();
    const tenant = h.activeTenants()[1]!;
    await record({ tenantId: tenant, ageDays: 2 });
    const newest = await record({ tenantId: tenant, ageDays: 1, status: "degraded", providers: { b2: "stored", r2: "missing" } });
    await h.catalog.db.insert(verifications).values({ backupId: newest, provider: "b2", depth: "keyless", ok: true });
    const page = await c.tenants.list.query({ search: tenant });
    const row = page.tenants.find((t) => t.id === tenant)!;
    expect(row.lastBackup.tenant).toMatchObject({ id: newest, status: "degraded", providers: { b2: "stored", r2: "missing" } });
    expect(row.size).toBe(1001);
    expect(row.lastVerification).toMatchObject({ backupId: newest, provider: "b2", ok: true });
    expect(row.lastDrill).toBeNull();
  });
});

describe("tenants.list sorted", () => {
  it("sorts by the newest good backup's size or by the newest backup, tenants without backups last, and pages with the cursor", async () => {
    const c = await admin();
    const [x, y, z] = h.platform.tenants.slice(2, 5).map((t) => t.id) as [string, string, string];
    // sizes far above the other tests' records; ages below theirs: these three lead both sorts, in opposite orders
    await record({ tenantId: x, ageDays: 0.03, size: 3e9 });
    await record({ tenantId: y, ageDays: 0.02, size: 2e9 });
    await record({ tenantId: z, ageDays: 0.01, size: 1e9 });
    // a failed backup is x's newest (it leads "last backup") but weighs nothing (size is the newest good one's)
    await record({ tenantId: x, ageDays: 0.005, size: 9e9, status: "failed", providers: {} });

    const all = async (sort: "size" | "lastBackup") => {
      const seen: { id: string; size: number | null }[] = [];
      let cursor: string | undefined;
      do {
        const page = await c.tenants.list.query({ sort, limit: 2, ...(cursor ? { cursor } : {}) });
        seen.push(...page.tenants.map((t) => ({ id: t.id, size: t.size })));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return seen;
    };
    const bySize = await all("size");
    expect(bySize.map((t) => t.id).slice(0, 3)).toEqual([x, y, z]);
    expect(bySize.map((t) => t.size).slice(0, 3)).toEqual([3e9, 2e9, 1e9]);
    // every tenant once; those without a size last, in key order
    expect(bySize.map((t) => t.id).sort()).toEqual(h.platform.tenants.map((t) => t.id).sort());
    const unsized = bySize.filter((t) => t.size === null).map((t) => t.id);
    expect(bySize.slice(-unsized.length).map((t) => t.id)).toEqual([...unsized].sort());
    const sizes = bySize.filter((t) => t.size !== null).map((t) => t.size!);
    expect(sizes).toEqual([...sizes].sort((a, b) => b - a));

    const byLast = await all("lastBackup");
    expect(byLast.map((t) => t.id).slice(0, 3)).toEqual([x, z, y]);
    expect(byLast.map((t) => t.id).sort()).toEqual(h.platform.tenants.map((t) => t.id).sort());

    // a sorted page's cursor is not a key, and a key is not a sorted page's cursor
    expect((await refusal(c.tenants.list.query({ sort: "size", cursor: "not-a-cursor" }))).code).toBe("BAD_REQUEST");
    expect((await refusal(c.tenants.list.query({ sort: "size", cursor: "12:not-a-uuid" }))).code).toBe("BAD_REQUEST");
  });
});

describe("one tenant", () => {
  it("counts a tenant's rows now per discovered table, as the platform holds them; refuses ids that are no tenant", async () => {
    const c = await admin();
    for (const t of [h.activeTenants()[0]!, h.platform.tenants.find((t) => t.status !== "active")?.id ?? h.activeTenants()[1]!]) {
      const { tables } = await c.tenants.rows.query({ tenantId: t });
      // the sample platform's own checksums (its table list, not the discovered plan) count the same rows; the plan names tables with their schema
      const expected = Object.fromEntries(Object.entries(await tableChecksums({ pool: h.pool, tenantId: t })).map(([name, v]) => [`public.${name}`, v.rows]));
      expect(tables, t).toEqual(expected);
      expect(Object.values(tables).some((n) => n > 0)).toBe(true);
    }
    expect((await refusal(c.tenants.rows.query({ tenantId: "not-a-uuid" }))).code).toBe("BAD_REQUEST");
    expect((await refusal(c.tenants.rows.query({ tenantId: "00000000-0000-4000-8000-000000000000" }))).code).toBe("NOT_FOUND");
  });

  it("shows a tenant's key versions (never a seed) and its exports", async () => {
    const c = await admin();
    const tenant = h.activeTenants()[2]!;
    expect(await c.tenants.get.query({ tenantId: tenant })).toEqual({ tenantId: tenant, keyVersions: [], exports: [] });
    await h.catalog.db.insert(tenantKeys).values([
      { tenantId: tenant, keyVersion: 1, seed: Buffer.alloc(32, 1), masterVersion: 1, retiredAt: new Date() },
      { tenantId: tenant, keyVersion: 2, seed: Buffer.alloc(32, 2), masterVersion: 1 },
    ]);
    await h.catalog.db
      .insert(customerExports)
      .values({ id: newId("exp"), tenantId: tenant, requestedBy: "owner", day: "2026-01-02", status: "ready", fileSize: 1234 });
    const got = await c.tenants.get.query({ tenantId: tenant });
    expect(got.keyVersions.map((k) => ({ version: k.version, retired: k.retiredAt !== null }))).toEqual([
      { version: 1, retired: true },
      { version: 2, retired: false },
    ]);
    expect(JSON.stringify(got)).not.toContain("seed");
    expect(got.exports).toEqual([expect.objectContaining({ status: "ready", requestedBy: "owner", size: 1234, downloads: 0 })]);
  });
});

describe("backups", () => {
  it("lists by tenant, status, provider state and date range, and pages with the cursor", async () => {
    const c = await admin();
    const tenant = "list-tenant";
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await record({ tenantId: tenant, ageDays: 10 - i }));
    const failed = await record({ tenantId: tenant, ageDays: 3.5, status: "failed", providers: {} });
    const degraded = await record({ tenantId: tenant, ageDays: 3.2, status: "degraded", providers: { b2: "stored", r2: "missing" } });
    const all = [degraded, failed, ...[...ids].reverse()];

    expect((await c.backups.list.query({ tenantId: tenant })).map((b) => b.id)).toEqual(all);
    const paged: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await c.backups.list.query({ tenantId: tenant, limit: 2, ...(cursor ? { cursor } : {}) });
      if (page.length === 0) break;
      paged.push(...page.map((b) => b.id));
      cursor = page[page.length - 1]!.cursor;
    }
    expect(paged).toEqual(all);
    expect((await c.backups.list.query({ tenantId: tenant, status: ["failed"] })).map((b) => b.id)).toEqual([failed]);
    expect((await c.backups.list.query({ tenantId: tenant, provider: "r2", providerState: "missing" })).map((b) => b.id)).toEqual([degraded]);
    expect((await c.backups.list.query({ tenantId: tenant, provider: "r2", providerState: "absent" })).map((b) => b.id)).toEqual([failed]);
    const from = new Date(Date.now() - 8.5 * DAY).toISOString();
    const to = new Date(Date.now() - 6.5 * DAY).toISOString();
    expect((await c.backups.list.query({ tenantId: tenant, from, to })).map((b) => b.id)).toEqual([ids[3], ids[2]]);

    const rest = await c.backups.tenant.list.query({ tenant_id: tenant, limit: 4 });
    expect(rest.backups.map((b) => b.id)).toEqual(all.slice(0, 4));
    const next = await c.backups.tenant.list.query({ tenant_id: tenant, limit: 4, cursor: rest.nextCursor! });
    expect(next.backups.map((b) => b.id)).toEqual(all.slice(4));
    expect(next.nextCursor).toBeNull();
  });

  it("shows one backup's detail: manifest, rows per table, copies with their checks, key version", async () => {
    const c = await admin();
    const id = await record({ tenantId: "detail-tenant", ageDays: 1 });
    await h.catalog.db
      .update(backupRecords)
      .set({
        metadata: { rows: 12, tables: { "public.invoices": 10, "public.tenants": 2 }, requestedBy: "admin:x" },
        keySidecar: { slots: [{ type: "tenant", keyVersion: 3 }] },
      })
      .where(eq(backupRecords.id, id));
    await h.catalog.db.insert(verifications).values({ backupId: id, provider: "r2", depth: "deep", ok: false, detail: "tag mismatch" });
    const d = await c.backups.get.query({ id });
    expect(d).toMatchObject({
      id,
      tenantId: "detail-tenant",
      keyVersion: 3,
      manifest: { rows: 12, requestedBy: "admin:x" },
      tables: { "public.invoices": 10 },
    });
    expect(d.copies.find((x) => x.provider === "r2")!.checks).toEqual([expect.objectContaining({ depth: "deep", ok: false, detail: "tag mismatch" })]);
    expect((await refusal(c.backups.get.query({ id: newId("bkp") }))).code).toBe("NOT_FOUND");
  });

  it("backs up one tenant through the REST-named procedure: queued, audited; a stranger refused", async () => {
    const c = await admin();
    const tenant = h.activeTenants()[2]!;
    expect(await c.backups.tenant.create.mutate({ tenant_id: tenant })).toEqual({ queued: [tenant], refused: [] });
    await waitFor(() => h.backupRequests.some((m) => (m.data as { tenantIds?: string[] }).tenantIds?.includes(tenant)));
    const refused = await c.backups.tenant.create.mutate({ tenant_id: "nobody" });
    expect(refused.queued).toEqual([]);
    expect(refused.refused[0]!.code).toBe("invalid_tenant_id");
    expect((await audited("backup.request")).map((a) => a.targetId)).toEqual(expect.arrayContaining([tenant, "nobody"]));
  });
});

describe("verification", () => {
  it("triggers a tenant's verification on storage-svc with an operation id, audited; one scope at a time", async () => {
    const c = await admin();
    const tenant = h.activeTenants()[1]!;
    const { operationId } = await c.verification.trigger.mutate({ tenantId: tenant, deep: true });
    expect(operationId).toMatch(/^op_/);
    await waitFor(() => commands.some((m) => m.type === "storage.verify.requested.v1"));
    const cmd = commands.find((m) => m.type === "storage.verify.requested.v1")!;
    expect(cmd.data).toMatchObject({ tenantId: tenant, deep: true, operationId, requestedBy: "admin:ops-lead" });
    expect(await audited("verification.requested")).toEqual([
      expect.objectContaining({ targetId: tenant, tenantId: tenant, details: expect.objectContaining({ operationId }) }),
    ]);
    expect((await refusal(c.verification.trigger.mutate({ tenantId: tenant, sample: 5 }))).code).toBe("BAD_REQUEST");

    const status = await c.verification.status.query({ tenantId: tenant });
    const b2 = status.backups[0]!.providers.find((p) => p.provider === "b2")!;
    expect(b2.lastCheck).toMatchObject({ depth: "keyless", ok: true });
  });
});

describe("retention", () => {
  it("previews without deleting, applies what the preview said on storage-svc, and follows settings.set", async () => {
    const c = await admin();
    // a tenant of the platform: its newest good backup is kept past expiry (no backups of it otherwise here)
    const tenant = h.activeTenants()[0]!;
    const old = await record({ tenantId: tenant, ageDays: 100 });
    const middle = await record({ tenantId: tenant, ageDays: 50 });
    const newest = await record({ tenantId: tenant, ageDays: 40 });

    expect((await c.retention.policy.query()).rules.tenant.days).toBe(30);
    const preview = await c.retention.preview.query();
    const mine = (items: { backupId: string; tenantId: string | null }[]) => items.filter((i) => i.tenantId === tenant).map((i) => i.backupId);
    expect(mine(preview.expired)).toEqual([old, middle]);
    expect(mine(preview.kept)).toEqual([newest]);
    const statuses = async () =>
      (await h.catalog.db.select({ id: backupRecords.id, status: backupRecords.status }).from(backupRecords).where(eq(backupRecords.tenantId, tenant))).map(
        (r) => r.status,
      );
    expect(await statuses()).toEqual(["completed", "completed", "completed"]);

    // 60 days: only the oldest has expired, for the preview and for the service
    await c.settings.set.mutate({ key: "retention.tenant.days", value: 60 });
    expect((await c.retention.policy.query()).rules.tenant.days).toBe(60);
    const after = await c.retention.preview.query();
    expect(mine(after.expired)).toEqual([old]);
    const expected = after.expired.map((i) => i.backupId);

    const { operationId } = await c.retention.applyNow.mutate();
    await waitFor(() => events.some((e) => e.type === "storage.retention.applied.v1" && (e.data as { operationId: string }).operationId === operationId));
    const applied = events.find((e) => e.type === "storage.retention.applied.v1")!.data as { deleted: string[] };
    expect(applied.deleted.sort()).toEqual(expected.sort());
    const rows = await h.catalog.db
      .select({ id: backupRecords.id, status: backupRecords.status })
      .from(backupRecords)
      .where(and(eq(backupRecords.tenantId, tenant), inArray(backupRecords.id, [old, middle, newest])));
    expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({ [old]: "deleted", [middle]: "completed", [newest]: "completed" });
    expect(await audited("retention.requested")).toEqual([expect.objectContaining({ actor: "admin:ops-lead", details: { operationId } })]);
    expect((await audited("settings.set"))[0]).toMatchObject({ targetId: "retention.tenant.days", details: { previous: null, value: 60 } });
    await c.settings.set.mutate({ key: "retention.tenant.days", value: null });
    expect((await c.retention.policy.query()).rules.tenant.days).toBe(30);
  });

  it("refuses a setting that does not fit its key", async () => {
    const c = await admin();
    expect((await refusal(c.settings.set.mutate({ key: "retention.tenant.days", value: 0 }))).code).toBe("BAD_REQUEST");
    expect((await refusal(c.settings.set.mutate({ key: "verify.deep_sample_percent", value: "lots" }))).code).toBe("BAD_REQUEST");
    expect((await c.settings.get.query()).find((s) => s.key === "verify.deep_sample_percent")).toMatchObject({ source: "environment", value: 5 });
  });
});

describe("keys", () => {
  it("shreds only with the tenant id as the confirmation token; rotates behind master; both audited with the operation id", async () => {
    const c = await admin();
    const tenant = h.activeTenants()[3]!;
    const wrong = await refusal(c.keys.shred.mutate({ tenantId: tenant, confirm: "yes" }));
    expect(wrong.code).toBe("BAD_REQUEST");
    expect(wrong.message).toMatch(/cannot be undone/);
    expect(commands.some((m) => m.type === "keys.shred.requested.v1")).toBe(false);
    expect(await audited("keys.shred.requested")).toEqual([expect.objectContaining({ targetId: tenant, outcome: "refused" })]);

    const { operationId } = await c.keys.shred.mutate({ tenantId: tenant, confirm: tenant });
    await waitFor(() => commands.some((m) => m.type === "keys.shred.requested.v1"));
    expect(commands.find((m) => m.type === "keys.shred.requested.v1")!.data).toMatchObject({ tenantId: tenant, operationId });

    expect((await refusal(c.keys.rotate.mutate({ all: true, behindMaster: true }))).code).toBe("BAD_REQUEST");
    const rotation = await c.keys.rotate.mutate({ behindMaster: true });
    await waitFor(() => commands.some((m) => m.type === "keys.rotate.requested.v1"));
    expect(commands.find((m) => m.type === "keys.rotate.requested.v1")!.data).toMatchObject({
      behindMaster: true,
      retire: true,
      operationId: rotation.operationId,
    });
    expect((await audited("keys.shred.requested")).map((a) => a.outcome).sort()).toEqual(["ok", "refused"]);
    expect(await audited("keys.rotate.requested")).toEqual([
      expect.objectContaining({ details: expect.objectContaining({ operationId: rotation.operationId }) }),
    ]);
  });
});
