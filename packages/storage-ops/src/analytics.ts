import { eq } from "drizzle-orm";
import { settings, type Catalog } from "@hesaab/db";
import { DISASTER_PREFIX, TENANTS_PREFIX, type StorageBackend } from "@hesaab/storage";
import { DEFAULT_PRICES, mergePrices, monthlyCost, type CostBreakdown, type MonthlyUsage, type PriceOverrides, type Prices } from "./prices";

const DAY_MS = 86_400_000;
const MONTH_DAYS = 30.44;

/** Bytes of a stored backup in one provider: the data artifact plus a disaster backup's config bundle. */
const BYTES_SQL = `(r.file_size + coalesce((r.metadata -> 'config' ->> 'size')::bigint, 0))`;
/**
 * Objects per artifact in one provider: the artifact and its key sidecar (which carries the
 * description). Backups written before the description moved onto the key sidecar have a third
 * object, a `.meta.json`, until retention removes them: the listing (`listing`) counts those.
 */
const OBJECTS_PER_ARTIFACT = 2;
/** Objects of a stored backup in one provider (a disaster backup has two artifacts). */
const OBJECTS_SQL = `(case when r.metadata -> 'config' ->> 'key' is not null then ${2 * OBJECTS_PER_ARTIFACT} else ${OBJECTS_PER_ARTIFACT} end)`;
/** One row per backup per provider holding it. */
const STORED_FROM = `backup.backup_records r cross join lateral jsonb_each(r.providers) p
  where r.status in ('completed', 'degraded') and r.backup_type in ('tenant', 'disaster') and p.value ->> 'status' = 'stored'`;

export interface UsageRow {
  provider: string;
  bytes: number;
  objects: number;
  backups: number;
}

export interface StorageAnalytics {
  at: string;
  /** From the catalog: what each provider holds according to it. */
  providers: UsageRow[];
  byType: (UsageRow & { type: string })[];
  tenants: (UsageRow & { tenantId: string })[];
  /** The tenants that take the most room, every provider together (bytes summed, backups counted once), largest first (20). */
  largestTenants: { tenantId: string; bytes: number; backups: number }[];
  /** From the providers' listings (every object under the layout's prefixes, sidecars and strays included), when backends were given. */
  listing?: { provider: string; bytes: number; objects: number }[];
  /** Per provider, per day: the last sample of the day (`storage_samples`). */
  growth: { day: string; provider: string; bytes: number; objects: number }[];
  /** Bytes per day the store grows by, per provider, and what that is based on. */
  trend: { provider: string; bytesPerDay: number; basis: "samples" | "catalog" }[];
  /** The estimated monthly usage behind the costs (override with `usage`). */
  usage: Record<string, MonthlyUsage>;
  cost: { monthly: Record<string, CostBreakdown>; monthlyTotal: number };
  projection: { months: number; providers: Record<string, { bytes: number; monthly: CostBreakdown }>; monthlyTotal: number }[];
  prices: Prices;
}

export interface StorageAnalyticsOptions {
  catalog: Catalog;
  /** Also list the buckets (bytes and objects as the providers see them). A listing error names the provider and propagates. */
  backends?: StorageBackend[];
  /** Prices: the defaults, overridden by this. */
  prices?: PriceOverrides | Prices;
  /** Monthly usage per provider instead of the estimate. */
  usage?: Record<string, Partial<MonthlyUsage>>;
  /** Months to project. Default [3, 6, 12]. */
  projectMonths?: number[];
  /** Days of samples for the growth report and the trend. Default 90. */
  historyDays?: number;
  now?: Date;
}

/**
 * Storage usage and cost, as data (the admin app and `hesaab storage stats` show it):
 * per provider, type and tenant (from the catalog), optionally the providers' own listings, growth
 * from the samples `takeStorageSample` writes, a monthly cost estimate from the prices and an
 * estimated usage, and a linear projection.
 *
 * The usage estimate: stored bytes from the catalog; egress = the bytes written in the last 30 days
 * (keyless verification reads each new artifact once); class A = 2 puts per new artifact (it and
 * its key sidecar) + the daily reconciliation listing (1 per 1000 objects); class B = a daily
 * description read (a HEAD of the key sidecar) per artifact + 3 reads per new artifact. Deep verification and restores come on top.
 */
export async function storageAnalytics(opts: StorageAnalyticsOptions): Promise<StorageAnalytics> {
  const { catalog } = opts;
  const now = opts.now ?? new Date();
  const prices =
    opts.prices && "currency" in opts.prices
      ? opts.prices
      : mergePrices(DEFAULT_PRICES, await pricesFromSettings(catalog).then((s) => mergeOverrides(s, opts.prices as PriceOverrides | undefined)));
  const historyDays = opts.historyDays ?? 90;
  const q = async <T>(text: string, params: unknown[] = []): Promise<T[]> => (await catalog.pool.query(text, params)).rows as T[];
  const num = (v: unknown) => Number(v ?? 0);

  const providerRows = (
    await q<{ provider: string; bytes: string; objects: string; backups: string }>(
      `select p.key as provider, sum(${BYTES_SQL}) as bytes, sum(${OBJECTS_SQL}) as objects, count(*) as backups from ${STORED_FROM} group by 1 order by 1`,
    )
  ).map((r) => ({ provider: r.provider, bytes: num(r.bytes), objects: num(r.objects), backups: num(r.backups) }));
  const byType = (
    await q<{ provider: string; type: string; bytes: string; objects: string; backups: string }>(
      `select p.key as provider, r.backup_type::text as type, sum(${BYTES_SQL}) as bytes, sum(${OBJECTS_SQL}) as objects, count(*) as backups from ${STORED_FROM} group by 1, 2 order by 1, 2`,
    )
  ).map((r) => ({ provider: r.provider, type: r.type, bytes: num(r.bytes), objects: num(r.objects), backups: num(r.backups) }));
  const tenants = (
    await q<{ provider: string; tenant_id: string; bytes: string; objects: string; backups: string }>(
      `select p.key as provider, r.tenant_id, sum(${BYTES_SQL}) as bytes, sum(${OBJECTS_SQL}) as objects, count(*) as backups from ${STORED_FROM} and r.tenant_id is not null group by 1, 2 order by 2, 1`,
    )
  ).map((r) => ({ provider: r.provider, tenantId: r.tenant_id, bytes: num(r.bytes), objects: num(r.objects), backups: num(r.backups) }));

  const largestTenants = (
    await q<{ tenant_id: string; bytes: string; backups: string }>(
      `select r.tenant_id, sum(${BYTES_SQL}) as bytes, count(distinct r.id) as backups from ${STORED_FROM} and r.tenant_id is not null group by 1 order by 2 desc, 1 limit 20`,
    )
  ).map((r) => ({ tenantId: r.tenant_id, bytes: num(r.bytes), backups: num(r.backups) }));

  const listing = opts.backends ? await listingUsage(opts.backends) : undefined;

  const since = new Date(now.getTime() - historyDays * DAY_MS);
  const growth = (
    await q<{ day: string; provider: string; bytes: string; objects: string }>(
      `select distinct on (provider, day) to_char(taken_at at time zone 'UTC', 'YYYY-MM-DD') as day, provider, bytes, objects
       from backup.storage_samples where tenant_id is null and backup_type is null and taken_at >= $1 and taken_at <= $2
      order by provider, day, taken_at desc`,
      [since, now],
    )
  ).map((r) => ({ day: r.day, provider: r.provider, bytes: num(r.bytes), objects: num(r.objects) }));

  // Net bytes added per provider over the last 30 days by the catalog (created minus deleted), the trend without samples.
  const month = new Date(now.getTime() - 30 * DAY_MS);
  const recent = await q<{ provider: string; created_bytes: string; created_artifacts: string }>(
    `select p.key as provider, sum(${BYTES_SQL}) as created_bytes, sum(${OBJECTS_SQL}) / ${OBJECTS_PER_ARTIFACT} as created_artifacts from ${STORED_FROM} and r.created_at >= $1 group by 1`,
    [month],
  );
  const removed = await q<{ provider: string; bytes: string }>(
    `select p.key as provider, sum(${BYTES_SQL}) as bytes from backup.backup_records r cross join lateral jsonb_each(r.providers) p
      where r.status = 'deleted' and (r.metadata ->> 'deletedAt')::timestamptz >= $1 group by 1`,
    [month],
  );
  const names = [...new Set([...providerRows.map((r) => r.provider), ...(opts.backends ?? []).map((b) => b.name), ...Object.keys(prices.providers)])].sort();
  const trend = names.map((provider) => {
    const points = growth.filter((g) => g.provider === provider).map((g) => ({ x: Date.parse(`${g.day}T00:00:00Z`) / DAY_MS, y: g.bytes }));
    if (points.length >= 2) return { provider, bytesPerDay: Math.round(slope(points)), basis: "samples" as const };
    const created = num(recent.find((r) => r.provider === provider)?.created_bytes);
    const gone = num(removed.find((r) => r.provider === provider)?.bytes);
    return { provider, bytesPerDay: Math.round((created - gone) / 30), basis: "catalog" as const };
  });

  const usage = estimateUsage({ opts, names, providerRows, recent });
  const costFor = (provider: string, u: MonthlyUsage): CostBreakdown =>
    monthlyCost(
      prices.providers[provider] ?? { storagePerGbMonth: 0, egressPerGb: 0, freeEgressMultipleOfStored: 0, classAPerMillion: 0, classBPerMillion: 0 },
      u,
    );
  const monthly = Object.fromEntries(names.map((p) => [p, costFor(p, usage[p]!)]));
  const total = (c: Record<string, CostBreakdown>) => Math.round(Object.values(c).reduce((s, v) => s + v.total, 0) * 100) / 100;

  const projection = projectCosts({ opts, names, usage, trend, costFor, total });

  return {
    at: now.toISOString(),
    providers: providerRows,
    byType,
    tenants,
    largestTenants,
    ...(listing ? { listing } : {}),
    growth,
    trend,
    usage,
    cost: { monthly, monthlyTotal: total(monthly) },
    projection,
    prices,
  };
}

/** What the providers' own listings hold under the layout's prefixes (a full listing per provider). */
async function listingUsage(backends: readonly StorageBackend[]): Promise<NonNullable<StorageAnalytics["listing"]>> {
  const listing: NonNullable<StorageAnalytics["listing"]> = [];
  for (const backend of backends) {
    let bytes = 0;
    let objects = 0;
    for (const prefix of [TENANTS_PREFIX, DISASTER_PREFIX]) {
      for await (const e of backend.list(prefix)) {
        bytes += e.size;
        objects++;
      }
    }
    listing.push({ provider: backend.name, bytes, objects });
  }
  return listing;
}

/** The estimated monthly usage per provider (see `storageAnalytics`), with the caller's `usage` on top. */
function estimateUsage({
  opts,
  names,
  providerRows,
  recent,
}: {
  opts: StorageAnalyticsOptions;
  names: string[];
  providerRows: { provider: string; bytes: number; objects: number }[];
  recent: { provider: string; created_bytes: string; created_artifacts: string }[];
}): Record<string, MonthlyUsage> {
  const num = (v: unknown) => Number(v ?? 0);
  const usage: Record<string, MonthlyUsage> = {};
  for (const provider of names) {
    const stored = providerRows.find((r) => r.provider === provider);
    const created = recent.find((r) => r.provider === provider);
    const artifacts = (stored?.objects ?? 0) / OBJECTS_PER_ARTIFACT;
    const newArtifacts = num(created?.created_artifacts);
    usage[provider] = {
      storedBytes: stored?.bytes ?? 0,
      egressBytes: num(created?.created_bytes),
      classAOps: Math.round(OBJECTS_PER_ARTIFACT * newArtifacts + 30 * Math.ceil((stored?.objects ?? 0) / 1000)),
      classBOps: Math.round(30 * artifacts + 3 * newArtifacts),
      ...opts.usage?.[provider],
    };
  }
  return usage;
}

/** The stored bytes and monthly cost per provider after each of `opts.projectMonths`, growing by the trend. */
function projectCosts({
  opts,
  names,
  usage,
  trend,
  costFor,
  total,
}: {
  opts: StorageAnalyticsOptions;
  names: string[];
  usage: Record<string, MonthlyUsage>;
  trend: StorageAnalytics["trend"];
  costFor: (provider: string, u: MonthlyUsage) => CostBreakdown;
  total: (c: Record<string, CostBreakdown>) => number;
}): StorageAnalytics["projection"] {
  return (opts.projectMonths ?? [3, 6, 12]).map((months) => {
    const providers: Record<string, { bytes: number; monthly: CostBreakdown }> = {};
    for (const p of names) {
      const u = usage[p]!;
      const perDay = trend.find((t) => t.provider === p)?.bytesPerDay ?? 0;
      const bytes = Math.max(0, Math.round(u.storedBytes + perDay * MONTH_DAYS * months));
      const scale = u.storedBytes > 0 ? bytes / u.storedBytes : 1;
      providers[p] = { bytes, monthly: costFor(p, { ...u, storedBytes: bytes, classBOps: Math.round(u.classBOps * scale) }) };
    }
    return { months, providers, monthlyTotal: total(Object.fromEntries(Object.entries(providers).map(([k, v]) => [k, v.monthly]))) };
  });
}

/**
 * Writes one usage sample into `storage_samples` (from the catalog): per provider (tenant and type
 * null), per provider and type, and, with `perTenant`, per provider and tenant. Growth over time is
 * read back from these. Returns the rows written.
 */
export async function takeStorageSample({
  catalog,
  now = new Date(),
  perTenant = true,
}: {
  catalog: Catalog;
  now?: Date;
  perTenant?: boolean;
}): Promise<number> {
  const groups = [`p.key, null::text, null::text`, `p.key, null::text, r.backup_type::text`, ...(perTenant ? [`p.key, r.tenant_id, 'tenant'::text`] : [])];
  let written = 0;
  for (const [i, cols] of groups.entries()) {
    const filter = i === 2 ? ` and r.tenant_id is not null` : "";
    const res = await catalog.pool.query(
      `insert into backup.storage_samples (taken_at, provider, tenant_id, backup_type, bytes, objects)
       select $1::timestamptz, ${cols}, sum(${BYTES_SQL}), sum(${OBJECTS_SQL}) from ${STORED_FROM}${filter} group by 2, 3, 4`,
      [now],
    );
    written += res.rowCount ?? 0;
  }
  return written;
}

/** Price overrides stored in the catalog's settings (`storage.prices`), if any. */
export async function pricesFromSettings(catalog: Catalog): Promise<PriceOverrides | undefined> {
  const [row] = await catalog.db.select().from(settings).where(eq(settings.key, "storage.prices"));
  return row?.value && typeof row.value === "object" ? row.value : undefined;
}

function mergeOverrides(a: PriceOverrides | undefined, b: PriceOverrides | undefined): PriceOverrides | undefined {
  if (!a) return b;
  if (!b) return a;
  const providers: Record<string, object> = { ...a.providers };
  for (const [k, v] of Object.entries(b.providers ?? {})) providers[k] = { ...providers[k], ...v };
  return { checked: b.checked ?? a.checked, providers };
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxx === 0 ? 0 : points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
}

export const analyticsInternals = { slope };
