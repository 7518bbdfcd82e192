import path from "node:path";
import { storageView, type Context } from "@hesaab/api";
import { catalogUrl } from "@hesaab/config";
import { connectBus } from "@hesaab/bus";
import { KeyRing, TenantKeyStore } from "@hesaab/crypto";
import { openCatalog, openPool, type Catalog } from "@hesaab/db";
import { checkDisasterTarget, disasterTargetUrl } from "@hesaab/dr";
import { gaugedReadiness, natsCheck, postgresCheck, ServiceMetrics } from "@hesaab/observability";
import { isSessionRevoked, sessionVerifier, type SessionKeys } from "@hesaab/session";
import { alertChannelsView } from "@hesaab/storage-ops";
import {
  customerExportLinks,
  existingTenants,
  screenBackupRequest,
  tenantDirectory,
  tenantRowCounts,
  type CustomerExportDeps,
  type CustomerExportLinks,
} from "@hesaab/tenant-backup";
import type { GatewayEnv } from "./env";
import { buildServer } from "./server";

/** Connections of the gateway's platform pool (tenant checks, plan discovery). */
export const PLATFORM_POOL_MAX = 4;

export interface RunningGateway {
  /** `http://host:port` it listens on. */
  address: string;
  /**
   * Stops within GATEWAY_SHUTDOWN_GRACE_MS: no new connections; requests in flight finish, or
   * have their connections cut at the deadline; then the bus is drained and the pools ended (each
   * within what is left, at least a second). `forced` when anything had to be cut short.
   */
  stop(): Promise<{ forced: boolean }>;
}

/** Resolves true once `work` settled (either way), false when `ms` passed first. */
async function settles(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const done = work.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The gateway: the catalog for queries, the bus for commands (a backup request becomes
 * `backup.tenant.requested.v1` on the work queue, a tenant's export request
 * `export.customer.requested.v1`), the HTTP surface from `buildServer`.
 */
export async function startGateway(env: GatewayEnv, o: { logStream?: NodeJS.WritableStream } = {}): Promise<RunningGateway> {
  const metrics = new ServiceMetrics({ service: "gateway" });
  const catalog = openCatalog({ url: catalogUrl(env), connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS });
  const bus = await connectBus({ url: env.NATS_URL, name: "gateway", prefix: env.HESAAB_BUS_PREFIX, observer: metrics.busObserver() }).catch(
    async (err: unknown) => {
      await catalog.close();
      throw err;
    },
  );
  await bus.ensureStreams();
  const platform = openPool({
    url: env.PLATFORM_DATABASE_URL,
    max: PLATFORM_POOL_MAX,
    name: "hesaab-gateway",
    connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
  });
  // one object, so the discovered tenant plan is reused for a minute (tenantPlan's cache is per deps)
  const screening = { platform, discover: { tenantColumn: env.TENANT_COLUMN } };
  const secret = env.TENANT_SESSION_SECRET?.reveal();
  const exportDeps: CustomerExportDeps = {
    platform,
    catalog,
    // Without tenant master keys the gateway can queue exports and list them, not decrypt them.
    keyRing: env.BACKUP_MASTER_KEYS
      ? new KeyRing({ tenantKeys: new TenantKeyStore({ pool: catalog.pool, masterKeys: env.BACKUP_MASTER_KEYS }) })
      : (undefined as never),
    exportDir: path.join(env.HESAAB_DATA_DIR, "exports"),
  };
  const verifiers = sessionVerifiers(env, catalog);
  const exports: CustomerExportLinks | undefined = secret
    ? customerExportLinks({
        deps: exportDeps,
        secret,
        // msgId: a publish retried by the client is one request on the queue
        queue: async (e) =>
          void (await bus.publish("export.customer.requested.v1", { exportId: e.id, tenantId: e.tenantId, requestedBy: e.requestedBy }, { msgId: e.id })),
        canDecrypt: Boolean(env.BACKUP_MASTER_KEYS),
        timeZone: env.CUSTOMER_EXPORT_TZ,
        maxDownloads: env.CUSTOMER_EXPORT_MAX_DOWNLOADS,
      })
    : undefined;
  const app = await buildServer(
    {
      db: catalog.db,
      send: async (type, data, opts) => ({ id: (await bus.publish(type, data, opts)).message.id }),
      // the request's id is the operation's: its jobs' events carry it (live progress)
      requestBackup: async ({ tenantIds, requestedBy }) => ({
        operationId: (await bus.publish("backup.tenant.requested.v1", { tenantIds, purpose: "on_demand", requestedBy })).message.id,
      }),
      events: (o) => bus.readEvents(o),
      // "back up now" queues only tenants of the platform that are active (one query on its root table)
      screenTenants: (tenantIds) => screenBackupRequest(screening, { tenantIds }),
      tenantDirectory: (q) => tenantDirectory(screening, q),
      tenantRows: (tenantId) => tenantRowCounts(screening, tenantId),
      existingTenants: () => existingTenants(screening),
      runtimeEnv: env,
      ...verifiers,
      exportRoles: env.CUSTOMER_EXPORT_ROLES,
      ...(exports ? { exports } : {}),
      storage: () => storageView(catalog),
      // a disaster restore never writes where the platform or the catalog live (dr-svc checks again before it starts)
      checkDisasterTarget: async ({ targetDb, allowNonEmpty }) =>
        void (await checkDisasterTarget({
          targetUrl: disasterTargetUrl(targetDb, env.PLATFORM_DATABASE_URL),
          liveUrls: [env.PLATFORM_DATABASE_URL, catalogUrl(env)],
          allowNonEmpty,
        })),
      alertChannels: alertChannelsView(env),
      drills: env.DR_MASTER_KEYS ? { keys: env.DR_MASTER_KEYS, windowDays: env.DRILL_WINDOW_DAYS ?? env.BACKUP_RETENTION_DAYS } : undefined,
    },
    {
      logger: { level: env.GATEWAY_LOG_LEVEL, ...(o.logStream ? { stream: o.logStream } : {}) },
      rateLimit: { perSession: env.GATEWAY_RATE_LIMIT_PER_SESSION, perIp: env.GATEWAY_RATE_LIMIT_PER_IP },
      // the gateway reads no bucket itself: it is ready with its databases and NATS
      observability: {
        metrics,
        readiness: gaugedReadiness({
          service: "gateway",
          metrics,
          checks: [postgresCheck("catalog_db", catalog.pool), postgresCheck("platform_db", platform), natsCheck(bus.nc)],
        }),
      },
    },
  );
  const address = await app.listen({ host: env.GATEWAY_HOST, port: env.GATEWAY_PORT });
  let stopping: Promise<{ forced: boolean }> | undefined;
  return {
    address,
    stop() {
      stopping ??= (async () => {
        const deadline = Date.now() + env.GATEWAY_SHUTDOWN_GRACE_MS;
        const left = () => Math.max(1000, deadline - Date.now());
        let forced = false;
        // idle keep-alive connections close at once (fastify's forceCloseConnections: "idle"); requests in flight get until the deadline
        const closing = app.close();
        if (!(await settles(closing, Math.max(0, deadline - Date.now())))) {
          forced = true;
          app.log.warn({ graceMs: env.GATEWAY_SHUTDOWN_GRACE_MS }, "requests still running at the shutdown deadline: their connections are cut");
          app.server.closeAllConnections();
          await settles(closing, 1000);
        }
        // a request cut short may still hold or wait for a pool's connection: each step gets what is left, not for ever
        for (const [what, step] of [
          ["bus", () => bus.drain()],
          ["platform pool", () => platform.end()],
          ["catalog pool", () => catalog.close()],
        ] as const) {
          if (!(await settles(step(), left()))) {
            forced = true;
            app.log.warn(`the ${what} did not close in time`);
          }
        }
        return { forced };
      })();
      return stopping;
    },
  };
}

/**
 * The session checks of both apps. A public key or a JWKS URL, when configured, checks both kinds
 * (the audience tells them apart) and the shared secrets are then not accepted for sessions at all;
 * else each kind is HS256 with its own secret, and a kind without one is not configured. Every
 * session's jti is looked up in the catalog's revocations on each request (no cache).
 */
function sessionVerifiers(env: GatewayEnv, catalog: Catalog): Pick<Context, "verifySession" | "verifyAdminSession"> {
  const asymmetric: SessionKeys | undefined = env.SESSION_PUBLIC_KEY
    ? { publicKey: env.SESSION_PUBLIC_KEY }
    : env.SESSION_JWKS_URL
      ? { jwksUrl: env.SESSION_JWKS_URL }
      : undefined;
  const keysOf = (secret: Buffer | undefined): SessionKeys | undefined => asymmetric ?? (secret ? { secret } : undefined);
  const common = { issuer: env.SESSION_ISSUER, tenantMaxHours: env.TENANT_SESSION_MAX_HOURS, isRevoked: (jti: string) => isSessionRevoked(catalog.db, jti) };
  const tenantKeys = keysOf(env.TENANT_SESSION_SECRET?.reveal());
  const adminKeys = keysOf(env.ADMIN_SESSION_SECRET?.reveal());
  return {
    ...(tenantKeys ? { verifySession: sessionVerifier({ kind: "tenant", keys: tenantKeys, ...common }) } : {}),
    ...(adminKeys ? { verifyAdminSession: sessionVerifier({ kind: "admin", keys: adminKeys, ...common }) } : {}),
  };
}
