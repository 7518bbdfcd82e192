/**
 * Row generators: one per table, each yielding COPY text rows for one tenant. Every value is a pure
 * function of (tenant seed, row index), so generators can be run in any order and run again.
 */
import { copyBytea, copyDate, copyIntArray, copyJson, copyRow, copyText, copyTextArray, copyTimestamp, fixed, COPY_NULL } from "./copy-text";
import { DAY, KIND, lineCount, type TenantShape } from "./tenant-shapes";
import { type Rng, rngFor } from "./random";
import {
  ACCOUNT,
  AWKWARD_TAGS,
  AWKWARD_TEXTS,
  CHART_OF_ACCOUNTS,
  CITIES,
  COMPANY_KINDS,
  COMPANY_NAMES,
  CURRENCIES,
  FIRST_NAMES,
  INVOICE_TITLES,
  LAST_NAMES,
  PRODUCT_GROUPS,
  PRODUCTS,
  STREETS,
  persianDigits,
} from "./vocabulary";

const HOUR = 3_600_000;
/** Invoices of a tenant are spread over this span after the tenant's creation (so audit events reach past 2025). */
const INVOICE_SPAN = 3.5 * 365 * DAY;

const TAGS = ["vip", "عمده‌فروش", "خرده‌فروش", "صادراتی", "بدحساب", "new", "قدیمی"] as const;
const PERMISSIONS = ["invoices:read", "invoices:write", "reports:read", "settings:write", "payments:write"] as const;
const USER_AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
  'HesaabPlus-Android/4.2 (Samsung "Galaxy A54"; fa_IR)',
  "curl/8.4.0",
] as const;
const TAX_CODES = [
  ["VAT", 900],
  ["عوارض", 100],
  ["EXCISE", 1200],
] as const;

function awkward(index: number): string | null {
  return AWKWARD_TEXTS[index % AWKWARD_TEXTS.length]!;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

export interface InvoiceHead {
  number: string;
  customer: number;
  status: "draft" | "issued" | "paid" | "void";
  currency: string;
  createdAt: number;
  issuedAt: number | null;
  hasAttachment: boolean;
  rng: Rng;
}

export interface InvoiceLine {
  productIndex: number | null;
  qtyMilli: number;
  priceCents: number;
  discountCents: number;
  netCents: number;
  taxes: { code: string; rateBp: number; amountCents: number }[];
  awkwardDescription: boolean;
}

/** One tenant's data, with the few lookups that several tables share (user and product ids, invoice totals). */
export class TenantData {
  readonly userIds: string[];
  readonly productIds: string[];
  readonly productNames: string[];
  private totals: Float64Array | undefined;

  constructor(readonly plan: TenantShape) {
    this.userIds = Array.from({ length: plan.counts.users }, (_, u) => rngFor(plan.seed, KIND.user, u).uuid());
    this.productIds = [];
    this.productNames = [];
    for (let p = 0; p < plan.counts.products; p++) {
      const rng = rngFor(plan.seed, KIND.product, p);
      this.productIds.push(rng.uuid());
      this.productNames.push(`${rng.pick(PRODUCTS)} مدل ${persianDigits(String(p + 1))}`);
    }
  }

  accountId(chartIndex: number): number {
    return this.plan.base.accounts + chartIndex + 1;
  }

  customerId(index: number): number {
    return this.plan.base.customers + index + 1;
  }

  invoiceId(index: number): number {
    return this.plan.base.invoices + index + 1;
  }

  paymentId(index: number): string {
    return rngFor(this.plan.seed, KIND.payment, index).uuid();
  }

  invoiceHead(i: number): InvoiceHead {
    const { plan } = this;
    const rng = rngFor(plan.seed, KIND.invoice, i);
    const r = rng.float();
    // a few customers get most invoices
    const customer = Math.floor(plan.counts.customers * r * r);
    const roll = rng.float();
    const status = roll < 0.1 ? "draft" : roll < 0.4 ? "issued" : roll < 0.95 ? "paid" : "void";
    const createdAt = plan.createdAt + Math.floor(((i + rng.float()) / plan.counts.invoices) * INVOICE_SPAN);
    return {
      number: `INV-${new Date(createdAt).getUTCFullYear()}-${pad(i + 1, 7)}`,
      customer,
      status,
      currency: rng.chance(0.05) ? "USD" : plan.currency,
      createdAt,
      issuedAt: status === "draft" ? null : createdAt + rng.int(0, 48) * HOUR,
      hasAttachment: i === 0 || rng.chance(0.1),
      rng,
    };
  }

  invoiceLines(i: number): InvoiceLine[] {
    const { plan } = this;
    const n = lineCount(plan.seed, i);
    const lines: InvoiceLine[] = [];
    for (let j = 0; j < n; j++) {
      const rng = rngFor(plan.seed, KIND.line, i * 8 + j);
      const productIndex = rng.chance(0.85) ? rng.int(0, plan.counts.products - 1) : null;
      const qtyMilli = rng.chance(0.7) ? rng.int(1, 20) * 1000 : rng.int(1, 20_000);
      // prices spread over orders of magnitude (1 to ~10^9 units), integer arithmetic only
      const priceCents = rng.int(100, 999) * 10 ** rng.int(0, 8);
      const grossCents = Math.round((qtyMilli * priceCents) / 1000);
      const discountCents = rng.chance(0.2) ? Math.round(grossCents * 0.05) : 0;
      const netCents = grossCents - discountCents;
      const taxes: InvoiceLine["taxes"] = [];
      const taxCount = rng.int(0, 2);
      for (let k = 0; k < taxCount; k++) {
        const [code, rateBp] = TAX_CODES[k]!;
        taxes.push({ code, rateBp, amountCents: Math.round((netCents * rateBp) / 10_000) });
      }
      lines.push({ productIndex, qtyMilli, priceCents, discountCents, netCents, taxes, awkwardDescription: rng.chance(0.05) });
    }
    return lines;
  }

  /** [subtotal, tax] in cents of every invoice, computed once. */
  invoiceTotals(): Float64Array {
    if (this.totals) return this.totals;
    const totals = new Float64Array(this.plan.counts.invoices * 2);
    for (let i = 0; i < this.plan.counts.invoices; i++) {
      let net = 0;
      let tax = 0;
      for (const line of this.invoiceLines(i)) {
        net += line.netCents;
        for (const t of line.taxes) tax += t.amountCents;
      }
      totals[2 * i] = net;
      totals[2 * i + 1] = tax;
    }
    this.totals = totals;
    return totals;
  }
}

export interface TableWriter {
  table: string;
  /** Columns in COPY order (generated columns left out). */
  columns: string[];
  rows(data: TenantData): Iterable<string>;
}

function personName(rng: Rng): string {
  return `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`;
}

function* tenantRows(data: TenantData): Iterable<string> {
  const { plan } = data;
  const settings = {
    locale: "fa-IR",
    calendar: "jalali",
    invoicePrefix: "INV-",
    fiscalYearStart: "01-01",
    features: plan.index % 2 === 0 ? ["inventory", "payroll"] : [],
    note: awkward(plan.index),
    "کلید فارسی": "مقدار «نقل‌قول»",
    'quote"key': "back\\slash and\nnewline",
    limits: { users: 10 + (plan.index % 5), storageMb: null },
  };
  yield copyRow([plan.id, copyText(plan.name), plan.slug, plan.status, plan.currency, copyJson(settings), copyTimestamp(plan.createdAt)]);
}

function* userRows(data: TenantData): Iterable<string> {
  const { plan } = data;
  for (let u = 0; u < plan.counts.users; u++) {
    const rng = rngFor(plan.seed, KIND.user, u);
    rng.uuid(); // the id, already in data.userIds
    const email = u === 0 ? `owner@${plan.slug}.example` : u === 1 ? `Sara.Karimi+acct@${plan.slug}.example` : `user${u}@${plan.slug}.example`;
    const role = u === 0 ? "owner" : rng.pick(["admin", "accountant", "viewer"] as const);
    const permissions = u === 1 ? AWKWARD_TAGS.filter((t) => t !== null) : PERMISSIONS.filter(() => rng.chance(0.5));
    const createdAt = plan.createdAt + u * HOUR;
    yield copyRow([
      data.userIds[u]!,
      plan.id,
      copyText(email),
      copyText(u === 0 ? "مدیر سیستم" : personName(rng)),
      role,
      copyBytea(rng.bytes(32)),
      copyTextArray(permissions),
      rng.chance(0.2) ? COPY_NULL : copyTimestamp(createdAt + rng.int(1, 900) * DAY),
      copyTimestamp(createdAt),
    ]);
  }
}

function* accountRows(data: TenantData): Iterable<string> {
  const { plan } = data;
  for (let a = 0; a < plan.counts.accounts; a++) {
    const chart = CHART_OF_ACCOUNTS[a];
    const [code, name, type, parent] = chart ?? [
      `1102${pad(a - CHART_OF_ACCOUNTS.length + 1, 3)}`,
      `بانک ملت - حساب ${persianDigits(String(a - CHART_OF_ACCOUNTS.length + 1))}`,
      "asset" as const,
      ACCOUNT.bank,
    ];
    yield copyRow([
      String(data.accountId(a)),
      plan.id,
      code,
      copyText(name),
      type,
      parent < 0 ? COPY_NULL : String(data.accountId(parent)),
      // every tenant holds every awkward value here (the chart is longer than the list)
      copyText(awkward(a)),
      a % 11 === 10 ? "f" : "t",
      copyTimestamp(plan.createdAt),
    ]);
  }
}

function* customerRows(data: TenantData): Iterable<string> {
  const { plan } = data;
  const n = plan.counts.customers;
  for (let c = 0; c < n; c++) {
    const rng = rngFor(plan.seed, KIND.customer, c);
    const company = rng.chance(0.4);
    const name = company ? `${rng.pick(COMPANY_KINDS)} ${rng.pick(COMPANY_NAMES)}` : personName(rng);
    const national = rng.float();
    const nationalId = national < 0.5 ? pad(rng.int(0, 999_999_999), 10) : national < 0.8 ? persianDigits(pad(rng.int(0, 999_999_999), 10)) : null;
    const phone = rng.chance(0.8) ? `0912${pad(rng.int(0, 9_999_999), 7)}` : null;
    const email = rng.chance(0.6) ? `c${c}@example.ir` : null;
    const address = rng.chance(0.7)
      ? `${rng.pick(CITIES)}، ${rng.pick(STREETS)}، پلاک ${persianDigits(String(rng.int(1, 300)))}\nکد پستی: ${pad(rng.int(0, 999_999_999), 10)}`
      : null;
    const tagRoll = rng.float();
    const tags = c === 0 ? AWKWARD_TAGS : tagRoll < 0.3 ? null : tagRoll < 0.4 ? [] : TAGS.filter(() => rng.chance(0.3));
    const creditLimit = rng.chance(0.5) ? fixed(rng.int(0, 5_000_000) * 1000, 2) : COPY_NULL;
    const balance = fixed(rng.int(-1_000_000, 50_000_000), 2);
    const referredBy = c > 0 && rng.chance(0.2) ? String(data.customerId((c + 1 + rng.int(0, n - 2)) % n)) : COPY_NULL;
    const defaultInvoice = c < plan.counts.invoices && c % 3 === 0 ? String(data.invoiceId(c)) : COPY_NULL;
    const metadata = rng.chance(0.6)
      ? {
          source: rng.pick(["web", "mobile", "import"] as const),
          loyalty: { level: rng.int(0, 3), points: rng.int(0, 10_000) },
          "نام مستعار": rng.pick(FIRST_NAMES),
          remark: awkward(c + 3),
          empty: {},
          list: [1, "دو", null, true],
        }
      : null;
    const notes = c < AWKWARD_TEXTS.length ? awkward(c) : rng.chance(0.3) ? awkward(rng.int(0, AWKWARD_TEXTS.length - 1)) : null;
    yield copyRow([
      String(data.customerId(c)),
      plan.id,
      `C-${pad(c + 1, 6)}`,
      copyText(name),
      copyText(nationalId),
      copyText(phone),
      copyText(email),
      copyText(address),
      copyTextArray(tags),
      creditLimit,
      balance,
      referredBy,
      defaultInvoice,
      copyJson(metadata),
      copyText(notes),
      copyTimestamp(plan.createdAt + c * 7 * 60_000),
    ]);
  }
}

function* productRows(data: TenantData): Iterable<string> {
  const { plan } = data;
  for (let p = 0; p < plan.counts.products; p++) {
    const rng = rngFor(plan.seed, KIND.product, p);
    rng.uuid();
    rng.pick(PRODUCTS); // the name, already in data.productNames
    const priceMicros = rng.int(1, 900_000) * 1000 * (rng.chance(0.8) ? 1000 : 1) + (rng.chance(0.1) ? rng.int(1, 999) : 0);
    const dimRoll = rng.float();
    const dimensions =
      p % 17 === 5
        ? [
            [1, 2],
            [3, 4],
          ]
        : dimRoll < 0.3
          ? null
          : dimRoll < 0.4
            ? []
            : [rng.int(1, 200), rng.int(1, 200), rng.int(1, 200)];
    const image = p === 0 ? Buffer.alloc(0) : rng.chance(0.3) ? rng.bytes(rng.int(16, 256)) : null;
    const attributes = rng.chance(0.7)
      ? {
          color: rng.pick(["قرمز", "آبی", "سبز", "مشکی"] as const),
          weightKg: rng.int(1, 5000) / 100,
          برند: rng.pick(COMPANY_NAMES),
          tags: ["a", 'b"c'],
          missing: null,
        }
      : null;
    yield copyRow([
      data.productIds[p]!,
      plan.id,
      `SKU-${pad(p + 1, 6)}`,
      copyText(data.productNames[p]),
      copyText(p % 9 === 0 ? awkward(p / 9) : rng.chance(0.5) ? `توضیحات ${data.productNames[p]!}` : null),
      copyText(rng.chance(0.8) ? rng.pick(PRODUCT_GROUPS) : null),
      fixed(priceMicros, 6),
      rng.pick(["9.00", "0.00", "10.00"] as const),
      copyIntArray(dimensions),
      copyBytea(image),
      copyJson(attributes),
      p % 13 === 12 ? "f" : "t",
      copyTimestamp(plan.createdAt + p * 11 * 60_000),
    ]);
  }
}

function* invoiceRows(data: TenantData): Iterable<string> {
  const { plan } = data;
  const totals = data.invoiceTotals();
  for (let i = 0; i < plan.counts.invoices; i++) {
    const head = data.invoiceHead(i);
    const { rng } = head;
    const subtotal = totals[2 * i]!;
    const tax = totals[2 * i + 1]!;
    const notes = i < AWKWARD_TEXTS.length ? awkward(i) : rng.chance(0.2) ? awkward(rng.int(0, AWKWARD_TEXTS.length - 1)) : null;
    yield copyRow([
      String(data.invoiceId(i)),
      plan.id,
      head.number,
      String(data.customerId(head.customer)),
      head.status,
      head.currency,
      copyText(rng.pick(INVOICE_TITLES)),
      copyTimestamp(head.issuedAt),
      head.issuedAt === null ? COPY_NULL : copyDate(head.issuedAt + 30 * DAY),
      fixed(subtotal, 2),
      fixed(tax, 2),
      fixed(subtotal + tax, 2),
      copyText(notes),
      rng.chance(0.9) ? data.userIds[rng.int(0, data.userIds.length - 1)]! : COPY_NULL,
      copyTimestamp(head.createdAt),
    ]);
  }
}

function* invoiceLineRows(data: TenantData): Iterable<string> {
  const { plan } = data;
  let id = plan.base.invoiceLines;
  for (let i = 0; i < plan.counts.invoices; i++) {
    const lines = data.invoiceLines(i);
    for (let j = 0; j < lines.length; j++) {
      const line = lines[j]!;
      id++;
      const description = line.awkwardDescription
        ? (awkward(i + j) ?? "")
        : line.productIndex === null
          ? "خدمات پشتیبانی"
          : data.productNames[line.productIndex]!;
      yield copyRow([
        String(id),
        plan.id,
        String(data.invoiceId(i)),
        String(j + 1),
        line.productIndex === null ? COPY_NULL : data.productIds[line.productIndex]!,
        copyText(description),
        fixed(line.qtyMilli, 3),
        fixed(line.priceCents, 2),
        fixed(line.discountCents, 2),
      ]);
    }
  }
}

function* invoiceLineTaxRows(data: TenantData): Iterable<string> {
  const { plan } = data;
  let id = plan.base.invoiceLines;
  for (let i = 0; i < plan.counts.invoices; i++) {
    for (const line of data.invoiceLines(i)) {
      id++;
      for (const tax of line.taxes) {
        yield copyRow([String(id), copyText(tax.code), fixed(tax.rateBp, 2), fixed(tax.amountCents, 2)]);
      }
    }
  }
}

/** An invoice's attachment: its id and kind come first from its generator, so thumbnails can recompute them cheaply. */
function attachmentHead(data: TenantData, i: number): { rng: Rng; id: string; pdf: boolean } {
  const rng = rngFor(data.plan.seed, KIND.attachment, i);
  const id = rng.uuid();
  return { rng, id, pdf: rng.chance(0.7) };
}

function* attachmentRows(data: TenantData): Iterable<string> {
  const { plan } = data;
  for (let i = 0; i < plan.counts.invoices; i++) {
    const head = data.invoiceHead(i);
    if (!head.hasAttachment) continue;
    const { rng, id, pdf } = attachmentHead(data, i);
    const body = rng.bytes(rng.int(200, 4000));
    const content = pdf ? Buffer.concat([Buffer.from("%PDF-1.7\n"), body]) : body;
    const fileName = i % 5 === 0 ? `scan "final" (${i + 1}).png` : `فاکتور-${persianDigits(String(i + 1))}.${pdf ? "pdf" : "png"}`;
    yield copyRow([
      id,
      String(data.invoiceId(i)),
      copyText(fileName),
      pdf ? "application/pdf" : "image/png",
      copyBytea(content),
      copyTimestamp(head.createdAt + HOUR),
    ]);
  }
}

function* attachmentThumbnailRows(data: TenantData): Iterable<string> {
  const { plan } = data;
  for (let i = 0; i < plan.counts.invoices; i++) {
    if (!data.invoiceHead(i).hasAttachment) continue;
    const { id, pdf } = attachmentHead(data, i);
    const sizes = pdf
      ? ([["first-page", 120, 160]] as const)
      : ([
          ["64x64", 64, 64],
          ["256x256", 256, 256],
        ] as const);
    for (let k = 0; k < sizes.length; k++) {
      const [size, width, height] = sizes[k]!;
      const rng = rngFor(plan.seed, KIND.thumbnail, i * 4 + k);
      yield copyRow([id, size, String(width), String(height), copyBytea(rng.bytes(rng.int(40, 300)))]);
    }
  }
}

function* paymentRows(data: TenantData): Iterable<string> {
  const { plan } = data;
  const totals = data.invoiceTotals();
  for (let j = 0; j < plan.counts.payments; j++) {
    const rng = rngFor(plan.seed, KIND.payment, j);
    const id = rng.uuid();
    const head = data.invoiceHead(j);
    // every tenant has on-account payments (no invoice): the second one, and one in ten after it
    const allocated = j % 10 !== 1;
    const customer = allocated ? head.customer : rng.int(0, plan.counts.customers - 1);
    const amount = allocated ? totals[2 * j]! + totals[2 * j + 1]! : rng.int(1, 100_000_000);
    const method = rng.pick(["cash", "card", "transfer", "cheque"] as const);
    const response =
      method === "card" ? { gateway: "شاپرک", code: "00", trace: pad(rng.int(0, 999_999), 6), raw: 'ok\t"approved"', amount: amount / 100 } : null;
    yield copyRow([
      id,
      plan.id,
      String(data.customerId(customer)),
      allocated ? String(data.invoiceId(j)) : COPY_NULL,
      fixed(amount, 2),
      head.currency,
      method,
      copyText(method === "cheque" ? `چک شماره ${persianDigits(pad(rng.int(0, 999_999), 6))}` : rng.chance(0.5) ? `REF-${pad(j, 8)}` : null),
      copyTimestamp(head.createdAt + rng.int(1, 60) * DAY),
      copyJson(response),
      copyTimestamp(head.createdAt + DAY),
    ]);
  }
}

function* journalEntryRows(data: TenantData): Iterable<string> {
  const { plan } = data;
  const { invoices, payments } = plan.counts;
  for (let e = 0; e < invoices + payments; e++) {
    const isInvoice = e < invoices;
    const head = data.invoiceHead(isInvoice ? e : e - invoices);
    const date = isInvoice ? head.createdAt : head.createdAt + DAY;
    yield copyRow([
      String(plan.base.journalEntries + e + 1),
      plan.id,
      String(e + 1),
      copyDate(date),
      copyText(isInvoice ? `سند فروش - فاکتور ${head.number}` : `دریافت وجه - ${head.number}`),
      isInvoice ? String(data.invoiceId(e)) : COPY_NULL,
      isInvoice ? COPY_NULL : data.paymentId(e - invoices),
      head.status === "draft" ? "f" : "t",
      copyTimestamp(date),
    ]);
  }
}

function* journalLineRows(data: TenantData): Iterable<string> {
  const { plan } = data;
  const { invoices, payments } = plan.counts;
  const totals = data.invoiceTotals();
  let id = plan.base.journalLines;
  const line = (o: { entry: number; no: number; account: number; debit: number; credit: number; memo: string | null; at: number }) => {
    id++;
    return copyRow([
      plan.id,
      String(id),
      String(plan.base.journalEntries + o.entry + 1),
      String(o.no),
      String(data.accountId(o.account)),
      fixed(o.debit, 2),
      fixed(o.credit, 2),
      copyText(o.memo),
      copyTimestamp(o.at),
    ]);
  };
  for (let i = 0; i < invoices; i++) {
    const at = plan.createdAt + Math.floor((i / invoices) * INVOICE_SPAN);
    const net = totals[2 * i]!;
    const tax = totals[2 * i + 1]!;
    const memo = i % 50 === 0 ? awkward(i / 50) : null;
    yield line({ entry: i, no: 1, account: ACCOUNT.receivable, debit: net + tax, credit: 0, memo, at });
    yield line({ entry: i, no: 2, account: i % 4 === 0 ? ACCOUNT.services : ACCOUNT.sales, debit: 0, credit: net, memo: null, at });
    yield line({ entry: i, no: 3, account: ACCOUNT.vat, debit: 0, credit: tax, memo: null, at });
  }
  for (let j = 0; j < payments; j++) {
    const amount = totals[2 * j]! + totals[2 * j + 1]!;
    const at = plan.createdAt + Math.floor((j / invoices) * INVOICE_SPAN) + DAY;
    const entry = invoices + j;
    yield line({ entry, no: 1, account: j % 3 === 0 ? ACCOUNT.cash : ACCOUNT.bank, debit: amount, credit: 0, memo: "دریافت", at });
    yield line({ entry, no: 2, account: ACCOUNT.receivable, debit: 0, credit: amount, memo: null, at });
  }
}

function ip(rng: Rng): string | null {
  const roll = rng.float();
  if (roll < 0.1) return null;
  if (roll < 0.3) return `2001:db8::${rng.int(1, 0xffff).toString(16)}`;
  return `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
}

function* auditRows(data: TenantData): Iterable<string> {
  const { plan } = data;
  const { invoices, users } = plan.counts;
  const event = (o: { rng: Rng; actor: string | null; action: string; entity: string; entityId: string; payload: unknown; at: number }) =>
    copyRow([
      o.rng.uuid(),
      plan.id,
      o.actor ?? COPY_NULL,
      o.action,
      o.entity,
      copyText(o.entityId),
      copyJson(o.payload),
      copyText(ip(o.rng)),
      copyText(o.rng.pick(USER_AGENTS)),
      copyTimestamp(o.at),
    ]);
  for (let i = 0; i < invoices; i++) {
    const rng = rngFor(plan.seed, KIND.audit, i);
    const head = data.invoiceHead(i);
    const actor = rng.chance(0.9) ? data.userIds[rng.int(0, users - 1)]! : null;
    const entityId = String(data.invoiceId(i));
    yield event({ rng, actor, action: "invoice.created", entity: "invoice", entityId, payload: { number: head.number, status: "draft" }, at: head.createdAt });
    yield event({
      rng,
      actor,
      action: "invoice.updated",
      entity: "invoice",
      entityId,
      payload: { before: { status: "draft" }, after: { status: head.status }, note: awkward(i), توضیح: "ویرایش فاکتور" },
      at: head.createdAt + rng.int(1, 90) * DAY,
    });
  }
  for (let u = 0; u < users; u++) {
    const rng = rngFor(plan.seed, KIND.audit, invoices + u);
    for (let k = 0; k < 2; k++) {
      yield event({
        rng,
        actor: data.userIds[u]!,
        action: "user.login",
        entity: "user",
        entityId: data.userIds[u]!,
        payload: k === 0 ? { method: "password" } : null,
        at: plan.createdAt + u * HOUR + rng.int(0, 1200) * DAY,
      });
    }
  }
}

/** Every tenant table's writer, in load order (currencies, the global table, is loaded separately). */
export const TABLE_WRITERS: readonly TableWriter[] = [
  { table: "tenants", columns: ["id", "name", "slug", "status", "base_currency", "settings", "created_at"], rows: tenantRows },
  {
    table: "users",
    columns: ["id", "tenant_id", "email", "full_name", "role", "password_hash", "permissions", "last_login_at", "created_at"],
    rows: userRows,
  },
  { table: "accounts", columns: ["id", "tenant_id", "code", "name", "type", "parent_id", "description", "is_active", "created_at"], rows: accountRows },
  {
    table: "customers",
    columns: [
      "id",
      "tenant_id",
      "code",
      "name",
      "national_id",
      "phone",
      "email",
      "address",
      "tags",
      "credit_limit",
      "balance",
      "referred_by",
      "default_invoice_id",
      "metadata",
      "notes",
      "created_at",
    ],
    rows: customerRows,
  },
  {
    table: "products",
    columns: ["id", "tenant_id", "sku", "name", "description", "group", "unit_price", "tax_rate", "dimensions", "image", "attributes", "active", "created_at"],
    rows: productRows,
  },
  {
    table: "invoices",
    columns: [
      "id",
      "tenant_id",
      "number",
      "customer_id",
      "status",
      "currency",
      "title",
      "issued_at",
      "due_date",
      "subtotal",
      "tax_total",
      "total",
      "notes",
      "created_by",
      "created_at",
    ],
    rows: invoiceRows,
  },
  {
    table: "invoice_lines",
    columns: ["id", "tenant_id", "invoice_id", "line_no", "product_id", "description", "qty", "unit_price", "discount"],
    rows: invoiceLineRows,
  },
  { table: "invoice_line_taxes", columns: ["line_id", "tax_code", "rate", "amount"], rows: invoiceLineTaxRows },
  { table: "attachments", columns: ["id", "invoice_id", "file_name", "content_type", "content", "created_at"], rows: attachmentRows },
  { table: "attachment_thumbnails", columns: ["attachment_id", "size", "width", "height", "image"], rows: attachmentThumbnailRows },
  {
    table: "payments",
    columns: ["id", "tenant_id", "customer_id", "invoice_id", "amount", "currency", "method", "reference", "paid_at", "gateway_response", "created_at"],
    rows: paymentRows,
  },
  {
    table: "journal_entries",
    columns: ["id", "tenant_id", "entry_no", "entry_date", "description", "source_invoice_id", "source_payment_id", "posted", "created_at"],
    rows: journalEntryRows,
  },
  {
    table: "journal_lines",
    columns: ["tenant_id", "id", "entry_id", "line_no", "account_id", "debit", "credit", "memo", "created_at"],
    rows: journalLineRows,
  },
  {
    table: "audit_events",
    columns: ["id", "tenant_id", "actor_id", "action", "entity", "entity_id", "payload", "ip", "user_agent", "created_at"],
    rows: auditRows,
  },
];

/** The global lookup rows (currencies) as COPY text. */
export function* currencyRows(): Iterable<string> {
  for (const c of CURRENCIES) {
    yield copyRow([c.code, copyText(c.name), copyText(c.nameFa), copyText(c.symbol), String(c.minorUnits)]);
  }
}
