// The admin app in a real browser (Debian's chromium through playwright-core), served by the
// gateway from its production build: sign-in from the link, what it shows, and the actions that
// reach the bus. The tenant app's cases are in tenant-web.browser.test.ts. CI installs chromium and sets HESAAB_REQUIRE_BROWSER=1, so these run there;
// elsewhere they are skipped when no chromium is installed (`apt-get install chromium`).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupRecords, raiseAlert } from "@hesaab/db";
import { newId } from "@hesaab/contracts";
import { waitFor } from "@hesaab/testkit";
import { startHarness, type Harness } from "./harness";
import { buildWebApp } from "./web-build";

const requireBrowser = process.env.CI === "true" || process.env.HESAAB_REQUIRE_BROWSER === "1";
const chromiumPath = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p): p is string => Boolean(p && existsSync(p)));
/** Screenshots of the screens, for a reviewer to look at (artifacts, never compared). */
const shots = fileURLToPath(new URL("../test-results/", import.meta.url));
const screenshot = (p: Page, name: string) => p.screenshot({ path: `${shots}${name}.png`, fullPage: true });

it.runIf(requireBrowser)("chromium is installed (CI installs Debian's chromium)", () => {
  expect(chromiumPath, "no chromium: apt-get install chromium, or set CHROMIUM_PATH").toBeDefined();
});

describe.runIf(chromiumPath)("the admin app in a browser", { timeout: 120_000 }, () => {
  let h: Harness;
  let browser: Browser;

  beforeAll(async () => {
    // the gateway serves the app's dist/ when it starts: build it first, as the demo does
    await buildWebApp("admin-web");
    h = await startHarness("gw_browser");
    browser = await chromium.launch({ executablePath: chromiumPath!, args: ["--no-sandbox"] });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  async function page(path: string): Promise<Page> {
    const context = await browser.newContext({ acceptDownloads: true });
    const p = await context.newPage();
    await p.goto(`${h.gateway.address}${path}`);
    return p;
  }

  it("admin app: signs in from its link, shows the backups, and queues one in the admin's name", async () => {
    const [tenant] = h.activeTenants();
    const id = newId("bkp");
    const stored = { location: "x", status: "stored" as const, size: 3 * 1024 ** 2 };
    await h.catalog.db.insert(backupRecords).values({
      id,
      backupType: "tenant",
      tenantId: tenant!,
      filename: "x",
      encryptionKeyId: "k",
      status: "completed",
      fileSize: 3 * 1024 ** 2,
      providers: { b2: stored, r2: stored },
    });
    const context = await browser.newContext();
    const admin = await context.newPage();
    const response = await admin.goto(`${h.gateway.address}/admin/#session=${await h.adminSession("sara")}`);
    // the page runs under a policy that allows only its own scripts (and still works: signed in below)
    expect(response!.headers()["content-security-policy"]).toMatch(/script-src 'self';/);
    expect(response!.headers()["referrer-policy"]).toBe("no-referrer");
    await admin.getByText("Signed in as sara").waitFor();
    expect(admin.url(), "the token leaves the address bar").toBe(`${h.gateway.address}/admin/`);
    await admin.getByRole("cell", { name: id }).waitFor();

    // a suspended tenant and an id that is no tenant are refused, each with its reason; the tenant is queued alone
    const suspended = h.platform.tenants.find((t) => t.status === "suspended")!.id;
    const stranger = "00000000-0000-4000-8000-000000000000";
    await admin.getByLabel("Back up now, tenant ids:").fill(`${tenant!} ${suspended}, ${stranger}`);
    await admin.getByRole("button", { name: "Back up" }).click();
    await admin.getByText("queued 1").waitFor();
    const refused = admin.getByRole("list", { name: "refused tenant ids" });
    await refused
      .getByRole("listitem")
      .filter({ hasText: `${suspended}: tenant ${suspended} is suspended` })
      .waitFor();
    await refused
      .getByRole("listitem")
      .filter({ hasText: `${stranger}: ${stranger} is not a tenant of this platform` })
      .waitFor();
    await screenshot(admin, "admin-back-up-now-refused-ids");
    const request = await waitFor(() => h.backupRequests.find((m) => (m.data as { tenantIds?: string[] }).tenantIds?.[0] === tenant), "the backup request");
    expect(request.data).toMatchObject({ tenantIds: [tenant], requestedBy: "admin:sara" });
  });

  it("admin app: storage and its cost, alerts acknowledged and resolved, the audit trail", async () => {
    const [, tenant] = h.activeTenants();
    const stored = { location: "y", status: "stored" as const, size: 5 * 1024 ** 2 };
    await h.catalog.db.insert(backupRecords).values({
      id: newId("bkp"),
      backupType: "tenant",
      tenantId: tenant!,
      filename: "y",
      encryptionKeyId: "k",
      status: "completed",
      fileSize: 5 * 1024 ** 2,
      providers: { b2: stored, r2: stored },
    });
    await raiseAlert(
      { catalog: h.catalog },
      { severity: "critical", code: "tenant_backup_failed", message: "backup of tenant x failed: both providers down", context: { tenantId: tenant } },
    );
    const admin = await page(`/admin/#session=${await h.adminSession("sara")}`);
    await admin.getByRole("link", { name: "Storage" }).click();
    const providers = admin.getByRole("table", { name: "providers" });
    await providers.getByRole("row", { name: /^b2 \d+\.\d MiB/ }).waitFor();
    await admin.getByRole("table", { name: "largest tenants" }).getByRole("cell", { name: tenant! }).waitFor();

    await admin.getByRole("link", { name: "Alerts" }).click();
    const alert = admin.getByRole("row", { name: /both providers down/ });
    await alert.getByRole("button", { name: "Acknowledge" }).click();
    await alert.getByText("seen by admin:sara").waitFor();
    await alert.getByRole("button", { name: "Resolve" }).click();
    await admin.getByText("No open alerts.").waitFor();

    await admin.getByRole("link", { name: "Audit" }).click();
    const trail = admin.getByRole("table", { name: "audit trail" });
    await trail.getByRole("row", { name: /admin:sara alert\.resolved/ }).waitFor();
    await trail.getByRole("row", { name: /admin:sara alert\.acknowledged/ }).waitFor();
  });

  it("admin app: without a session it asks for one; a tenant's is refused, an admin's pasted signs in; sign out", async () => {
    const admin = await page("/admin/");
    await admin.getByRole("alert").filter({ hasText: "sign in again" }).waitFor();
    await expect(admin.getByRole("table").count()).resolves.toBe(0);

    await admin.getByLabel("admin session").fill(await h.tenantSession(h.activeTenants()[0]!));
    // the form is remounted once the refused answer is in: type the next token only after it
    const refused = admin.waitForResponse((r) => r.url().includes("/trpc/admin.me") && r.status() === 401);
    await admin.getByRole("button", { name: "Sign in" }).click();
    await refused;
    await admin.getByRole("alert").filter({ hasText: "sign in again" }).waitFor();
    await expect.poll(() => admin.getByLabel("admin session").inputValue()).toBe("");

    await admin.getByLabel("admin session").fill(await h.adminSession("omid"));
    await admin.getByRole("button", { name: "Sign in" }).click();
    await admin.getByText("Signed in as omid").waitFor();
    await admin.getByRole("button", { name: "Sign out" }).click();
    await admin.getByLabel("admin session").waitFor();
  });
});
