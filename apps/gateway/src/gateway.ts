import { createHash, createHmac } from "node:crypto";
import path from "node:path";
import { desc, eq } from "drizzle-orm";
import pg from "pg";
import { catalogUrl, HesaabError } from "@hesaab/config";
import { connectBus } from "@hesaab/bus";
import { KeyRing, TenantKeyStore, verifyTenantSession } from "@hesaab/crypto";
import { customerExports, openCatalog } from "@hesaab/db";
import { openCustomerExport, requestCustomerExport, type CustomerExport, type CustomerExportDeps } from "@hesaab/tenant-backup";
import type { GatewayEnv } from "./env";
import type { ExportView, TenantExportsPort } from "./router";
import { buildServer } from "./server";

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
  const platform = new pg.Pool({ connectionString: env.PLATFORM_DATABASE_URL, max: 4, application_name: "hesaab-gateway" });
  platform.on("error", () => {});
  const secret = env.TENANT_SESSION_SECRET?.reveal();
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
        linkToken: (exportId) => createHmac("sha256", secret).update(`export-link:${exportId}`).digest("base64url"),
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
    ...(exports ? { exports } : {}),
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

/**
 * The tenant app's exports. A download link carries a token derived from the export's id with the
 * session secret (stored in the catalog only as a hash), so the gateway can show the link again
 * for the export's tenant, and only the gateway can make one.
 */
function tenantExports(o: {
  deps: CustomerExportDeps;
  linkToken: (exportId: string) => string;
  queue: (e: CustomerExport) => Promise<void>;
  canDecrypt: boolean;
  timeZone: string;
}): TenantExportsPort {
  const tokenHash = (id: string) => createHash("sha256").update(o.linkToken(id)).digest("hex");
  const view = (e: CustomerExport): ExportView => {
    // an export made elsewhere (`hesaab export customer`) has a token of its own: no link here
    const open = e.status === "ready" && e.expiresAt !== null && e.expiresAt > new Date() && e.downloadTokenHash === tokenHash(e.id);
    return {
      id: e.id,
      day: e.day,
      status: e.status,
      size: e.fileSize,
      readyAt: e.readyAt?.toISOString() ?? null,
      expiresAt: e.expiresAt?.toISOString() ?? null,
      downloads: e.downloadCount,
      downloadUrl: open ? `/exports/${encodeURIComponent(e.tenantId)}/${e.id}/download?token=${o.linkToken(e.id)}` : null,
    };
  };
  return {
    async request({ tenantId, userId }) {
      const { export: e } = await requestCustomerExport(o.deps, { tenantId, requestedBy: `tenant-user:${userId}`.slice(0, 200), tokenFor: o.linkToken, timeZone: o.timeZone });
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
      const today = new Intl.DateTimeFormat("en-CA", { timeZone: o.timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
      return { today, askedToday: rows.some((r) => r.day === today), exports: rows.map(view) };
    },
    async open(link) {
      if (!o.canDecrypt) throw new HesaabError({ code: "exports_unavailable", message: "this gateway has no tenant master keys (BACKUP_MASTER_KEYS): it cannot serve downloads" });
      return openCustomerExport(o.deps, link);
    },
  };
}
