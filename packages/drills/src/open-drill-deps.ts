import type { MasterKeySet } from "@hesaab/config";
import { KeyRing } from "@hesaab/crypto";
import { deployedGitCommit } from "@hesaab/dr";
import { openTenantBackupDeps, type TenantBackupEnv } from "@hesaab/tenant-backup";
import type { Publish } from "@hesaab/contracts";
import type { DrillDeps } from "./drill-deps";

export interface DrillEnv extends TenantBackupEnv {
  DR_MASTER_KEYS: MasterKeySet;
  DRILL_DATABASE_URL?: string | undefined;
  HESAAB_VERSION: string;
  DEPLOYED_GIT_COMMIT?: string | undefined;
}

/** Builds drill dependencies from parsed configuration, the same way for storage-svc and the CLI. `close()` releases the pools. */
export async function openDrillDeps(o: { env: DrillEnv; workDir: string; publish?: Publish | undefined }): Promise<DrillDeps & { close(): Promise<void> }> {
  const tenantBackup = openTenantBackupDeps({ env: o.env, workDir: o.workDir, ...(o.publish ? { publish: o.publish } : {}), units: 1 });
  return {
    tenantBackup,
    platformUrl: o.env.PLATFORM_DATABASE_URL,
    drMasterKeys: o.env.DR_MASTER_KEYS,
    drKeyRing: new KeyRing({ drMasterKeys: o.env.DR_MASTER_KEYS }),
    scratchUrl: o.env.DRILL_DATABASE_URL,
    version: o.env.HESAAB_VERSION,
    gitCommit: await deployedGitCommit({ configured: o.env.DEPLOYED_GIT_COMMIT }),
    close: () => tenantBackup.close(),
  };
}
