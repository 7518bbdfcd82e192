import { and, eq, inArray, isNotNull } from "drizzle-orm";
import { describeError, errorText, isRedeliverable } from "@hesaab/config";
import { noPublish, type Delivery, type MessageOf } from "@hesaab/contracts";
import { serializeKeySidecar, type KeySidecar, type TenantKeyStore } from "@hesaab/crypto";
import { backupRecords, writeAudit } from "@hesaab/db";
import { rewriteKeysSidecar } from "@hesaab/storage";
import type { TenantBackupDeps } from "./tenant-backup-deps";

export interface RotationReport {
  tenants: { tenantId: string; newKeyVersion?: number; rewrapped: number; retired: number[]; failures: { backupId: string; error: string }[] }[];
}

/**
 * Key rotation without touching any artifact's bytes ([bkp1-format.md], key sidecar):
 *
 *  [1] (`newVersion`) each tenant gets a new key version under the highest master key;
 *  [2] every sidecar of the tenant's backups still in retention is re-wrapped under the current
 *      version and written, first to every provider holding the artifact, then to the catalog;
 *  [3] (`retire`) when every sidecar was re-wrapped, the older key versions are retired.
 *
 * After a new master key version is added to BACKUP_MASTER_KEYS, run this for every tenant whose
 * key is behind (`tenantsBehindMaster`); once no key uses the old master version, drop it from the env.
 */
export async function rotateTenantKeys(
  deps: TenantBackupDeps & { tenantKeys: TenantKeyStore },
  {
    tenantIds,
    newVersion = true,
    retire = true,
    requestedBy,
    dryRun = false,
  }: { tenantIds: string[]; newVersion?: boolean; retire?: boolean; requestedBy: string; dryRun?: boolean | undefined },
): Promise<RotationReport> {
  const report: RotationReport = { tenants: [] };
  for (const tenantId of tenantIds) {
    const entry: RotationReport["tenants"][number] = { tenantId, rewrapped: 0, retired: [], failures: [] };
    report.tenants.push(entry);
    const records = await deps.catalog.db
      .select()
      .from(backupRecords)
      .where(
        and(eq(backupRecords.tenantId, tenantId), inArray(backupRecords.status, ["completed", "degraded", "running"]), isNotNull(backupRecords.keySidecar)),
      );
    if (dryRun) {
      entry.rewrapped = records.length;
      continue;
    }
    if (newVersion) entry.newKeyVersion = (await deps.tenantKeys.rotateTenantKey(tenantId)).keyVersion;
    for (const record of records) {
      try {
        const next = await deps.keyRing.rewrap({ sidecar: record.keySidecar as unknown as KeySidecar });
        const body = Buffer.from(serializeKeySidecar(next));
        for (const [provider, copy] of Object.entries(record.providers)) {
          if (copy.status !== "stored") continue;
          const backend = deps.backends.find((b) => b.name === provider);
          if (backend) await rewriteKeysSidecar({ backend, artifactKey: copy.location, keys: body });
        }
        await deps.catalog.db
          .update(backupRecords)
          .set({ keySidecar: next as unknown as Record<string, unknown> })
          .where(eq(backupRecords.id, record.id));
        entry.rewrapped++;
      } catch (err) {
        entry.failures.push({ backupId: record.id, error: errorText(err) });
      }
    }
    if (retire && entry.failures.length === 0) {
      const keys = await deps.tenantKeys.listKeys(tenantId);
      const newest = Math.max(...keys.map((k) => k.keyVersion));
      for (const k of keys) {
        if (k.keyVersion < newest && !k.retiredAt) {
          await deps.tenantKeys.retireKeyVersion({ tenantId, keyVersion: k.keyVersion });
          entry.retired.push(k.keyVersion);
        }
      }
    }
    await writeAudit(deps.catalog.db, {
      actor: requestedBy,
      action: "keys.rotated",
      targetType: "tenant",
      targetId: tenantId,
      tenantId,
      outcome: entry.failures.length ? "failed" : "ok",
      details: { ...entry },
    });
  }
  return report;
}

/**
 * Crypto-shredding: deletes the tenant's key seeds. Every backup of the tenant becomes unreadable at
 * once, in every provider. Erasure is complete when the disaster-recovery backups that still contain
 * the seeds (the `backup.tenant_keys` table is in every full-database dump) have expired:
 * DISASTER_BACKUP_RETENTION_DAYS (90 by default) after this call.
 */
export async function shredTenant(
  deps: TenantBackupDeps & { tenantKeys: TenantKeyStore },
  { tenantId, requestedBy }: { tenantId: string; requestedBy: string },
): Promise<{ versions: number }> {
  const result = await deps.tenantKeys.shredTenant(tenantId);
  await writeAudit(deps.catalog.db, { actor: requestedBy, action: "keys.shredded", targetType: "tenant", targetId: tenantId, tenantId, details: result });
  return result;
}

type KeyDeps = TenantBackupDeps & { tenantKeys: TenantKeyStore };

/** The tenants a rotation request names: the ids given, every tenant with a key (`all`), or those behind the highest master key. */
async function rotationTargets(deps: KeyDeps, d: MessageOf<"keys.rotate.requested.v1">["data"]): Promise<string[]> {
  if (d.behindMaster) return deps.tenantKeys.tenantsBehindMaster();
  if (d.all)
    return (await deps.catalog.pool.query<{ tenant_id: string }>("select distinct tenant_id from backup.tenant_keys order by 1")).rows.map((r) => r.tenant_id);
  return d.tenantIds ?? [];
}

/**
 * `keys.rotate.requested.v1` → `rotateTenantKeys` (what `hesaab keys rotate` runs), then
 * `keys.rotated.v1` with the operation id. Rotating again is harmless (a new version, sidecars
 * re-wrapped again), so a redelivery simply rotates. The last failed delivery publishes `keys.failed.v1`.
 */
export async function handleKeysRotateRequested(
  deps: KeyDeps,
  { message, delivery }: { message: MessageOf<"keys.rotate.requested.v1">; delivery: Delivery },
): Promise<RotationReport> {
  const d = message.data;
  const publish = deps.publish ?? noPublish;
  try {
    const tenantIds = await rotationTargets(deps, d);
    const report = await rotateTenantKeys(deps, { tenantIds, retire: d.retire, requestedBy: d.requestedBy });
    await publish("keys.rotated.v1", {
      operationId: d.operationId,
      tenants: report.tenants.map((t) => ({
        tenantId: t.tenantId,
        ...(t.newKeyVersion ? { newKeyVersion: t.newKeyVersion } : {}),
        rewrapped: t.rewrapped,
        failures: t.failures.length,
      })),
    });
    return report;
  } catch (error) {
    if (delivery.final || !isRedeliverable(error))
      await publish("keys.failed.v1", { operationId: d.operationId, action: "rotate", error: describeError(error) });
    throw error;
  }
}

/** `keys.shred.requested.v1` → `shredTenant` (what `hesaab keys shred` runs), then `keys.shredded.v1`; shredding twice deletes nothing the second time. */
export async function handleKeysShredRequested(
  deps: KeyDeps,
  { message, delivery }: { message: MessageOf<"keys.shred.requested.v1">; delivery: Delivery },
): Promise<{ versions: number }> {
  const d = message.data;
  const publish = deps.publish ?? noPublish;
  try {
    const result = await shredTenant(deps, { tenantId: d.tenantId, requestedBy: d.requestedBy });
    await publish("keys.shredded.v1", { operationId: d.operationId, tenantId: d.tenantId, versions: result.versions });
    return result;
  } catch (error) {
    if (delivery.final || !isRedeliverable(error))
      await publish("keys.failed.v1", { operationId: d.operationId, action: "shred", error: describeError(error) });
    throw error;
  }
}
