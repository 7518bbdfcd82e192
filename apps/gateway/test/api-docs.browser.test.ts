// The REST API's reference page in a real browser (Debian's chromium, as web.browser.test.ts finds
// it): rendered by swagger-ui from the gateway's own assets under the page's CSP, no request leaving
// the gateway, the document's paths on the page. Skipped where no chromium is installed, required on CI.
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./harness";

const chromiumPath = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p): p is string => Boolean(p && existsSync(p)));

describe.runIf(chromiumPath)("the API reference page in a browser", { timeout: 120_000 }, () => {
  let h: Harness;
  let browser: Browser;

  beforeAll(async () => {
    h = await startHarness("gw_apidocs", { tenants: 2 });
    browser = await chromium.launch({ executablePath: chromiumPath!, args: ["--no-sandbox"] });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it("renders every REST path of the document, with nothing blocked and nothing fetched from elsewhere", async () => {
    const page = await (await browser.newContext()).newPage();
    const problems: string[] = [];
    const elsewhere: string[] = [];
    page.on("console", (m) => void (m.type() === "error" && problems.push(m.text())));
    page.on("pageerror", (e) => void problems.push(e.message));
    page.on("response", (r) => void (r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`)));
    page.on("request", (r) => void (!r.url().startsWith(h.gateway.address) && !r.url().startsWith("data:") && elsewhere.push(r.url())));
    await page.goto(`${h.gateway.address}/api/docs`);
    await page.locator(".opblock").first().waitFor();
    const paths = await page.locator(".opblock-summary-path").allTextContents();
    const doc = (await (await fetch(`${h.gateway.address}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    // One block per operation: a path with GET and POST shows twice. swagger-ui breaks long paths with zero-width spaces.
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map(() => path));
    expect(paths.map((p) => p.replace(/\u200b/g, "")).sort()).toEqual(operations.sort());
    expect(await page.title()).toBe("HesaabPlus Backup API");
    expect(problems.filter((p) => !p.startsWith("Failed to load resource"))).toEqual([]);
    expect(elsewhere).toEqual([]);
  });
});
