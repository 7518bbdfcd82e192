import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { connectBus } from "@hesaab/bus";
import { SignJWT } from "jose";
import { isSessionRevoked, sessionVerifier } from "@hesaab/session";
import { freshDatabase, testEnv, waitFor, type FreshDatabase } from "@hesaab/testkit";
import { alerts, auditLog, backupRecords, migrate, openCatalog, raiseAlert, storageSamples, type Catalog } from "@hesaab/db";
import { newId, subjectOf, type Message } from "@hesaab/contracts";
import { createPlatformSchema, generatePlatform } from "@hesaab/platform";
import { loadEnv } from "../src/env";
import { storageView, type AppRouter } from "@hesaab/api";
import { Secret } from "@hesaab/config";
import { alertChannelsView } from "@hesaab/storage-ops";
import { startGateway } from "../src/gateway";
import { buildServer } from "../src/server";

const adminSecret = randomBytes(24).toString("base64"); // 32 characters
let database: FreshDatabase;
let catalog: Catalog;
let url: string;
let close: () => Promise<void>;
const ALERT_ENV = {
  ALERT_WEBHOOK_URL: "https://hooks.example.test/T01/hook",
  ALERT_WEBHOOK_SECRET: new Secret("whsec-gateway-test"),
  ALERT_SMTP_URL: new Secret("smtp://alerts:smtp-pass-gateway-test@mail.example.test:587"),
  ALERT_EMAIL_TO: "ops@example.test",
  ALERT_EMAIL_FROM: "backup@example.test",
};

beforeAll(async () => {
  database = await freshDatabase("gateway");
  await migrate({ url: database.url });
  catalog = openCatalog({ url: database.url });
  const verifyAdminSession = sessionVerifier({
    kind: "admin",
    keys: { secret: Buffer.from(adminSecret, "utf8") },
    isRevoked: (jti) => isSessionRevoked(catalog.db, jti),
  });
  const app = await buildServer({ db: catalog.db, verifyAdminSession, storage: () => storageView(catalog), alertChannels: alertChannelsView(ALERT_ENV) });
  url = await app.listen({ host: "127.0.0.1", port: 0 });
  close = () => app.close();
});
afterAll(async () => {
  await close?.();
  await catalog?.close();
  await database?.drop();
});

/** An admin session as HesaabPlus's admin login signs it with PyJWT (see the README). */
function adminToken(o: { secret?: string; expiresInS?: number; userId?: string; aud?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + (o.expiresInS ?? 3600);
  const claims = { sub: o.userId ?? "ops", role: "super_admin", aud: o.aud ?? "hesaab-admin", iat: Math.min(now, exp - 60), exp, jti: randomUUID() };
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(Buffer.from(o.secret ?? adminSecret, "utf8"));
}

function client(base: string, token?: string | Promise<string>) {
  const pending = Promise.resolve(token);
  return createTRPCClient<AppRouter>({
    links: [httpBatchLink({ url: `${base}/trpc`, headers: async () => ((await pending) ? { authorization: `Bearer ${await pending}` } : {}) })],
  });
}

async function refusal(p: Promise<unknown>): Promise<{ code: string | undefined; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCClientError);
  expect((err as TRPCClientError<AppRouter>).data?.stack, "no stack trace reaches a client").toBeUndefined();
  return { code: (err as TRPCClientError<AppRouter>).data?.code, message: (err as Error).message };
}

describe("gateway", () => {
  it("serves the typed router over HTTP to a signed-in admin", async () => {
    const id = newId("bkp");
    await catalog.db.insert(backupRecords).values({ id, backupType: "tenant", tenantId: "t1", filename: "x", encryptionKeyId: "k", status: "completed" });
    const admin = client(url, adminToken());
    expect((await admin.health.query()).ok).toBe(true);
    expect(await admin.admin.me.query()).toEqual({ userId: "ops", role: "super_admin" });
    const list = await admin.backups.list.query({ tenantId: "t1" });
    expect(list.map((b) => b.id)).toEqual([id]);
  });

  it("serves no backup without an admin session: none, a tenant's, forged, expired, old-format or malformed", async () => {
    // a tenant's session, even signed with the admin secret
    const tenantToken = adminToken({ aud: "hesaab-tenant" });
    const payload = Buffer.from(JSON.stringify({ u: "ops", exp: Math.floor(Date.now() / 1000) + 3600 })).toString("base64url");
    const oldFormat = `admin1.${payload}.${createHmac("sha256", Buffer.from(adminSecret, "utf8")).update(`admin1.${payload}`).digest("base64url")}`;
    for (const token of [
      undefined,
      await tenantToken,
      await adminToken({ secret: "y".repeat(32) }),
      await adminToken({ expiresInS: -120 }),
      oldFormat,
      "garbage",
    ]) {
      const c = client(url, token);
      for (const call of [
        () => c.backups.list.query({}),
        () => c.backups.create.mutate({ tenantIds: ["t1"] }),
        () => c.admin.me.query(),
        () => c.storage.analytics.query(),
        () => c.alerts.list.query({}),
        () => c.alerts.channels.query(),
        () => c.alerts.resolve.mutate({ id: newId("alr") }),
        () => c.audit.list.query({}),
      ]) {
        const { code, message } = await refusal(call());
        expect(code, String(token)).toBe("UNAUTHORIZED");
        expect(message).toMatch(/sign in again/);
      }
    }
    // health stays open (load balancers ask it)
    expect((await client(url).health.query()).ok).toBe(true);
    const res = await fetch(`${url}/trpc/health`);
    expect(Object.fromEntries(["x-content-type-options", "referrer-policy", "x-frame-options"].map((h) => [h, res.headers.get(h)]))).toEqual({
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "x-frame-options": "DENY",
    });
  });

  it("a gateway without ADMIN_SESSION_SECRET serves no admin procedure, and says why", async () => {
    const app = await buildServer({ db: catalog.db });
    const bare = await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const { code, message } = await refusal(client(bare, adminToken()).backups.list.query({}));
      expect(code).toBe("UNAUTHORIZED");
      expect(message).toMatch(/ADMIN_SESSION_SECRET/);
    } finally {
      await app.close();
    }
  });

  it("storage analytics: what each provider holds and costs, the largest tenants first", async () => {
    const copy = (size: number) => ({ location: "k", status: "stored" as const, size });
    await catalog.db.insert(backupRecords).values([
      {
        id: newId("bkp"),
        backupType: "tenant",
        tenantId: "small",
        filename: "a",
        encryptionKeyId: "k",
        status: "completed",
        fileSize: 1_000,
        providers: { b2: copy(1_000), r2: copy(1_000) },
      },
      {
        id: newId("bkp"),
        backupType: "tenant",
        tenantId: "large",
        filename: "b",
        encryptionKeyId: "k",
        status: "degraded",
        fileSize: 5_000,
        providers: { b2: copy(5_000), r2: { location: "k", status: "failed" } },
      },
      { id: newId("bkp"), backupType: "tenant", tenantId: "gone", filename: "c", encryptionKeyId: "k", status: "failed", fileSize: 9_000, providers: {} },
    ]);
    const view = await client(url, adminToken()).storage.analytics.query();
    expect(view.currency).toBe("USD");
    expect(view.providers.map(({ provider, bytes, backups }) => ({ provider, bytes, backups }))).toEqual([
      { provider: "b2", bytes: 6_000, backups: 2 },
      { provider: "r2", bytes: 1_000, backups: 1 },
    ]);
    expect(view.topTenants).toEqual([
      { tenantId: "large", bytes: 5_000, backups: 1 },
      { tenantId: "small", bytes: 2_000, backups: 1 },
    ]);
    expect(view.monthlyTotal).toBeGreaterThanOrEqual(0);
    expect(view.projection.map((p) => p.months)).toEqual([3, 6, 12]);
  });

  it("storage analytics: usage over time, the day's last sample per provider, oldest first (the admin app's chart)", async () => {
    // yesterday noon (UTC) and an hour later, the same day; the day before
    const noon = new Date(`${new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)}T12:00:00Z`);
    const later = new Date(noon.getTime() + 3_600_000);
    const older = new Date(noon.getTime() - 86_400_000);
    await catalog.db.insert(storageSamples).values([
      { takenAt: older, provider: "b2", bytes: 100, objects: 1 },
      { takenAt: noon, provider: "b2", bytes: 150, objects: 2 },
      { takenAt: later, provider: "b2", bytes: 200, objects: 3 },
      { takenAt: later, provider: "r2", bytes: 190, objects: 3 },
    ]);
    const view = await client(url, adminToken()).storage.analytics.query();
    const day = (d: Date) => d.toISOString().slice(0, 10);
    expect(view.growth).toEqual([
      { day: day(older), provider: "b2", bytes: 100, objects: 1 },
      { day: day(noon), provider: "b2", bytes: 200, objects: 3 }, // two samples that day: the later one
      { day: day(noon), provider: "r2", bytes: 190, objects: 3 },
    ]);
  });

  it("alerts.channels: the configured channels' kinds and hosts, never a secret", async () => {
    const shown = await client(url, adminToken()).alerts.channels.query();
    expect(shown).toEqual({
      channels: [
        { kind: "webhook", target: "https://hooks.example.test" },
        { kind: "email", target: "ops@example.test via smtp://mail.example.test:587" },
      ],
    });
    const text = JSON.stringify(shown);
    for (const secret of ["whsec-gateway-test", "smtp-pass-gateway-test", "T01"]) expect(text).not.toContain(secret);
  });

  it("alerts: open ones listed; acknowledged stays open, resolved leaves the list; each audited; an unknown one is NOT_FOUND", async () => {
    const admin = client(url, adminToken({ userId: "nima" }));
    const id = (await raiseAlert(
      { catalog },
      { severity: "critical", code: "tenant_backup_failed", message: "backup of tenant t9 failed", context: { tenantId: "t9" } },
    ))!;
    expect((await admin.alerts.list.query({})).find((a) => a.id === id)).toMatchObject({ severity: "critical", tenantId: "t9", acknowledgedAt: null });
    await admin.alerts.acknowledge.mutate({ id });
    await client(url, adminToken({ userId: "sara" })).alerts.acknowledge.mutate({ id }); // the first to acknowledge stays the one who did
    expect((await admin.alerts.list.query({})).find((a) => a.id === id)).toMatchObject({ acknowledgedBy: "admin:nima", resolvedAt: null });
    await admin.alerts.resolve.mutate({ id });
    expect((await admin.alerts.list.query({})).some((a) => a.id === id)).toBe(false);
    expect((await admin.alerts.list.query({ resolved: true })).find((a) => a.id === id)).toMatchObject({ acknowledgedBy: "admin:nima" });
    const [row] = await catalog.db.select().from(alerts).where(eq(alerts.id, id));
    expect(row!.resolvedAt).toBeInstanceOf(Date);
    expect(await refusal(admin.alerts.resolve.mutate({ id }))).toMatchObject({ code: "NOT_FOUND", message: expect.stringMatching(/not open/) as string });
    expect(await refusal(admin.alerts.acknowledge.mutate({ id: newId("alr") }))).toMatchObject({ code: "NOT_FOUND" });
    expect((await refusal(admin.alerts.resolve.mutate({ id: "not-an-id" }))).code).toBe("BAD_REQUEST");

    const trail = await admin.audit.list.query({ tenantId: "t9" });
    expect(trail.map((e) => [e.actor, e.action, e.targetId])).toEqual([
      ["admin:nima", "alert.resolved", id],
      ["admin:sara", "alert.acknowledged", id],
      ["admin:nima", "alert.acknowledged", id],
    ]);

    // resolved without being acknowledged: the resolver is the one who saw it
    const other = (await raiseAlert({ catalog }, { severity: "warning", code: "storage_degraded", message: "r2 slow" }))!;
    await admin.alerts.resolve.mutate({ id: other });
    expect((await admin.alerts.list.query({ resolved: true })).find((a) => a.id === other)).toMatchObject({ acknowledgedBy: "admin:nima" });
  });

  it("rejects bad input with a clear error", async () => {
    await expect(client(url, adminToken()).backups.list.query({ tenantId: "x'; drop table y" })).rejects.toThrow(/tenant id/);
  });

  it("queues a backup request on the bus in the admin's name for the tenants that may be backed up, answers the others per id, and audits both", async () => {
    const platformDb = await freshDatabase("gateway_backup_now");
    await createPlatformSchema({ url: platformDb.url });
    const { tenants } = await generatePlatform({ url: platformDb.url, tenants: 4, scale: 0.02 });
    const [active, other] = tenants.filter((t) => t.status === "active").map((t) => t.id);
    const suspended = tenants.find((t) => t.status === "suspended")!.id;
    const stranger = "00000000-0000-4000-8000-000000000000";
    const prefix = `G${randomBytes(3).toString("hex")}`;
    const control = await connectBus({ url: testEnv().NATS_URL!, name: "test-control", prefix });
    const gateway = await startGateway(
      loadEnv({
        ...testEnv(),
        PLATFORM_DATABASE_URL: platformDb.url,
        BACKUP_DATABASE_URL: database.url,
        HESAAB_BUS_PREFIX: prefix,
        GATEWAY_PORT: "0",
        ADMIN_SESSION_SECRET: adminSecret,
      }),
    );
    const seen: Message[] = [];
    const consumer = await control.consume({ durable: "test-watch", filter: subjectOf("backup.tenant.requested.v1"), handler: async (m) => void seen.push(m) });
    try {
      const sara = client(gateway.address, adminToken({ userId: "sara" }));
      const answer = await sara.backups.create.mutate({ tenantIds: [active!, suspended, stranger, "not an id'; --", other!, active!] });
      expect(answer.queued).toEqual([active, other]);
      expect(answer.refused).toEqual([
        { tenantId: suspended, code: "tenant_not_active", message: `tenant ${suspended} is suspended: suspended and deleted tenants are not backed up` },
        { tenantId: stranger, code: "not_a_tenant", message: `${stranger} is not a tenant of this platform (no row in public.tenants)` },
        {
          tenantId: "not an id'; --",
          code: "invalid_tenant_id",
          message: expect.stringMatching(/^"not an id'; --" is not a tenant id of this platform/) as string,
        },
      ]);
      const request = await waitFor(() => seen.find((m) => m.type === "backup.tenant.requested.v1"), "the backup request");
      expect(request.data).toMatchObject({ tenantIds: [active, other], purpose: "on_demand", requestedBy: "admin:sara" });

      // all refused: nothing queued, still an answer (the admin app shows it), audited as refused
      expect(await sara.backups.create.mutate({ tenantIds: [suspended] })).toEqual({
        queued: [],
        refused: [expect.objectContaining({ tenantId: suspended, code: "tenant_not_active" })],
      });
      const audit = await catalog.db.select().from(auditLog).where(eq(auditLog.action, "backup.request")).orderBy(auditLog.id);
      expect(audit).toMatchObject([
        {
          actor: "admin:sara",
          targetType: "tenant_backup",
          outcome: "ok",
          details: {
            tenantIds: [active, other],
            refused: [
              { tenantId: suspended, code: "tenant_not_active" },
              { tenantId: stranger, code: "not_a_tenant" },
              { tenantId: "not an id'; --", code: "invalid_tenant_id" },
            ],
          },
        },
        {
          actor: "admin:sara",
          targetId: suspended,
          outcome: "refused",
          details: { tenantIds: [], refused: [{ tenantId: suspended, code: "tenant_not_active" }] },
        },
      ]);
      // the refused request published nothing: the next message on the queue is the next accepted request
      await sara.backups.create.mutate({ tenantIds: [other!] });
      await waitFor(() => seen.length >= 2, "the third request");
      expect(seen.map((m) => (m.data as { tenantIds: string[] }).tenantIds)).toEqual([[active, other], [other]]);
    } finally {
      await consumer.stop();
      await gateway.stop();
      await control.deleteStreams().catch(() => {});
      await control.close();
      await platformDb.drop();
    }
  });
});
