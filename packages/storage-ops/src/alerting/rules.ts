import { describeError } from "@hesaab/config";
import type { Publish } from "@hesaab/contracts";
import { raiseAlert, resolveAlertGroups, type Catalog } from "@hesaab/db";
import type { StorageBackend } from "@hesaab/storage";
import { storageAnalytics } from "../analytics";

const HOUR_MS = 3_600_000;

/** The ALERT_* thresholds (`envPieces.alerts`). */
export interface AlertThresholds {
  ALERT_TENANT_STALE_HOURS: number;
  ALERT_PROVIDER_DOWN_MINUTES: number;
  ALERT_DR_STALE_HOURS: number;
  ALERT_STORAGE_BUDGET_MONTHLY?: number | undefined;
}

/** What the rules remember between passes (a provider's first failed probe). */
export interface AlertRuleState {
  downSince: Map<string, Date>;
}

export const newAlertRuleState = (): AlertRuleState => ({ downSince: new Map() });

export interface AlertRuleOptions {
  catalog: Catalog;
  backends: readonly StorageBackend[];
  publish?: Publish | undefined;
  thresholds: AlertThresholds;
  state: AlertRuleState;
  now: Date;
}

export interface RulesOutcome {
  /** Alerts raised or counted (ids). */
  raised: string[];
  /** Alerts resolved by this pass (ids): their "resolved" notifications are due. */
  resolved: string[];
}

/**
 * One pass of the alert rules over the catalog and the providers. Each condition is an alert group:
 * raised while it holds (counted, not repeated), resolved when it clears.
 *  - `tenant_backup_failed` (raised by the backup job that failed after its retries): resolved by the tenant's next good backup;
 *  - `tenant_backup_stale`: a tenant without a good backup for ALERT_TENANT_STALE_HOURS;
 *  - `provider_unavailable`: a provider failing its probe for ALERT_PROVIDER_DOWN_MINUTES;
 *  - `disaster_backup_missing`: no good disaster backup for ALERT_DR_STALE_HOURS.
 * Verification failures are raised where they are found (storage-svc's verification) and delivered like these.
 */
export async function evaluateAlertRules(o: AlertRuleOptions): Promise<RulesOutcome> {
  const out: RulesOutcome = { raised: [], resolved: [] };
  for (const rule of [failedBackupsCleared, staleTenants, providersDown, disasterMissing]) {
    await rule(o, out);
  }
  return out;
}

async function raise(o: AlertRuleOptions, out: RulesOutcome, alert: Parameters<typeof raiseAlert>[1]): Promise<void> {
  const id = await raiseAlert({ catalog: o.catalog, publish: o.publish }, alert);
  if (id) out.raised.push(id);
}

async function resolve(o: AlertRuleOptions, out: RulesOutcome, groups: string[]): Promise<void> {
  out.resolved.push(...(await resolveAlertGroups(o.catalog.db, groups, o.now)));
}

/** A tenant's failed-backup alert resolves once a good backup of it completed after the last failure. */
async function failedBackupsCleared(o: AlertRuleOptions, out: RulesOutcome): Promise<void> {
  const { rows } = await o.catalog.pool.query<{ group_key: string }>(
    `select a.group_key from backup.alerts a
      where a.code = 'tenant_backup_failed' and a.resolved_at is null and a.group_key is not null
        and exists (select 1 from backup.backup_records r
                     where r.backup_type = 'tenant' and r.tenant_id = a.context ->> 'tenantId' and r.status in ('completed', 'degraded')
                       and r.purpose <> 'pre_restore' and coalesce(r.completed_at, r.created_at) > coalesce(a.last_raised_at, a.raised_at))`,
  );
  await resolve(
    o,
    out,
    rows.map((r) => r.group_key),
  );
}

/** Tenants the catalog knows (live records) whose last good backup, or first attempt when none succeeded, is older than the threshold. */
async function staleTenants(o: AlertRuleOptions, out: RulesOutcome): Promise<void> {
  const limit = new Date(o.now.getTime() - o.thresholds.ALERT_TENANT_STALE_HOURS * HOUR_MS);
  const { rows } = await o.catalog.pool.query<{ tenant_id: string; last_good: Date | null; first_seen: Date }>(
    `select tenant_id,
            max(coalesce(completed_at, created_at)) filter (where status in ('completed', 'degraded')) as last_good,
            min(created_at) as first_seen
       from backup.backup_records
      where backup_type = 'tenant' and tenant_id is not null and status not in ('expired', 'deleted') and purpose <> 'pre_restore'
      group by 1`,
  );
  const fresh: string[] = [];
  for (const r of rows) {
    const since = r.last_good ?? r.first_seen;
    const group = `tenant_backup_stale:${r.tenant_id}`;
    if (since >= limit) {
      fresh.push(group);
      continue;
    }
    await raise(o, out, {
      severity: "warning",
      code: "tenant_backup_stale",
      message: `tenant ${r.tenant_id} has had no good backup for more than ${o.thresholds.ALERT_TENANT_STALE_HOURS} hours`,
      context: { tenantId: r.tenant_id, lastGoodBackupAt: r.last_good?.toISOString() ?? null },
      group,
    });
  }
  await resolve(o, out, fresh);
}

/** Each provider is probed (a HEAD of a key that need not exist); failing for longer than the threshold raises, answering resolves. */
async function providersDown(o: AlertRuleOptions, out: RulesOutcome): Promise<void> {
  for (const backend of o.backends) {
    const group = `provider_unavailable:${backend.name}`;
    let error: string | undefined;
    try {
      await backend.head("health/probe");
    } catch (err) {
      error = describeError(err).message;
    }
    if (error === undefined) {
      o.state.downSince.delete(backend.name);
      await resolve(o, out, [group]);
      continue;
    }
    const since = o.state.downSince.get(backend.name) ?? o.now;
    o.state.downSince.set(backend.name, since);
    if (o.now.getTime() - since.getTime() < o.thresholds.ALERT_PROVIDER_DOWN_MINUTES * 60_000) continue;
    await raise(o, out, {
      severity: "critical",
      code: "provider_unavailable",
      message: `${backend.name} has been unreachable since ${since.toISOString()}: ${error}`,
      context: { provider: backend.name, since: since.toISOString() },
      group,
    });
  }
}

/** No good disaster backup within the threshold (once the catalog is older than it: a new install is not "missing" one). */
async function disasterMissing(o: AlertRuleOptions, out: RulesOutcome): Promise<void> {
  const limit = new Date(o.now.getTime() - o.thresholds.ALERT_DR_STALE_HOURS * HOUR_MS);
  const { rows } = await o.catalog.pool.query<{ last_good: Date | null; first_seen: Date | null }>(
    `select (select max(coalesce(completed_at, created_at)) from backup.backup_records where backup_type = 'disaster' and status in ('completed', 'degraded')) as last_good,
            (select min(created_at) from backup.backup_records) as first_seen`,
  );
  const since = rows[0]?.last_good ?? rows[0]?.first_seen;
  if (!since || since >= limit) return resolve(o, out, ["disaster_backup_missing"]);
  await raise(o, out, {
    severity: "critical",
    code: "disaster_backup_missing",
    message: `no good disaster backup for more than ${o.thresholds.ALERT_DR_STALE_HOURS} hours`,
    context: { lastGoodBackupAt: rows[0]?.last_good?.toISOString() ?? null },
    group: "disaster_backup_missing",
  });
}

/** The estimated monthly storage cost against ALERT_STORAGE_BUDGET_MONTHLY (checked with the daily sample). */
export async function checkStorageBudget(o: Omit<AlertRuleOptions, "backends" | "state">): Promise<RulesOutcome> {
  const out: RulesOutcome = { raised: [], resolved: [] };
  const budget = o.thresholds.ALERT_STORAGE_BUDGET_MONTHLY;
  if (budget === undefined) return out;
  const { cost } = await storageAnalytics({ catalog: o.catalog, now: o.now });
  const rule = { ...o, backends: [], state: newAlertRuleState() };
  if (cost.monthlyTotal <= budget) {
    await resolve(rule, out, ["storage_cost_over_budget"]);
    return out;
  }
  await raise(rule, out, {
    severity: "warning",
    code: "storage_cost_over_budget",
    message: `the estimated monthly storage cost ${cost.monthlyTotal} is over the budget ${budget}`,
    context: { monthlyTotal: cost.monthlyTotal, budget },
    group: "storage_cost_over_budget",
  });
  return out;
}
