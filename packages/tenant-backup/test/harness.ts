import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Secret } from "@hesaab/config";
import { KeyRing, TenantKeyStore } from "@hesaab/crypto";
import { migrate, openCatalog } from "@hesaab/db";
import { createPlatformSchema, generatePlatform, type GenerateResult } from "@hesaab/platform";
import { openBackend, type OpenedBackend } from "@hesaab/storage";
import { freshDatabase, testPool, testProviderConfig } from "@hesaab/testkit";
import type { TenantBackupDeps } from "../src";

export function localProvider(name: "b2" | "r2"): OpenedBackend {
  return openBackend({
    backend: testProviderConfig(name),
    faults: true,
    retry: { attempts: 2, baseDelayMs: 10 },
  });
}

export interface Harness {
  deps: TenantBackupDeps;
  url: string;
  b2: OpenedBackend;
  r2: OpenedBackend;
  platform: GenerateResult;
  events: { type: string; data: unknown }[];
  keys: TenantKeyStore;
  close(): Promise<void>;
}

/** A platform database (with the catalog in it, as in production by default), both local providers, keys. */
export async function harness({
  tenants = 6,
  scale = 0.1,
  seed = 7,
  largeScale = 1,
}: { tenants?: number; scale?: number; seed?: number; largeScale?: number } = {}): Promise<Harness> {
  const db = await freshDatabase("tbk");
  await createPlatformSchema({ url: db.url });
  const platform = await generatePlatform({ url: db.url, tenants, scale, seed, largeScale });
  await migrate({ url: db.url });
  const catalog = openCatalog({ url: db.url });
  const keys = TenantKeyStore.connect({ url: db.url, masterKeys: new Map([[1, new Secret(randomBytes(32))]]) });
  const pool = testPool({ connectionString: db.url, max: 6 });
  const workDir = await mkdtemp(path.join(os.tmpdir(), "tbk-"));
  const b2 = localProvider("b2");
  const r2 = localProvider("r2");
  const events: { type: string; data: unknown }[] = [];
  return {
    url: db.url,
    b2,
    r2,
    platform,
    events,
    keys,
    deps: {
      platform: pool,
      catalog,
      keyRing: new KeyRing({ tenantKeys: keys }),
      backends: [b2.backend, r2.backend],
      retentionDays: 30,
      gzipLevel: 6,
      workDir,
      publish: async (type, data) => {
        events.push({ type, data });
      },
    },
    async close() {
      await pool.end();
      await keys.close();
      await catalog.close();
      await rm(workDir, { recursive: true, force: true });
      await db.drop();
    },
  };
}
