import { isHesaabError } from "@hesaab/config";
import { noPublish, type Delivery, type MessageOf } from "@hesaab/contracts";
import { raiseAlert } from "@hesaab/db";
import { activeTenants, backupTenant } from "./backup";
import type { TenantBackupDeps } from "./deps";
import { restoreTenants } from "./restore";

/** Publishes a command (with a dedup id): the bus in a service. */
export type SendCommand = (job: MessageOf<"backup.tenant.job.v1">["data"], opts: { msgId: string }) => Promise<void>;

/**
 * `backup.tenant.requested.v1` → one job per tenant, deduplicated per tenant and period (the msgId),
 * so a request delivered twice, or fired by two schedulers, queues each tenant once.
 */
export async function fanOutBackupRequest(
  deps: Pick<TenantBackupDeps, "platform">,
  { message, send }: { message: MessageOf<"backup.tenant.requested.v1">; send: SendCommand },
): Promise<number> {
  const { data } = message;
  const tenants = data.all ? await activeTenants(deps) : (data.tenantIds ?? []);
  const scope = data.period ?? message.id;
  for (const tenantId of tenants) {
    await send({ tenantId, purpose: data.purpose, period: data.period, requestedBy: data.requestedBy }, { msgId: `backup:${tenantId}:${scope}` });
  }
  return tenants.length;
}

/**
 * `backup.tenant.job.v1` → the tenant's backup. A failure is published; a final one (retries
 * exhausted, or an error retrying cannot fix) also raises an alert. Rethrows so the bus retries
 * (retryable) or dead-letters (not retryable).
 */
export async function handleBackupJob(deps: TenantBackupDeps, { message, delivery }: { message: MessageOf<"backup.tenant.job.v1">; delivery: Delivery }): Promise<void> {
  const { data } = message;
  const publish = deps.publish ?? noPublish;
  try {
    await backupTenant(deps, { tenantId: data.tenantId, purpose: data.purpose, period: data.period, requestedBy: data.requestedBy, attempt: delivery.attempt, signal: delivery.signal });
  } catch (err) {
    const retryable = isHesaabError(err) ? err.retryable : true;
    const final = delivery.final || !retryable;
    const error = { code: isHesaabError(err) ? err.code : "backup_failed", message: err instanceof Error ? err.message : String(err), retryable };
    await publish("backup.tenant.failed.v1", { tenantId: data.tenantId, attempt: delivery.attempt, final, error });
    if (final) await raiseAlert(deps, { severity: "critical", code: "tenant_backup_failed", message: `backup of tenant ${data.tenantId} failed: ${error.message}`, context: { tenantId: data.tenantId, attempt: delivery.attempt, code: error.code } });
    throw err;
  }
}

/** `restore.requested.v1` → the restore (the operation id comes from the request, so a redelivery finds it). */
export async function handleRestoreRequest(deps: TenantBackupDeps, { message, delivery }: { message: MessageOf<"restore.requested.v1">; delivery: Delivery }): Promise<void> {
  const d = message.data;
  const { rows } = await deps.catalog.pool.query<{ status: string }>("select status from backup.restore_operations where id = $1", [d.operationId]);
  if (rows[0] && rows[0].status !== "pending" && rows[0].status !== "verifying") return; // already ran (or is running elsewhere)
  await restoreTenants(deps, {
    operationId: d.operationId,
    tenantIds: d.tenantIds,
    all: d.all,
    backupId: d.backupId,
    at: d.at ? new Date(d.at) : undefined,
    provider: d.provider,
    targetDb: d.targetDb,
    allowDroppedColumns: d.allowDroppedColumns,
    requestedBy: d.requestedBy,
    signal: delivery.signal,
  });
}
