import type { Catalog } from "@hesaab/db";
import { storageAnalytics } from "@hesaab/storage-ops";

/** Storage usage and its monthly cost, as the admin app shows it (from `storageAnalytics`, catalog only). */
export interface StorageView {
  at: string;
  currency: string;
  providers: { provider: string; bytes: number; objects: number; backups: number; monthlyCost: number; bytesPerDay: number }[];
  byType: { type: string; provider: string; bytes: number; backups: number }[];
  /** The tenants that take the most room (both providers together), largest first. */
  topTenants: { tenantId: string; bytes: number; backups: number }[];
  monthlyTotal: number;
  projection: { months: number; monthlyTotal: number }[];
  /** Per provider, per day (UTC): the day's last usage sample (the admin app's usage-over-time chart), oldest first. */
  growth: { day: string; provider: string; bytes: number; objects: number }[];
}

/** The catalog's view of what each provider holds and costs (no bucket listing: that is `hesaab storage stats --list`). */
export async function storageView(catalog: Catalog, now = new Date()): Promise<StorageView> {
  const a = await storageAnalytics({ catalog, now });
  return {
    at: a.at,
    currency: a.prices.currency,
    providers: a.providers.map((p) => ({
      ...p,
      monthlyCost: a.cost.monthly[p.provider]?.total ?? 0,
      bytesPerDay: a.trend.find((t) => t.provider === p.provider)?.bytesPerDay ?? 0,
    })),
    byType: a.byType.map(({ type, provider, bytes, backups }) => ({ type, provider, bytes, backups })),
    topTenants: a.largestTenants,
    monthlyTotal: a.cost.monthlyTotal,
    projection: a.projection.map((p) => ({ months: p.months, monthlyTotal: p.monthlyTotal })),
    growth: [...a.growth].sort((x, y) => x.day.localeCompare(y.day) || x.provider.localeCompare(y.provider)),
  };
}
