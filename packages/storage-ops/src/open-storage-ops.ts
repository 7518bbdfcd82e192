import type { Publish } from "@hesaab/contracts";
import { ConfigError, type MasterKeySet } from "@hesaab/config";
import { KeyRing, TenantKeyStore } from "@hesaab/crypto";
import { openCatalog } from "@hesaab/db";
import { openBackend, providersFromEnv, type OpenBackendOptions, type ProviderEnv } from "@hesaab/storage";
import type { KeyRings, StorageOpsDeps } from "./storage-ops-deps";

/** The parsed variables storage operations need (from an app's env.ts). Keys are optional: without them deep verification skips that type. */
export interface StorageOpsEnv extends ProviderEnv {
  PLATFORM_DATABASE_URL?: string | undefined;
  BACKUP_DATABASE_URL?: string | undefined;
  BACKUP_MASTER_KEYS?: MasterKeySet | undefined;
  DR_MASTER_KEYS?: MasterKeySet | undefined;
  /** The catalog pool's wait for a connection (see `openPool`); default 10 s. */
  DATABASE_CONNECT_TIMEOUT_MS?: number | undefined;
}

export interface OpenedStorageOps extends StorageOpsDeps {
  keyRings: KeyRings;
  close(): Promise<void>;
}

/**
 * Builds the catalog, the providers (`openBackend` chains: retry, limit, metrics) and the key rings
 * from parsed configuration, the same way for the CLI and storage-svc.
 */
export function openStorageOps({
  env,
  publish,
  actor,
  keyPrefix,
  backendOptions = {},
}: {
  env: StorageOpsEnv;
  publish?: Publish;
  actor?: string;
  /** Keep every key under this folder of the buckets (tests, a shared bucket). */
  keyPrefix?: string | undefined;
  backendOptions?: Omit<OpenBackendOptions, "backend" | "keyPrefix">;
}): OpenedStorageOps {
  const url = env.BACKUP_DATABASE_URL ?? env.PLATFORM_DATABASE_URL;
  if (!url) {
    throw new ConfigError({ code: "config_invalid", message: "no catalog database is configured", hint: "Set BACKUP_DATABASE_URL (or PLATFORM_DATABASE_URL)" });
  }
  const backends = providersFromEnv(env).map((backend) => openBackend({ ...backendOptions, backend, ...(keyPrefix ? { keyPrefix } : {}) }).backend);
  if (backends.length === 0) {
    throw new ConfigError({
      code: "config_invalid",
      message: "no storage provider is configured",
      hint: "Set the B2_* and/or R2_* variables (see .env.example)",
    });
  }
  const catalog = openCatalog({ url, connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS });
  const tenantKeys = env.BACKUP_MASTER_KEYS ? new TenantKeyStore({ pool: catalog.pool, masterKeys: env.BACKUP_MASTER_KEYS }) : undefined;
  const keyRings: KeyRings = {
    tenant: tenantKeys ? new KeyRing({ tenantKeys }) : undefined,
    disaster: env.DR_MASTER_KEYS ? new KeyRing({ drMasterKeys: env.DR_MASTER_KEYS }) : undefined,
  };
  return {
    catalog,
    backends,
    publish,
    actor,
    keyRings,
    async close() {
      await catalog.close();
    },
  };
}
