/// <reference lib="dom" />
// (the page functions below run in the browser)
// The tenant app in a real browser (Debian's chromium through playwright-core) at a phone's width
// (390 px), served by the gateway from its production build under its strict CSP: the whole flow in
// Persian and in English (ask, the limit used, live progress, the download), the language switch,
// the refusals and the empty and signed-out states. Every screen is saved as a screenshot under
// test-artifacts/ for a reviewer (never compared) and checked with axe-core: no serious or critical
// violation. CI sets HESAAB_REQUIRE_BROWSER=1, so these run there; elsewhere they are skipped
// without chromium (`apt-get install chromium`).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import axe from "axe-core";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./harness";
import { buildWebApp } from "./web-build";

const requireBrowser = process.env.CI === "true" || process.env.HESAAB_REQUIRE_BROWSER === "1";
const chromiumPath = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p): p is string => Boolean(p && existsSync(p)));
const artifacts = fileURLToPath(new URL("../test-artifacts/", import.meta.url));
const PHONE = { width: 390, height: 844 };

/** Every value a progress bar's aria-valuenow took, recorded in the page from its first script on. */
function recordProgress() {
  const seen: string[] = [];
  (window as unknown as { progressSeen: string[] }).progressSeen = seen;
  new MutationObserver(() => {
    for (const bar of Array.from(document.querySelectorAll('[role="progressbar"][aria-valuenow]'))) {
      const value = bar.getAttribute("aria-valuenow")!;
      if (seen.at(-1) !== value) seen.push(value);
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["aria-valuenow"] });
}

it.runIf(requireBrowser)("chromium is installed (CI installs Debian's chromium)", () => {
  expect(chromiumPath, "no chromium: apt-get install chromium, or set CHROMIUM_PATH").toBeDefined();
});

describe.runIf(chromiumPath)("the tenant app in a browser, on a phone", { timeout: 120_000 }, () => {
  let h: Harness;
  let browser: Browser;
  /** What the browser refused under the CSP (an injected <style>, an inline script), per page. */
  const refused = new Map<Page, string[]>();

  beforeAll(async () => {
    // the gateway serves the app's dist/ when it starts: build it first, as the demo does
    await buildWebApp("tenant-web");
    h = await startHarness("gw_tenant_web", { tenants: 8 });
    browser = await chromium.launch({ executablePath: chromiumPath!, args: ["--no-sandbox"] });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  /** A phone-sized tab whose browser speaks `locale`, opened at `path`. */
  async function phone(path: string, locale: "fa-IR" | "en-US"): Promise<Page> {
    const context = await browser.newContext({ viewport: PHONE, locale, isMobile: true, hasTouch: true, acceptDownloads: true });
    const p = await context.newPage();
    const violations: string[] = [];
    refused.set(p, violations);
    p.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    await p.addInitScript(recordProgress);
    await p.goto(`${h.gateway.address}${path}`);
    return p;
  }

  /**
   * One screen looked at: saved for a reviewer, run through axe-core (evaluated by the driver, which the
   * page's CSP does not govern), wider than the phone never, nothing refused by the CSP.
   */
  async function screen(p: Page, name: string) {
    await p.screenshot({ path: `${artifacts}${name}.png`, fullPage: true });
    await p.evaluate(axe.source);
    const violations = await p.evaluate(async () => {
      const { axe } = window as unknown as {
        axe: { run(ctx: Document): Promise<{ violations: { id: string; impact?: string; nodes: { target: unknown[] }[] }[] }> };
      };
      const result = await axe.run(document);
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(" ")) }));
    });
    expect(
      violations.filter((v) => v.impact === "serious" || v.impact === "critical"),
      `${name}: axe`,
    ).toEqual([]);
    expect(await p.evaluate(() => document.documentElement.scrollWidth), `${name}: no sideways scrolling at ${PHONE.width} px`).toBeLessThanOrEqual(
      PHONE.width,
    );
    expect(refused.get(p), `${name}: refused by the CSP`).toEqual([]);
  }

  const progressSeen = (p: Page) => p.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen);

  it("in Persian: asks for today's copy, sees the limit used, the progress, then downloads the ZIP", async () => {
    const [tenant] = h.activeTenants();
    const app = await phone(`/app/#session=${await h.tenantSession(tenant!)}`, "fa-IR");
    // the language from the browser: Persian, right to left, Persian digits
    await app.getByRole("heading", { name: "داده‌های من" }).waitFor();
    await expect(app.evaluate(() => [document.documentElement.lang, document.documentElement.dir])).resolves.toEqual(["fa", "rtl"]);
    expect(app.url(), "the token leaves the address bar").toBe(`${h.gateway.address}/app/`);
    await app.getByText("هنوز نسخه‌ای نیست.").waitFor();
    await app.getByText("۰ از ۱ نسخهٔ امروز استفاده شده").waitFor();
    await screen(app, "tenant-fa-empty");

    const hold = h.holdExports();
    await app.getByRole("button", { name: "آماده‌سازی نسخه‌ای از داده‌هایم" }).click();
    // the limit spent: the button says so and is off, the indicator says when it frees up
    const asked = app.getByRole("button", { name: "نسخهٔ امروز درخواست شده است" });
    await asked.waitFor();
    await expect(asked.isDisabled()).resolves.toBe(true);
    await app.getByText("۱ از ۱ نسخهٔ امروز استفاده شده").waitFor();
    const resets = await app.getByText(/دوباره می‌توانید درخواست کنید/).textContent();
    expect(resets, "the reset time in Persian digits").toMatch(/[۰-۹]/);
    expect(resets).not.toMatch(/[0-9]/);
    await app.getByText("در انتظار شروع…").waitFor();
    await screen(app, "tenant-fa-preparing");

    hold.release();
    const link = app.getByRole("link", { name: /^دریافت نسخهٔ/ });
    await link.waitFor({ timeout: 60_000 });
    const seen = (await progressSeen(app)).map(Number);
    expect(seen.length, "progress values seen before ready").toBeGreaterThan(0);
    expect(seen.every((v) => v >= 0 && v <= 100)).toBe(true);
    await app.getByText("آماده", { exact: true }).waitFor();
    await screen(app, "tenant-fa-ready");

    const [download] = await Promise.all([app.waitForEvent("download"), link.click()]);
    expect(download.suggestedFilename()).toMatch(/^hesaab-export-\d{4}-\d{2}-\d{2}-exp_[0-9a-z]+\.zip$/);
    const zip = await readFile(await download.path());
    expect(zip.subarray(0, 4).toString("latin1")).toBe("PK\u0003\u0004");
  });

  it("in English: the same flow, then the language switch turns the page to Persian and back", async () => {
    const [, tenant] = h.activeTenants();
    const app = await phone(`/app/#session=${await h.tenantSession(tenant!)}`, "en-US");
    await app.getByRole("heading", { name: "My data" }).waitFor();
    await expect(app.evaluate(() => document.documentElement.dir)).resolves.toBe("ltr");
    await app.getByText("0 of 1 used today").waitFor();
    await app.getByText("You can ask for today's copy now.").waitFor();

    const hold = h.holdExports();
    await app.getByRole("button", { name: "Prepare a copy of my data" }).click();
    await app.getByRole("button", { name: "Today's copy has been asked for" }).waitFor();
    await app.getByText("1 of 1 used today").waitFor();
    await app.getByText(/^You can ask again from .+ \(in \d+ (hours?|minutes?)\)\.$/).waitFor();
    await app.getByText("Waiting to start…").waitFor();
    await screen(app, "tenant-en-preparing");
    hold.release();
    const link = app.getByRole("link", { name: /^Download the copy of / });
    await link.waitFor({ timeout: 60_000 });
    expect((await progressSeen(app)).length, "progress values seen before ready").toBeGreaterThan(0);
    await screen(app, "tenant-en-ready");
    const [download] = await Promise.all([app.waitForEvent("download"), link.click()]);
    expect((await readFile(await download.path())).subarray(0, 2).toString("latin1")).toBe("PK");
    // the count of downloads shows once the list is read again
    await app.reload();
    await app.getByText("downloaded 1×").waitFor();

    // the switch: radio buttons named in their own language; the choice is kept for the next visit
    await app.getByText("فارسی", { exact: true }).click();
    await app.getByRole("heading", { name: "داده‌های من" }).waitFor();
    await expect(app.evaluate(() => [document.documentElement.lang, document.documentElement.dir])).resolves.toEqual(["fa", "rtl"]);
    await app.getByText("۱ بار دریافت شده").waitFor();
    await screen(app, "tenant-en-switched-to-fa");
    await app.reload();
    await app.getByRole("heading", { name: "داده‌های من" }).waitFor();
    await app.getByText("English", { exact: true }).click();
    await app.getByRole("heading", { name: "My data" }).waitFor();
  });

  it("another tenant sees none of it: an empty history and no links", async () => {
    const [, , tenant] = h.activeTenants();
    const app = await phone(`/app/#session=${await h.tenantSession(tenant!)}`, "en-US");
    await app.getByText("None yet.").waitFor();
    await expect(app.getByRole("link", { name: /^Download/ }).count()).resolves.toBe(0);
    await screen(app, "tenant-en-empty");
  });

  it("a user whose role may not export is told why, and who can", async () => {
    const [, , , tenant] = h.activeTenants();
    const app = await phone(`/app/#session=${await h.tenantSession(tenant!, { role: "accountant" })}`, "en-US");
    const why = app.getByText(
      "only owner or admin can ask for a copy of your organisation's data (your role is accountant). Ask an owner of your organisation to prepare it",
    );
    await why.waitFor();
    await expect(app.getByRole("button", { name: "Prepare a copy of my data" }).isDisabled()).resolves.toBe(true);
    await screen(app, "tenant-en-role-refused");

    const persian = await phone(`/app/#session=${await h.tenantSession(tenant!, { role: "accountant" })}`, "fa-IR");
    await persian.getByText("نقش شما (accountant) اجازهٔ درخواست نسخه را ندارد. از مالک سازمان بخواهید آن را آماده کند.").waitFor();
    await screen(persian, "tenant-fa-role-refused");
  });

  it("without a session it says where to open it from, in the language the link names", async () => {
    const app = await phone("/app/", "en-US");
    await app.getByRole("alert").filter({ hasText: "Open this page from HesaabPlus" }).waitFor();
    await screen(app, "tenant-en-signed-out");
    const persian = await phone("/app/#lang=fa", "en-US");
    await persian.getByRole("alert").filter({ hasText: "این صفحه را از حساب‌پلاس باز کنید" }).waitFor();
    await screen(persian, "tenant-fa-signed-out");
  });
});
