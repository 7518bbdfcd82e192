/**
 * The platform's shape, decided before a single row is written: how many tenants, how big each is,
 * its id, status and currency, and the first id of every identity-keyed table. Because this is
 * computed up front from (seed, index), tenants can be written in any order or in parallel and the
 * ids still come out the same.
 */
import { combine, rngFor } from "./random";
import { AWKWARD_TEXTS, CHART_OF_ACCOUNTS, COMPANY_KINDS, COMPANY_NAMES, persianDigits } from "./vocabulary";

export type TenantStatus = "active" | "suspended" | "deleted";

/** What scale 1 means: the largest tenant has about this many invoices. */
export const INVOICES_AT_SCALE_1 = 500;
/** Tenant of rank r has about INVOICES_AT_SCALE_1 · scale / r^SKEW invoices (±25 %), at least MIN_INVOICES. */
export const SKEW = 0.9;
export const MIN_INVOICES = 2;
/** Every timestamp is derived from this fixed instant (2022-01-01T00:00:00Z), never from the clock. */
export const BASE_TIME = Date.UTC(2022, 0, 1);
export const DAY = 86_400_000;

/** Entity kinds, mixed into per-row seeds. */
export const KIND = {
  tenant: 1,
  user: 2,
  account: 3,
  customer: 4,
  product: 5,
  invoice: 6,
  lineCount: 7,
  line: 8,
  payment: 9,
  entry: 10,
  audit: 11,
  attachment: 12,
  journalLine: 13,
  thumbnail: 14,
} as const;

export interface TenantCounts {
  users: number;
  accounts: number;
  customers: number;
  products: number;
  invoices: number;
  invoiceLines: number;
  payments: number;
  journalEntries: number;
  journalLines: number;
  auditEvents: number;
}

/** Ids of identity-keyed tables: the tenant's rows get ids base+1 … base+count. */
export interface TenantIdBases {
  accounts: number;
  customers: number;
  invoices: number;
  invoiceLines: number;
  journalEntries: number;
  journalLines: number;
}

export interface TenantShape {
  /** 0-based position; rank = index + 1, and tenant #1 (index 0) is the largest. */
  index: number;
  /** Seed of every value of this tenant. */
  seed: number;
  id: string;
  name: string;
  slug: string;
  status: TenantStatus;
  currency: string;
  createdAt: number;
  counts: TenantCounts;
  base: TenantIdBases;
}

export interface PlanOptions {
  tenants: number;
  /** Multiplies every tenant's row counts (fractions allowed). Default 1. */
  scale?: number;
  seed?: number;
  /** Extra multiplier for tenant #1 only: makes one tenant huge for benchmarks. Default 1. */
  largeScale?: number;
}

/** Lines of invoice `i` (1…5): its own seed, so ids can be counted without generating the lines. */
export function lineCount(tenantSeed: number, i: number): number {
  return 1 + (combine(combine(tenantSeed, KIND.lineCount), i) % 5);
}

export function paymentCount(invoices: number): number {
  return Math.ceil(invoices * 0.7);
}

function tenantName(index: number, pick: number): string {
  if (index === 0) return "شرکت بازرگانی آرمان";
  const kind = COMPANY_KINDS[pick % COMPANY_KINDS.length]!;
  const name = COMPANY_NAMES[(pick >>> 8) % COMPANY_NAMES.length]!;
  if (index % 7 === 3) return `${kind} "${name}" & O'Neil ${persianDigits(String(index + 1))}`;
  return `${kind} ${name} ${persianDigits(String(index + 1))}`;
}

function tenantStatus(index: number, roll: number): TenantStatus {
  if (index === 2 || index === 7) return "suspended";
  if (index === 4) return "deleted";
  if (index >= 10 && roll < 0.01) return "suspended";
  if (index >= 10 && roll < 0.015) return "deleted";
  return "active";
}

/** The plan of every tenant, in index order, with id bases assigned by prefix sums. */
export function planPlatform(opts: PlanOptions): TenantShape[] {
  const scale = opts.scale ?? 1;
  const seed = (opts.seed ?? 1) >>> 0;
  const largeScale = opts.largeScale ?? 1;
  if (!Number.isInteger(opts.tenants) || opts.tenants < 1) throw new RangeError("tenants must be a positive integer");
  if (!(scale > 0) || !(largeScale > 0)) throw new RangeError("scale and largeScale must be positive");

  const next: TenantIdBases = { accounts: 0, customers: 0, invoices: 0, invoiceLines: 0, journalEntries: 0, journalLines: 0 };
  const plans: TenantShape[] = [];
  for (let index = 0; index < opts.tenants; index++) {
    const tenantSeed = combine(seed, index + 1);
    const rng = rngFor(tenantSeed, KIND.tenant);
    const id = rng.uuid();
    const jitter = 0.75 + 0.5 * rng.float();
    let invoices = Math.max(MIN_INVOICES, Math.round((INVOICES_AT_SCALE_1 * scale * jitter) / Math.pow(index + 1, SKEW)));
    if (index === 0) invoices = Math.max(MIN_INVOICES, Math.round(invoices * largeScale));
    const users = Math.min(40, 1 + Math.ceil(invoices / 200));
    let invoiceLines = 0;
    for (let i = 0; i < invoices; i++) invoiceLines += lineCount(tenantSeed, i);
    const payments = paymentCount(invoices);
    const counts: TenantCounts = {
      users,
      accounts: CHART_OF_ACCOUNTS.length + Math.min(100, Math.floor(invoices / 1000)),
      // at least one customer per awkward value, so every tenant's customers.notes holds all of them
      customers: Math.max(AWKWARD_TEXTS.length, 3 + Math.ceil(invoices / 4)),
      products: Math.min(5000, 3 + Math.ceil(invoices / 8)),
      invoices,
      invoiceLines,
      payments,
      journalEntries: invoices + payments,
      journalLines: 3 * invoices + 2 * payments,
      auditEvents: 2 * invoices + 2 * users,
    };
    const currencyRoll = rng.float();
    const plan: TenantShape = {
      index,
      seed: tenantSeed,
      id,
      name: tenantName(index, rng.next()),
      slug: `tenant-${String(index + 1).padStart(5, "0")}`,
      status: tenantStatus(index, rng.float()),
      currency: currencyRoll < 0.85 ? "IRR" : ((["USD", "EUR", "AED", "TRY"] as const)[Math.floor((currencyRoll - 0.85) / 0.0375)] ?? "USD"),
      createdAt: BASE_TIME + Math.floor(rng.float() * 540 * DAY) + index * 60_000,
      counts,
      base: { ...next },
    };
    next.accounts += counts.accounts;
    next.customers += counts.customers;
    next.invoices += counts.invoices;
    next.invoiceLines += counts.invoiceLines;
    next.journalEntries += counts.journalEntries;
    next.journalLines += counts.journalLines;
    plans.push(plan);
  }
  return plans;
}
