// The tenant app's self-backup, end to end through the gateway: sessions signed with
// TENANT_SESSION_SECRET, the request queued on the bus, the export built as backup-svc builds it,
// the signed link served decrypted; another tenant, a forged session or a changed link get nothing.
import { createHmac, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import { connectBus, type Bus } from "@hesaab/bus";
import { Secret } from "@hesaab/config";
import { subjectOf } from "@hesaab/contracts";
import { KeyRing, signTenantSession, TenantKeyStore } from "@hesaab/crypto";
import { migrate, openCatalog, type Catalog } from "@hesaab/db";
import { createPlatformSchema, generatePlatform, type GenerateResult } from "@hesaab/platform";
import { buildCustomerExport, requestCustomerExport } from "@hesaab/tenant-backup";
import { freshDatabase, testEnv, waitFor, type FreshDatabase } from "@hesaab/testkit";
import { loadEnv } from "../src/env";
import { startGateway, type RunningGateway } from "../src/gateway";
import type { AppRouter } from "../src/router";

const secret = randomBytes(24).toString("base64"); // 32 characters
const masterKey = randomBytes(32);
let database: FreshDatabase;
let platform: GenerateResult;
let dataDir: string;
let gateway: RunningGateway;
let control: Bus;
let pool: pg.Pool;
let catalog: Catalog;
let keys: TenantKeyStore;
let stopBuilder: () => Promise<void>;
const built: string[] = [];

beforeAll(async () => {
  database = await freshDatabase("gw_exports");
  await createPlatformSchema({ url: database.url });
  platform = await generatePlatform({ url: database.url, tenants: 4, scale: 0.05 });
  await migrate({ url: database.url });
  dataDir = await mkdtemp(path.join(os.tmpdir(), "gw-exports-"));
  const prefix = `GX${randomBytes(3).toString("hex")}`;
  gateway = await startGateway(
    loadEnv({
      ...testEnv(),
      PLATFORM_DATABASE_URL: database.url,
      BACKUP_DATABASE_URL: database.url,
      HESAAB_BUS_PREFIX: prefix,
      GATEWAY_PORT: "0",
      HESAAB_DATA_DIR: dataDir,
      TENANT_SESSION_SECRET: secret,
      BACKUP_MASTER_KEYS: `1:${masterKey.toString("base64")}`,
    }),
  );
  // backup-svc's part: build each requested export (the same library call it makes)
  control = await connectBus({ url: testEnv().NATS_URL!, name: "test-builder", prefix });
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  catalog = openCatalog({ url: database.url });
  keys = new TenantKeyStore({ pool: catalog.pool, masterKeys: new Map([[1, new Secret(masterKey)]]) });
  const deps = { platform: pool, catalog, keyRing: new KeyRing({ tenantKeys: keys }), exportDir: path.join(dataDir, "exports") };
  const consumer = await control.consume({
    durable: "test-builder",
    filter: subjectOf("export.customer.requested.v1"),
    handler: async (m) => {
      const data = m.data as { exportId: string; tenantId: string };
      await buildCustomerExport(deps, { exportId: data.exportId, tenantId: data.tenantId });
      built.push(data.exportId);
    },
  });
  stopBuilder = () => consumer.stop();
}, 120_000);

afterAll(async () => {
  await stopBuilder?.();
  await gateway?.stop();
  await control?.deleteStreams().catch(() => {});
  await control?.close();
  await pool?.end();
  await catalog?.close();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

function session(tenantId: string, o: { secret?: string; expiresInS?: number } = {}): string {
  return signTenantSession({ tenantId, userId: "user-1", expiresAt: new Date(Date.now() + (o.expiresInS ?? 3600) * 1000) }, Buffer.from(o.secret ?? secret, "utf8"));
}

function client(token?: string) {
  return createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${gateway.address}/trpc`, headers: token ? { authorization: `Bearer ${token}` } : {} })] });
}

const active = () => platform.tenants.filter((t) => t.status === "active").map((t) => t.id);

describe("tenant app: customer self-backup through the gateway", () => {
  it("refuses without a valid session: none, forged, expired", async () => {
    const a = active()[0]!;
    for (const token of [undefined, session(a, { secret: "x".repeat(32) }), session(a, { expiresInS: -5 }), "v1.abc.def"]) {
      const err = await client(token).tenant.exports.list.query().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TRPCClientError);
      expect((err as TRPCClientError<AppRouter>).data?.code).toBe("UNAUTHORIZED");
    }
  });

  it("asks, is built by backup-svc, downloads through the signed link; once a day", async () => {
    const a = active()[0]!;
    const me = client(session(a));
    expect(await me.tenant.me.query()).toEqual({ tenantId: a, userId: "user-1" });
    const requested = await me.tenant.exports.request.mutate();
    expect(requested).toMatchObject({ status: "pending", downloadUrl: null });
    await waitFor(() => built.includes(requested.id), "the export built");
    const listed = await me.tenant.exports.list.query();
    expect(listed.askedToday).toBe(true);
    const [ready] = listed.exports;
    expect(ready).toMatchObject({ id: requested.id, status: "ready", downloads: 0 });
    const res = await fetch(`${gateway.address}${ready!.downloadUrl!}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toMatch(/attachment; filename="hesaab-export-.+\.zip"/);
    const zip = Buffer.from(await res.arrayBuffer());
    expect(zip.subarray(0, 4).toString("latin1")).toBe("PK\u0003\u0004");
    expect((await me.tenant.exports.list.query()).exports[0]!.downloads).toBe(1);

    const again = await me.tenant.exports.request.mutate().catch((e: unknown) => e);
    expect((again as TRPCClientError<AppRouter>).data?.code).toBe("TOO_MANY_REQUESTS");
    expect((again as TRPCClientError<AppRouter>).data?.appCode).toBe("export_daily_limit");
    expect((again as Error).message).toMatch(/One export per day/);
  });

  it("tenant B sees none of A's exports and cannot open A's link, changed in any way", async () => {
    const [a, b] = active();
    const [mine] = (await client(session(a!)).tenant.exports.list.query()).exports;
    const link = new URL(`${gateway.address}${mine!.downloadUrl!}`);
    expect((await client(session(b!)).tenant.exports.list.query()).exports).toEqual([]);
    const token = link.searchParams.get("token")!;
    for (const url of [
      `${gateway.address}/exports/${b}/${mine!.id}/download?token=${token}`, // B's tenant in the path
      `${gateway.address}/exports/${a}/${mine!.id}/download?token=${token.slice(0, -10)}${token.at(-10) === "A" ? "B" : "A"}${token.slice(-9)}`, // one character of the signature changed
      `${gateway.address}/exports/${a}/${mine!.id}/download`,
      `${gateway.address}/exports/${a}/exp_01jzzzzzzzzzzzzzzzzzzzzzzz/download?token=${token}`,
    ]) {
      const res = await fetch(url);
      expect(res.status, url).toBe(404);
      expect(await res.json()).toMatchObject({ error: "export_not_found" });
    }
  });

  it("what goes wrong on our side reaches the tenant as a sentence, without paths; an export made elsewhere shows no link", async () => {
    const b = active()[1]!;
    // made with the library's own random token (as `hesaab export customer` does): not a link the gateway can give
    const deps = { platform: pool, catalog, keyRing: new KeyRing({ tenantKeys: keys }), exportDir: path.join(dataDir, "exports") };
    const { export: e, token } = await requestCustomerExport(deps, { tenantId: b, requestedBy: "support" });
    const ready = await buildCustomerExport(deps, { exportId: e.id });
    const listed = await client(session(b)).tenant.exports.list.query();
    expect(listed.exports.find((x) => x.id === e.id)).toMatchObject({ status: "ready", downloadUrl: null });
    // nor does its own token open it through the gateway (links are the gateway's signed ones)
    expect((await fetch(`${gateway.address}/exports/${b}/${e.id}/download?token=${token}`)).status).toBe(404);

    // A's export, its key sidecar gone: the download fails, and the answer names no file
    const a = active()[0]!;
    const [mine] = (await client(session(a)).tenant.exports.list.query()).exports;
    await rm(`${(await catalog.pool.query<{ local_path: string }>("select local_path from backup.customer_exports where id = $1", [mine!.id])).rows[0]!.local_path}.keys.json`);
    const res = await fetch(`${gateway.address}${mine!.downloadUrl!}`);
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: string; message: string };
    expect(body).toEqual({ error: "internal", message: "the download failed on our side; try again in a moment" });
    expect(JSON.stringify(body)).not.toContain(dataDir);
    void ready;
  });

  it("a download link lasts minutes: an expired one is refused with what to do", async () => {
    const a = active()[0]!;
    const [mine] = (await client(session(a)).tenant.exports.list.query()).exports;
    const link = new URL(`${gateway.address}${mine!.downloadUrl!}`);
    const [expires] = link.searchParams.get("token")!.split(".");
    expect(Number(expires) * 1000 - Date.now()).toBeLessThanOrEqual(15 * 60_000);
    const past = Math.floor(Date.now() / 1000) - 1;
    const signature = createHmac("sha256", Buffer.from(secret, "utf8")).update(`export-link:${a}:${mine!.id}:${past}`).digest("base64url");
    const res = await fetch(`${gateway.address}/exports/${a}/${mine!.id}/download?token=${past}.${signature}`);
    expect(res.status).toBe(410);
    expect(await res.json()).toMatchObject({ error: "export_link_expired", message: expect.stringMatching(/open My data again/) as string });
    // the same expiry with a signature for another time is no link at all
    expect((await fetch(`${gateway.address}/exports/${a}/${mine!.id}/download?token=${past + 3600}.${signature}`)).status).toBe(404);
  });

  it("a suspended tenant is told it cannot export", async () => {
    const suspended = platform.tenants.find((t) => t.status === "suspended")!.id;
    const err = await client(session(suspended)).tenant.exports.request.mutate().catch((e: unknown) => e);
    expect((err as TRPCClientError<AppRouter>).data?.code).toBe("FORBIDDEN");
    expect((err as TRPCClientError<AppRouter>).data?.appCode).toBe("tenant_not_active");
  });
});
