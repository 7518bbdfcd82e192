// A gateway on a generated platform, as the integration and browser tests need it: both session
// secrets and tenant master keys set, its own bus prefix, and backup-svc's part played by a builder
// that builds each requested customer export with the same library call backup-svc makes. Sessions
// are signed as HesaabPlus signs them with PyJWT (the gateway README's example): the claims spelled
// out, HS256, no helper of ours in between.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import type pg from "pg";
import { connectBus, type Bus } from "@hesaab/bus";
import { Secret } from "@hesaab/config";
import { subjectOf, type Message } from "@hesaab/contracts";
import { KeyRing, TenantKeyStore } from "@hesaab/crypto";
import { migrate, openCatalog, type Catalog } from "@hesaab/db";
import { createPlatformSchema, generatePlatform, type GenerateResult } from "@hesaab/platform";
import { buildCustomerExport, type CustomerExportDeps } from "@hesaab/tenant-backup";
import { freshDatabase, type FreshDatabase, testEnv, testPool } from "@hesaab/testkit";
import { SignJWT } from "jose";
import { loadEnv } from "../src/env";
import { startGateway, type RunningGateway } from "../src/gateway";

export interface Harness {
  database: FreshDatabase;
  platform: GenerateResult;
  dataDir: string;
  gateway: RunningGateway;
  /** The tenant session secret (32 characters). */
  secret: string;
  adminSecret: string;
  pool: pg.Pool;
  catalog: Catalog;
  /** What backup-svc would be given to build exports. */
  deps: CustomerExportDeps;
  /** Ids of the exports the builder has built, in order. */
  built: string[];
  /**
   * Holds the builder: exports asked for from now on wait, queued, until `release()` (a test that
   * must watch an export go from waiting to its progress to ready, whatever the machine's speed).
   */
  holdExports(): { release(): void };
  /** Backup requests the gateway queued. */
  backupRequests: Message[];
  /** The environment the gateway was started with (start another with overrides). */
  env: Record<string, string>;
  /** The gateway's log, one parsed JSON line each (level warn and above unless GATEWAY_LOG_LEVEL says otherwise). */
  logs: Record<string, unknown>[];
  activeTenants(): string[];
  /** A tenant session for `tenantId` (user `user-1`, role `owner` unless given). */
  tenantSession(tenantId: string, o?: SessionOptions): Promise<string>;
  /** An admin session for `userId` (role `super_admin` unless given). */
  adminSession(userId: string, o?: SessionOptions): Promise<string>;
  stop(): Promise<void>;
}

export interface SessionOptions {
  secret?: string;
  /** exp - now, in seconds (3600). */
  expiresInS?: number;
  role?: string;
  userId?: string;
  /** Claims to set (or, as undefined, to leave out) over the usual ones. */
  claims?: Record<string, unknown>;
}

/** What HesaabPlus does: `jwt.encode({ sub, role, aud, iat, exp, jti, … }, secret, algorithm="HS256")`. */
export async function pyjwtSession(o: { claims: Record<string, unknown>; secret: string }): Promise<string> {
  const claims = Object.fromEntries(Object.entries(o.claims).filter(([, v]) => v !== undefined));
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(Buffer.from(o.secret, "utf8"));
}

function sessionClaims(base: Record<string, unknown>, o: SessionOptions = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + (o.expiresInS ?? 3600);
  // an already expired session was issued before it expired
  return { ...base, iat: Math.min(now, exp - 60), exp, jti: randomUUID(), ...o.claims };
}

export async function startHarness(label: string, o: { env?: Record<string, string>; tenants?: number } = {}): Promise<Harness> {
  const database = await freshDatabase(label);
  await createPlatformSchema({ url: database.url });
  const platform = await generatePlatform({ url: database.url, tenants: o.tenants ?? 4, scale: 0.05 });
  await migrate({ url: database.url });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `${label}-`));
  const secret = randomBytes(24).toString("base64"); // 32 characters
  const adminSecret = randomBytes(24).toString("base64");
  const masterKey = randomBytes(32);
  const prefix = `GX${randomBytes(3).toString("hex")}`;
  const env: Record<string, string> = {
    ...testEnv(),
    PLATFORM_DATABASE_URL: database.url,
    BACKUP_DATABASE_URL: database.url,
    HESAAB_BUS_PREFIX: prefix,
    GATEWAY_PORT: "0",
    HESAAB_DATA_DIR: dataDir,
    TENANT_SESSION_SECRET: secret,
    ADMIN_SESSION_SECRET: adminSecret,
    BACKUP_MASTER_KEYS: `1:${masterKey.toString("base64")}`,
    GATEWAY_LOG_LEVEL: "warn",
    ...o.env,
  };
  const logs: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const gateway = await startGateway(loadEnv(env), { logStream });
  const control: Bus = await connectBus({ url: testEnv().NATS_URL!, name: "test-builder", prefix });
  const pool = testPool({ connectionString: database.url, max: 4 });
  const catalog = openCatalog({ url: database.url });
  const keys = new TenantKeyStore({ pool: catalog.pool, masterKeys: new Map([[1, new Secret(masterKey)]]) });
  const deps: CustomerExportDeps = {
    platform: pool,
    catalog,
    keyRing: new KeyRing({ tenantKeys: keys }),
    exportDir: path.join(dataDir, "exports"),
    // as backup-svc: the export's progress and outcome on the bus (the tenant app's live progress)
    publish: async (type, data, opts) => void (await control.publish(type, data, opts)),
  };
  const built: string[] = [];
  let held: Promise<void> = Promise.resolve();
  let releaseHeld = () => {};
  const backupRequests: Message[] = [];
  const consumers = [
    await control.consume({
      durable: "test-builder",
      filter: subjectOf("export.customer.requested.v1"),
      handler: async (m) => {
        const data = m.data as { exportId: string; tenantId: string };
        await held;
        await buildCustomerExport(deps, { exportId: data.exportId, tenantId: data.tenantId });
        built.push(data.exportId);
      },
    }),
    await control.consume({ durable: "test-requests", filter: subjectOf("backup.tenant.requested.v1"), handler: async (m) => void backupRequests.push(m) }),
  ];
  return {
    database,
    platform,
    dataDir,
    gateway,
    secret,
    adminSecret,
    pool,
    catalog,
    deps,
    built,
    holdExports() {
      held = new Promise<void>((resolve) => (releaseHeld = resolve));
      return { release: releaseHeld };
    },
    backupRequests,
    env,
    logs,
    activeTenants: () => platform.tenants.filter((t) => t.status === "active").map((t) => t.id),
    tenantSession(tenantId, o) {
      const claims = sessionClaims({ sub: o?.userId ?? "user-1", tenant_id: tenantId, role: o?.role ?? "owner", aud: "hesaab-tenant" }, o);
      return pyjwtSession({ claims, secret: o?.secret ?? secret });
    },
    adminSession(userId, o) {
      const claims = sessionClaims({ sub: userId, role: o?.role ?? "super_admin", aud: "hesaab-admin" }, o);
      return pyjwtSession({ claims, secret: o?.secret ?? adminSecret });
    },
    async stop() {
      releaseHeld(); // a test that failed while holding the builder: let its consumer end
      for (const c of consumers) await c.stop();
      await gateway.stop();
      await control.deleteStreams().catch(() => {});
      await control.close();
      await pool.end();
      await catalog.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
