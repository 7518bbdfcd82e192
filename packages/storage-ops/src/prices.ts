/**
 * Provider prices for the cost estimate, in US dollars, per decimal gigabyte (10^9 bytes, as the
 * providers bill) and per million requests. The defaults are as published by the providers,
 * checked 2026-11; verify before relying on them (docs/storage-costs.md has the sources).
 * Override them with `STORAGE_PRICES` (JSON, partial) or the catalog setting `storage.prices`.
 */
export interface ProviderPrices {
  /** Storage, per GB-month. */
  storagePerGbMonth: number;
  /** Egress (downloads) beyond the free allowance, per GB. */
  egressPerGb: number;
  /** Free egress per month as a multiple of the bytes stored (B2: 3×). */
  freeEgressMultipleOfStored: number;
  /** Class A operations (writes, lists) per million. */
  classAPerMillion: number;
  /** Class B operations (reads, heads) per million. */
  classBPerMillion: number;
}

export interface Prices {
  currency: "USD";
  /** When the defaults were checked against the providers' published prices. */
  checked: string;
  providers: Record<string, ProviderPrices>;
}

export const DEFAULT_PRICES: Prices = {
  currency: "USD",
  checked: "2026-11",
  providers: {
    // Backblaze B2: $6/TB-month; egress free up to 3× the average monthly stored bytes, then $0.01/GB.
    // Transaction charges are not modelled by default (set classAPerMillion/classBPerMillion to add them).
    b2: { storagePerGbMonth: 0.006, egressPerGb: 0.01, freeEgressMultipleOfStored: 3, classAPerMillion: 0, classBPerMillion: 0 },
    // Cloudflare R2: $0.015/GB-month; zero egress; class A $4.50/million; class B $0.36/million.
    r2: { storagePerGbMonth: 0.015, egressPerGb: 0, freeEgressMultipleOfStored: 0, classAPerMillion: 4.5, classBPerMillion: 0.36 },
  },
};

export type PriceOverrides = { checked?: string | undefined; providers?: Record<string, Partial<ProviderPrices>> | undefined };

/** The defaults with `overrides` laid over them, provider by provider and field by field. */
export function mergePrices(base: Prices, overrides: PriceOverrides | undefined): Prices {
  if (!overrides) return base;
  const providers: Record<string, ProviderPrices> = { ...base.providers };
  for (const [name, p] of Object.entries(overrides.providers ?? {})) {
    const fallback = providers[name] ?? { storagePerGbMonth: 0, egressPerGb: 0, freeEgressMultipleOfStored: 0, classAPerMillion: 0, classBPerMillion: 0 };
    providers[name] = { ...fallback, ...Object.fromEntries(Object.entries(p).filter(([, v]) => typeof v === "number" && Number.isFinite(v) && v >= 0)) };
  }
  return { currency: "USD", checked: overrides.checked ?? base.checked, providers };
}

export const GB = 1e9;

export interface MonthlyUsage {
  storedBytes: number;
  egressBytes: number;
  classAOps: number;
  classBOps: number;
}

export interface CostBreakdown {
  storage: number;
  egress: number;
  operations: number;
  total: number;
}

/** One provider's monthly bill for `usage` at `prices`, rounded to cents. */
export function monthlyCost(prices: ProviderPrices, usage: MonthlyUsage): CostBreakdown {
  const storage = (usage.storedBytes / GB) * prices.storagePerGbMonth;
  const billableEgress = Math.max(0, usage.egressBytes - prices.freeEgressMultipleOfStored * usage.storedBytes);
  const egress = (billableEgress / GB) * prices.egressPerGb;
  const operations = (usage.classAOps / 1e6) * prices.classAPerMillion + (usage.classBOps / 1e6) * prices.classBPerMillion;
  const cents = (v: number) => Math.round(v * 100) / 100;
  return { storage: cents(storage), egress: cents(egress), operations: cents(operations), total: cents(storage + egress + operations) };
}
