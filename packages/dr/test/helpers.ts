import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { Secret, type MasterKeySet } from "@hesaab/config";
import { KeyRing, TenantKeyStore } from "@hesaab/crypto";
import { migrate } from "@hesaab/db";
import { generatePlatform, tableChecksums } from "@hesaab/platform";
import { openBackend, type OpenedBackend } from "@hesaab/storage";
import { adminQuery, freshDatabase, onDatabase, testProviderConfig, type FreshDatabase } from "@hesaab/testkit";

/** A local S3 endpoint standing in for B2 or R2, with a fault injector next to the real backend. */
export function provider(name: "b2" | "r2"): OpenedBackend {
  return openBackend({ backend: testProviderConfig(name), faults: true, retry: { attempts: 2, baseDelayMs: 10 } });
}

export function drKeys(versions: Record<number, Buffer>): MasterKeySet {
  return new Map(Object.entries(versions).map(([v, k]) => [Number(v), new Secret(k)]));
}

export const randomKey = (): Buffer => randomBytes(32);

export function drKeyRing(versions: Record<number, Buffer>): KeyRing {
  return new KeyRing({ drMasterKeys: drKeys(versions) });
}

export interface SamplePlatform {
  db: FreshDatabase;
  /** Tenants that hold key records in `backup.tenant_keys`. */
  keyedTenants: string[];
}

/**
 * A small platform as production has it: the sample schema with a few tenants, and the backup
 * system's own schema (`backup`) in the same database, with tenant key records.
 */
export async function samplePlatform(prefix = "dr_src"): Promise<SamplePlatform> {
  const db = await freshDatabase(prefix);
  await migrate({ url: db.url });
  const generated = await generatePlatform({ url: db.url, tenants: 4, scale: 0.05, seed: 11, analyze: false });
  const keyedTenants = generated.tenants.slice(0, 3).map((t) => t.id);
  const store = TenantKeyStore.connect({ url: db.url, masterKeys: drKeys({ 1: randomKey() }) });
  try {
    for (const t of keyedTenants) await store.currentKey(t);
    await store.rotateTenantKey(keyedTenants[0]!);
  } finally {
    await store.close();
  }
  return { db, keyedTenants };
}

/** Every table's checksum (platform tables whole, without a tenant) and the tenant key records. */
export async function fingerprint(url: string): Promise<{ tables: Awaited<ReturnType<typeof tableChecksums>>; tenantKeys: unknown[] }> {
  const tables = await tableChecksums({ url });
  const { rows } = await onDatabase(url, (client) =>
    client.query("select tenant_id, key_version, encode(seed, 'hex') as seed, master_version from backup.tenant_keys order by 1, 2"),
  );
  return { tables, tenantKeys: rows };
}

export async function tablesOf(url: string): Promise<string[]> {
  const { rows } = await onDatabase(url, (client) =>
    client.query<{ name: string }>(
      "select n.nspname || '.' || c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r','p') and n.nspname not in ('pg_catalog','information_schema') and n.nspname not like 'pg_toast%'",
    ),
  );
  return rows.map((r) => r.name);
}

export async function databaseExists(name: string): Promise<boolean> {
  const { rows } = await adminQuery("select 1 from pg_database where datname = $1", [name]);
  return rows.length === 1;
}

export async function writeConfigFiles(dir: string): Promise<string[]> {
  await mkdir(path.join(dir, "deploy"), { recursive: true });
  const compose = path.join(dir, "deploy", "compose.yml");
  const env = path.join(dir, "deploy", ".env");
  await writeFile(compose, "services:\n  app:\n    image: hesaab/app:1.2.3\n");
  await writeFile(env, "SECRET_TOKEN=not-a-real-secret\n", { mode: 0o600 });
  return [compose, env];
}
