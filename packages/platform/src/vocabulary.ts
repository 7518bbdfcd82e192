/**
 * Words the generator draws from: Persian business vocabulary (what HesaabPlus tenants really
 * type), and the awkward values every exporter and importer has to survive.
 */

/**
 * Text values that break naive COPY/CSV handling. Each tenant gets all of them (in its chart of
 * accounts' descriptions, cycling), and they recur in customers, invoices and lines.
 */
export const AWKWARD_TEXTS: readonly (string | null)[] = [
  "سطر اول\nسطر دوم", // newline
  "ستون اول\tستون دوم", // tab
  "C:\\Users\\حسابداری\\backup\\", // backslashes, one at the end
  'he said "salam" — گفت "سلام"', // double quotes
  "O'Reilly's ledger, دفتر 'کل'", // single quotes
  "\\N", // the two characters backslash + N: COPY's NULL marker, but here a real value
  "", // empty string (not NULL)
  null,
  "windows line\r\nending", // CR LF
  "before\n\\.\nafter", // COPY's end-of-data marker on a line of its own
  "a,b;c|d", // CSV delimiters
  "  leading and trailing spaces  ",
  "می‌خواهم ✅ 😀", // zero-width non-joiner, a 4-byte emoji
  "NULL", // the word, not the value
  '{"looks": ["like json"]}',
  "\\x41\\x42", // looks like bytea hex
  "كيك عربی vs کیک فارسی", // Arabic kaf/yeh next to Persian ones
  "tab at end\t",
  "\\", // a lone backslash
];

/** text[] elements that need quoting inside an array literal. */
export const AWKWARD_TAGS: readonly (string | null)[] = [
  "vip",
  "عمده‌فروش",
  "a,b",
  'with "quotes"',
  "back\\slash",
  "{braces}",
  "NULL",
  null,
  "",
  "space here",
  "line\nbreak",
];

export const COMPANY_KINDS = ["شرکت", "فروشگاه", "بازرگانی", "صنایع", "گروه", "کارگاه", "تعاونی"] as const;
export const COMPANY_NAMES = [
  "بازرگانی آرمان",
  "پارس",
  "البرز",
  "سپهر",
  "کیان",
  "نوین",
  "آریا",
  "مهر",
  "ایران‌زمین",
  "تجارت گستر",
  "سبز",
  "پیشرو",
  "رایان",
  "آفتاب",
  "زاگرس",
] as const;
export const FIRST_NAMES = ["علی", "مریم", "رضا", "زهرا", "محمد", "فاطمه", "حسین", "سارا", "امیر", "نگار", "مهدی", "نرگس"] as const;
export const LAST_NAMES = ["احمدی", "رضایی", "محمدی", "حسینی", "کریمی", "موسوی", "جعفری", "صادقی", "نوری", "قاسمی"] as const;
export const CITIES = ["تهران", "اصفهان", "شیراز", "مشهد", "تبریز", "کرج", "رشت", "یزد"] as const;
export const STREETS = ["خیابان ولیعصر", "خیابان انقلاب", "بلوار کشاورز", "خیابان آزادی", "کوچه بهار"] as const;
export const PRODUCTS = [
  "کاغذ A4",
  "خودکار آبی",
  "لپ‌تاپ",
  "میز اداری",
  "صندلی گردان",
  "چای ایرانی",
  "زعفران",
  "پسته",
  "فرش دستباف",
  "خدمات مشاوره",
  "نرم‌افزار حسابداری",
  "پرینتر لیزری",
] as const;
export const PRODUCT_GROUPS = ["لوازم اداری", "مواد غذایی", "کالای دیجیتال", "خدمات", "مبلمان"] as const;
export const INVOICE_TITLES = ["فاکتور فروش", "پیش‌فاکتور", "فاکتور خدمات", "فاکتور فروش رسمی"] as const;
export const PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹";

/** A chart of accounts: [code, Persian name, type, index of the parent in this list or -1]. */
export const CHART_OF_ACCOUNTS: readonly (readonly [string, string, "asset" | "liability" | "equity" | "income" | "expense", number])[] = [
  ["1", "دارایی‌ها", "asset", -1],
  ["11", "دارایی‌های جاری", "asset", 0],
  ["1101", "صندوق", "asset", 1],
  ["1102", "بانک ملت", "asset", 1],
  ["1103", "حساب‌های دریافتنی", "asset", 1],
  ["1104", "موجودی کالا", "asset", 1],
  ["12", "دارایی‌های ثابت", "asset", 0],
  ["1201", "اثاثه و منصوبات", "asset", 6],
  ["2", "بدهی‌ها", "liability", -1],
  ["21", "بدهی‌های جاری", "liability", 8],
  ["2101", "حساب‌های پرداختنی", "liability", 9],
  ["2102", "مالیات بر ارزش افزوده پرداختنی", "liability", 9],
  ["3", "حقوق صاحبان سهام", "equity", -1],
  ["3101", "سرمایه", "equity", 12],
  ["3102", "سود انباشته", "equity", 12],
  ["4", "درآمدها", "income", -1],
  ["4101", "فروش کالا", "income", 15],
  ["4102", "درآمد خدمات", "income", 15],
  ["5", "هزینه‌ها", "expense", -1],
  ["5101", "بهای تمام‌شده کالای فروش‌رفته", "expense", 18],
  ["5102", "هزینه حقوق", "expense", 18],
  ["5103", "هزینه اجاره", "expense", 18],
  ["5104", "هزینه‌های بانکی", "expense", 18],
];

/** Indexes into CHART_OF_ACCOUNTS used by journal lines. */
export const ACCOUNT = { cash: 2, bank: 3, receivable: 4, vat: 11, sales: 16, services: 17 } as const;

export const CURRENCIES: readonly { code: string; name: string; nameFa: string; symbol: string | null; minorUnits: number }[] = [
  { code: "IRR", name: "Iranian rial", nameFa: "ریال ایران", symbol: "﷼", minorUnits: 0 },
  { code: "USD", name: "US dollar", nameFa: "دلار آمریکا", symbol: "$", minorUnits: 2 },
  { code: "EUR", name: "Euro", nameFa: "یورو", symbol: "€", minorUnits: 2 },
  { code: "AED", name: "UAE dirham", nameFa: "درهم امارات", symbol: "د.إ", minorUnits: 2 },
  { code: "TRY", name: "Turkish lira", nameFa: "لیر ترکیه", symbol: "₺", minorUnits: 2 },
  { code: "GBP", name: "Pound sterling", nameFa: "پوند انگلیس", symbol: "£", minorUnits: 2 },
  { code: "CNY", name: "Chinese yuan", nameFa: "یوآن چین", symbol: null, minorUnits: 2 },
  { code: "IQD", name: "Iraqi dinar", nameFa: "دینار عراق", symbol: "ع.د", minorUnits: 3 },
];

/** Persian digits for an ASCII digit string ("0912" → "۰۹۱۲"). */
export function persianDigits(ascii: string): string {
  let out = "";
  for (const ch of ascii) out += ch >= "0" && ch <= "9" ? PERSIAN_DIGITS[ch.charCodeAt(0) - 48] : ch;
  return out;
}
