// The tenant app's two languages: Persian (right to left, Persian digits and calendar) and English.
// The session carries no language (its claims are aud, sub, tenant_id, role, iat, exp, jti: see the
// gateway's README), so the language comes from the link HesaabPlus opens (`#lang=fa` or `?lang=fa`
// beside the session), then the user's own choice in this browser, then the browser's languages.
import { createContext, useContext } from "react";

export type Language = "fa" | "en";
export const LANGUAGES: readonly Language[] = ["fa", "en"];
const CHOICE_KEY = "hesaab.tenant.lang";

function isLanguage(value: string | null | undefined): value is Language {
  return value === "fa" || value === "en";
}

/** The language to start in; read before the session is taken, which clears the link's fragment. */
export function initialLanguage(): Language {
  const fromLink = new URLSearchParams(window.location.hash.slice(1)).get("lang") ?? new URLSearchParams(window.location.search).get("lang");
  if (isLanguage(fromLink)) return fromLink;
  const chosen = localStorage.getItem(CHOICE_KEY);
  if (isLanguage(chosen)) return chosen;
  const browser = navigator.languages.length > 0 ? navigator.languages : [navigator.language];
  return browser.find((tag) => tag.toLowerCase().startsWith("fa")) ? "fa" : "en";
}

/** Remembers the user's choice in this browser and sets the page's language and direction. */
export function applyLanguage(language: Language, remember: boolean): void {
  if (remember) localStorage.setItem(CHOICE_KEY, language);
  document.documentElement.lang = language;
  document.documentElement.dir = direction(language);
  document.title = messages[language].pageTitle;
}

export const direction = (language: Language): "rtl" | "ltr" => (language === "fa" ? "rtl" : "ltr");

/** Intl locales: Persian with its calendar and digits spelled out, so every browser agrees. */
const LOCALE: Record<Language, string> = { fa: "fa-IR-u-ca-persian-nu-arabext", en: "en-GB" };

/** Numbers, sizes and dates as the language writes them. */
export function formatters(language: Language) {
  const locale = LOCALE[language];
  const integer = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const percent = new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 0 });
  const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
  // an export's day is a calendar day (YYYY-MM-DD in the limit's zone): shown as that day, whatever the browser's zone
  const day = new Intl.DateTimeFormat(locale, { dateStyle: "long", timeZone: "UTC" });
  const relative = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  // Chromium's Persian data names these units "kB" and "MB", which read backwards in a right-to-left line: words instead
  const unit = (name: string, digits: number, persian: string) => {
    if (language === "en") return new Intl.NumberFormat(locale, { style: "unit", unit: name, unitDisplay: "short", maximumFractionDigits: digits });
    const number = new Intl.NumberFormat(locale, { maximumFractionDigits: digits });
    return { format: (n: number) => `${number.format(n)} ${persian}` };
  };
  const kb = unit("kilobyte", 0, "کیلوبایت");
  const mb = unit("megabyte", 1, "مگابایت");
  return {
    integer: (n: number) => integer.format(n),
    /** `fraction` from 0 to 1. */
    percent: (fraction: number) => percent.format(fraction),
    dateTime: (iso: string) => dateTime.format(new Date(iso)),
    day: (ymd: string) => day.format(new Date(`${ymd}T12:00:00Z`)),
    size: (bytes: number) => (bytes < 1024 * 1024 ? kb.format(Math.max(1, bytes / 1024)) : mb.format(bytes / 1024 / 1024)),
    /** "in 5 hours", "in 40 minutes", from now. */
    fromNow: (iso: string, now = Date.now()) => {
      const minutes = Math.round((new Date(iso).getTime() - now) / 60_000);
      return Math.abs(minutes) < 60 ? relative.format(minutes, "minute") : relative.format(Math.round(minutes / 60), "hour");
    },
  };
}
export type Formatters = ReturnType<typeof formatters>;

const en = {
  pageTitle: "HesaabPlus — My data",
  title: "My data",
  intro:
    "A copy of all your business data, as a ZIP file: one spreadsheet (CSV) per table, a README, and a SQL file for PostgreSQL. Once a day; the download link works for 24 hours.",
  language: "Language",
  signingIn: "Signing in…",
  signInNeeded: "Open this page from HesaabPlus (Settings → My data), which signs you in.",
  sessionProblem: "We could not sign you in",
  loading: "Loading…",
  retry: "Try again",
  limitTitle: "Today's copy",
  limitUsed: (used: string, limit: string) => `${used} of ${limit} used today`,
  limitFree: "You can ask for today's copy now.",
  limitResets: (at: string, fromNow: string) => `You can ask again from ${at} (${fromNow}).`,
  limitBar: "copies used today",
  request: "Prepare a copy of my data",
  requesting: "Asking…",
  requested: "Today's copy has been asked for",
  requestFailed: "Your copy could not be asked for",
  roleRefused: (role: string, sentence: string | null) =>
    sentence ?? `Your role (${role}) cannot ask for a copy. Ask an owner of your organisation to prepare it.`,
  historyTitle: "My copies",
  historyEmpty: "None yet.",
  historyEmptyHint: "When you ask for a copy, it appears here while it is prepared and while it can be downloaded.",
  historyError: "Could not load your copies",
  status: { pending: "Preparing…", running: "Preparing…", ready: "Ready", failed: "Failed", expired: "Expired" } as Record<string, string>,
  waiting: "Waiting to start…",
  progressLabel: "preparing the copy",
  progress: (percent: string, rows: string | null) => (rows ? `${percent} done, ${rows} rows so far` : `${percent} done`),
  size: "Size",
  availableUntil: "Available until",
  expiredOn: "Deleted on",
  download: "Download",
  downloadOf: (day: string) => `Download the copy of ${day}`,
  downloaded: (times: string) => `downloaded ${times}×`,
  notDownloadable: "Not downloadable here (made by your administrator).",
  failedHint: "Something went wrong while preparing it. Ask again tomorrow, or ask your administrator.",
};
export type Messages = typeof en;

const fa: Messages = {
  pageTitle: "حساب‌پلاس — داده‌های من",
  title: "داده‌های من",
  intro:
    "یک نسخه از همهٔ داده‌های کسب‌وکار شما در یک فایل ZIP: برای هر جدول یک صفحه‌گسترده (CSV)، یک راهنما (README) و یک فایل SQL برای PostgreSQL. روزی یک بار؛ پیوند دریافت ۲۴ ساعت کار می‌کند.",
  language: "زبان",
  signingIn: "در حال ورود…",
  signInNeeded: "این صفحه را از حساب‌پلاس باز کنید (تنظیمات ← داده‌های من) تا وارد شوید.",
  sessionProblem: "نتوانستیم شما را وارد کنیم",
  loading: "در حال بارگذاری…",
  retry: "دوباره امتحان کنید",
  limitTitle: "نسخهٔ امروز",
  limitUsed: (used, limit) => `${used} از ${limit} نسخهٔ امروز استفاده شده`,
  limitFree: "اکنون می‌توانید نسخهٔ امروز را درخواست کنید.",
  limitResets: (at, fromNow) => `از ${at} (${fromNow}) دوباره می‌توانید درخواست کنید.`,
  limitBar: "نسخه‌های استفاده‌شدهٔ امروز",
  request: "آماده‌سازی نسخه‌ای از داده‌هایم",
  requesting: "در حال درخواست…",
  requested: "نسخهٔ امروز درخواست شده است",
  requestFailed: "درخواست نسخه انجام نشد",
  roleRefused: (role) => `نقش شما (${role}) اجازهٔ درخواست نسخه را ندارد. از مالک سازمان بخواهید آن را آماده کند.`,
  historyTitle: "نسخه‌های من",
  historyEmpty: "هنوز نسخه‌ای نیست.",
  historyEmptyHint: "وقتی نسخه‌ای درخواست کنید، هنگام آماده‌سازی و تا زمانی که قابل دریافت است اینجا دیده می‌شود.",
  historyError: "نسخه‌های شما بارگذاری نشد",
  status: { pending: "در حال آماده‌سازی…", running: "در حال آماده‌سازی…", ready: "آماده", failed: "ناموفق", expired: "منقضی‌شده" },
  waiting: "در انتظار شروع…",
  progressLabel: "آماده‌سازی نسخه",
  progress: (percent, rows) => (rows ? `${percent} انجام شده، تاکنون ${rows} ردیف` : `${percent} انجام شده`),
  size: "حجم",
  availableUntil: "قابل دریافت تا",
  expiredOn: "حذف‌شده در",
  download: "دریافت",
  downloadOf: (day) => `دریافت نسخهٔ ${day}`,
  downloaded: (times) => `${times} بار دریافت شده`,
  notDownloadable: "اینجا قابل دریافت نیست (مدیر سیستم آن را ساخته است).",
  failedHint: "هنگام آماده‌سازی مشکلی پیش آمد. فردا دوباره درخواست کنید یا از مدیر سیستم بپرسید.",
};

export const messages: Record<Language, Messages> = { fa, en };

export interface I18n {
  language: Language;
  t: Messages;
  f: Formatters;
  setLanguage: (language: Language) => void;
}
export const I18nContext = createContext<I18n | null>(null);

export function useI18n(): I18n {
  const i18n = useContext(I18nContext);
  if (!i18n) throw new Error("useI18n outside I18nContext");
  return i18n;
}
