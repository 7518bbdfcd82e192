import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import path from "node:path";
import { desc, eq } from "drizzle-orm";
import pg from "pg";
import { catalogUrl, HesaabError } from "@hesaab/config";
import { connectBus } from "@hesaab/bus";
import { KeyRing, TenantKeyStore, verifyAdminSession, verifyTenantSession } from "@hesaab/crypto";
import { customerExports, openCatalog, type Catalog } from "@hesaab/db";
import { storageAnalytics } from "@hesaab/storage-ops";
import { exportDay, exportSummary, openCustomerExport, requestCustomerExport, type CustomerExport, type CustomerExportDeps } from "@hesaab/tenant-backup";
import type { GatewayEnv } from "./env";
import type { ExportView, StorageView, TenantExportsPort } from "./router";
import { buildServer } from "./server";

/** Connections of the gateway's platform pool (tenant checks, plan discovery). */
export const PLATFORM_POOL_MAX = 4;

export interface RunningGateway {
  /** `http://host:port` it listens on. */
  address: string;
  stop(): Promise<void>;
}

/**
 * The gateway: the catalog for queries, the bus for commands (a backup request becomes
 * `backup.tenant.requested.v1` on the work queue, a tenant's export request
 * `export.customer.requested.v1`), the HTTP surface from `buildServer`.
 */
export async function startGateway(env: GatewayEnv): Promise<RunningGateway> {
  const catalog = openCatalog({ url: catalogUrl(env) });
  const bus = await connectBus({ url: env.NATS_URL, name: "gateway", prefix: env.HESAAB_BUS_PREFIX }).catch(async (err: unknown) => {
    await catalog.close();
    throw err;
  });
  await bus.ensureStreams();
  const platform = new pg.Pool({ connectionString: env.PLATFORM_DATABASE_URL, max: PLATFORM_POOL_MAX, application_name: "hesaab-gateway" });
  platform.on("error", () => {});
  const secret = env.TENANT_SESSION_SECRET?.reveal();
  const adminSecret = env.ADMIN_SESSION_SECRET?.reveal();
  const exportDeps: CustomerExportDeps = {
    platform,
    catalog,
    // Without tenant master keys the gateway can queue exports and list them, not decrypt them.
    keyRing: env.BACKUP_MASTER_KEYS ? new KeyRing({ tenantKeys: new TenantKeyStore({ pool: catalog.pool, masterKeys: env.BACKUP_MASTER_KEYS }) }) : (undefined as never),
    exportDir: path.join(env.HESAAB_DATA_DIR, "exports"),
  };
  const exports: TenantExportsPort | undefined = secret
    ? tenantExports({
        deps: exportDeps,
        secret,
        // msgId: a publish retried by the client is one request on the queue
        queue: async (e) => void (await bus.publish("export.customer.requested.v1", { exportId: e.id, tenantId: e.tenantId, requestedBy: e.requestedBy }, { msgId: e.id })),
        canDecrypt: Boolean(env.BACKUP_MASTER_KEYS),
        timeZone: env.CUSTOMER_EXPORT_TZ,
      })
    : undefined;
  const app = await buildServer({
    db: catalog.db,
    requestBackup: async ({ tenantIds, requestedBy }) => {
      await bus.publish("backup.tenant.requested.v1", { tenantIds, purpose: "on_demand", requestedBy });
    },
    ...(secret ? { verifySession: (token: string) => verifyTenantSession(token, secret) } : {}),
    ...(adminSecret ? { verifyAdminSession: (token: string) => verifyAdminSession(token, adminSecret) } : {}),
    ...(exports ? { exports } : {}),
    storage: () => storageView(catalog),
  });
  const address = await app.listen({ host: env.GATEWAY_HOST, port: env.GATEWAY_PORT });
  return {
    address,
    async stop() {
      await app.close();
      await bus.drain();
      await platform.end();
      await catalog.close();
    },
  };
}

/** The catalog's view of what each provider holds and costs (no bucket listing: that is `hesaab storage stats --list`). */
export async function storageView(catalog: Catalog, now = new Date()): Promise<StorageView> {
  const a = await storageAnalytics({ catalog, now });
  return {
    at: a.at,
    currency: a.prices.currency,
    providers: a.providers.map((p) => ({
      ...p,
      monthlyCost: a.cost.monthly[p.provider]?.total ?? 0,
      bytesPerDay: a.trend.find((t) => t.provider === p.provider)?.bytesPerDay ?? 0,
    })),
    byType: a.byType.map(({ type, provider, bytes, backups }) => ({ type, provider, bytes, backups })),
    topTenants: a.largestTenants,
    monthlyTotal: a.cost.monthlyTotal,
    projection: a.projection.map((p) => ({ months: p.months, monthlyTotal: p.monthlyTotal })),
  };
}

/** How long a download link the tenant app shows stays valid (the list gives fresh ones). */
const LINK_MINUTES = 15;

/**
 * The tenant app's exports. Each export's token (stored in the catalog only as a hash) is derived
 * from its id with the session secret, so only the gateway knows it; a download link does not carry
 * it but a signature over the tenant, the export and an expiry minutes away (`<expiry>.<signature>`),
 * so a link copied out of a browser's history or a proxy's log is soon worth nothing.
 */
function tenantExports(o: {
  deps: CustomerExportDeps;
  secret: Buffer;
  queue: (e: CustomerExport) => Promise<void>;
  canDecrypt: boolean;
  timeZone: string;
}): TenantExportsPort {
  const hmac = (text: string) => createHmac("sha256", o.secret).update(text).digest("base64url");
  const exportToken = (exportId: string) => hmac(`export-token:${exportId}`);
  const linkSignature = (tenantId: string, exportId: string, expires: number) => hmac(`export-link:${tenantId}:${exportId}:${expires}`);
  const tokenHash = (id: string) => createHash("sha256").update(exportToken(id)).digest("hex");
  const linkFor = (e: CustomerExport): string => {
    const expires = Math.floor(Date.now() / 1000) + LINK_MINUTES * 60;
    return `/exports/${encodeURIComponent(e.tenantId)}/${e.id}/download?token=${expires}.${linkSignature(e.tenantId, e.id, expires)}`;
  };
  const view = (e: CustomerExport): ExportView => {
    // an export made elsewhere (`hesaab export customer`) has a token of its own: no link here
    const open = e.status === "ready" && e.expiresAt !== null && e.expiresAt > new Date() && e.downloadTokenHash === tokenHash(e.id);
    return { ...exportSummary(e), downloads: e.downloadCount, downloadUrl: open ? linkFor(e) : null };
  };
  return {
    async request({ tenantId, userId }) {
      const { export: e } = await requestCustomerExport(o.deps, { tenantId, requestedBy: `tenant-user:${userId}`.slice(0, 200), tokenFor: exportToken, timeZone: o.timeZone });
      try {
        await o.queue(e);
      } catch (err) {
        // not queued: the day's export is given back, so the user can ask again
        await o.deps.catalog.db.delete(customerExports).where(eq(customerExports.id, e.id));
        throw err;
      }
      return view(e);
    },
    async list(tenantId) {
      const rows = await o.deps.catalog.db.select().from(customerExports).where(eq(customerExports.tenantId, tenantId)).orderBy(desc(customerExports.createdAt)).limit(30);
      const today = exportDay(new Date(), o.timeZone);
      return { today, askedToday: rows.some((r) => r.day === today), exports: rows.map(view) };
    },
    async open({ tenantId, exportId, token }) {
      if (!o.canDecrypt) throw new HesaabError({ code: "exports_unavailable", message: "this gateway has no tenant master keys (BACKUP_MASTER_KEYS): it cannot serve downloads" });
      const [expires, signature] = token.split(".");
      const given = Buffer.from(signature ?? "", "base64url");
      const expected = Buffer.from(linkSignature(tenantId, exportId, Number(expires)), "base64url");
      if (!/^\d+$/.test(expires ?? "") || given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new HesaabError({ code: "export_not_found", message: `export ${exportId} not found`, hint: "Check the link; it is valid for your organisation only" });
      }
      if (Number(expires) * 1000 <= Date.now()) {
        throw new HesaabError({ code: "export_link_expired", message: "this download link has expired", hint: `Links last ${LINK_MINUTES} minutes: open My data again for a fresh one` });
      }
      return openCustomerExport(o.deps, { tenantId, exportId, token: exportToken(exportId) });
    },
  };
}
