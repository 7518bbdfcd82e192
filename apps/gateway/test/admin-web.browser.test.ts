// The admin app as an operator uses it, in a real browser (Debian's chromium through playwright-core)
// on its production build served by the gateway under its CSP: a restore of two tenants through the
// wizard and its rollback, a disaster restore into a scratch database through the dashboard's
// confirmation workflow, charts over seeded history. The commands the gateway queues are run by the
// services' own handlers in this process (as restores-dr.int.test.ts wires them), on the real bus,
// Postgres and both S3 endpoints. Every screen gets a screenshot (an artifact, never compared) and an
// axe-core run (no serious or critical violation), and no CSP violation may be reported.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, type Bus } from "@hesaab/bus";
import { Secret } from "@hesaab/config";
import { newId, type Publish } from "@hesaab/contracts";
import { KeyRing } from "@hesaab/crypto";
import { backupRecords, storageSamples } from "@hesaab/db";
import { handleDisasterBackupRequest, handleDisasterRestoreRequest, type DrHandlerDeps } from "@hesaab/dr";
import { tableChecksums } from "@hesaab/platform";
import { openBackend } from "@hesaab/storage";
import { backupTenant, handleRestoreRequest, handleRollbackRequest, type TenantBackupDeps } from "@hesaab/tenant-backup";
import { adminQuery, testEnv, testProviderConfig } from "@hesaab/testkit";
import { startHarness, type Harness } from "./harness";
import { buildWebApp } from "./web-build";

const requireBrowser = process.env.CI === "true" || process.env.HESAAB_REQUIRE_BROWSER === "1";
const chromiumPath = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p): p is string => Boolean(p && existsSync(p)));
/** Screenshots of every screen, for a reviewer (artifacts, gitignored, never compared). */
const shots = fileURLToPath(new URL("../test-results/admin/", import.meta.url));
const DAY_MS = 86_400_000;
const silent = { info() {}, warn() {}, error() {} };

it.runIf(requireBrowser)("chromium is installed for the admin app's browser tests", () => {
  expect(chromiumPath, "no chromium: apt-get install chromium, or set CHROMIUM_PATH").toBeDefined();
});

describe.runIf(chromiumPath)("the admin app as a product", { timeout: 240_000 }, () => {
  let h: Harness;
  let bus: Bus;
  let browser: Browser;
  let deps: TenantBackupDeps;
  let workDir: string;
  let axeSource: string;
  const stops: { stop(): Promise<void> }[] = [];
  /** CSP violations the pages reported (the console says "Refused to …"). */
  const violations: string[] = [];
  const scratch = () => `${h.database.name}_admin_dr`;

  beforeAll(async () => {
    await buildWebApp("admin-web");
    await mkdir(shots, { recursive: true });
    axeSource = await readFile(fileURLToPath(import.meta.resolve("axe-core/axe.min.js")), "utf8");
    h = await startHarness("gw_admin_web", { tenants: 5 });
    bus = await connectBus({ url: testEnv().NATS_URL!, name: "test-admin-services", prefix: h.env.HESAAB_BUS_PREFIX });
    workDir = await mkdtemp(path.join(os.tmpdir(), "admin-web-"));
    const backends = (["b2", "r2"] as const).map((p) => openBackend({ backend: testProviderConfig(p) }).backend);
    const publish: Publish = async (type, data, opts) => void (await bus.publish(type, data, opts));
    deps = { platform: h.pool, catalog: h.catalog, keyRing: h.deps.keyRing, backends, retentionDays: 30, gzipLevel: 1, workDir, publish };
    const drDeps: DrHandlerDeps = {
      catalog: h.catalog.db,
      keyRing: new KeyRing({ drMasterKeys: new Map([[1, new Secret(randomBytes(32))]]) }),
      backends,
      platformUrl: h.database.url,
      catalogUrl: h.database.url,
      configFiles: [],
      gitCommit: "fedcba9876543210fedcba9876543210fedcba98",
      retentionDays: 7,
      root: `admin-web-dr-${h.env.HESAAB_BUS_PREFIX}`,
      workDir,
      publish,
      log: silent,
    };
    // backup-svc's restore consumer and dr-svc's, as the services wire them
    stops.push(
      await bus.consume({
        durable: "test-admin-restores",
        filter: "cmd.restore.>",
        maxDeliver: 1,
        handler: async (message, delivery) => {
          if (message.type === "restore.requested.v1") await handleRestoreRequest(deps, { message, delivery });
          else if (message.type === "restore.rollback.requested.v1") await handleRollbackRequest(deps, { message, delivery });
        },
      }),
      await bus.consume({
        durable: "test-admin-dr",
        filter: "cmd.dr.>",
        maxDeliver: 1,
        handler: async (message, delivery) => {
          if (message.type === "dr.backup.requested.v1") await handleDisasterBackupRequest(drDeps, { message, delivery });
          else if (message.type === "dr.restore.requested.v1") await handleDisasterRestoreRequest(drDeps, { message, delivery });
        },
      }),
    );
    await seedHistory();
    browser = await chromium.launch({ executablePath: chromiumPath!, args: ["--no-sandbox"] });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    for (const s of stops) await s.stop();
    await bus?.close();
    if (h) await adminQuery(`drop database if exists "${scratch()}" with (force)`).catch(() => {});
    await h?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  /** A week of history: a backup a day of the last tenant (both copies) and a usage sample a day per provider, growing. */
  async function seedHistory() {
    const tenant = h.activeTenants().at(-1)!;
    for (let day = 7; day >= 1; day--) {
      const at = new Date(Date.now() - day * DAY_MS);
      const size = (8 - day) * 2 * 1024 ** 2;
      const stored = { location: `seed-${day}`, status: "stored" as const, size };
      await h.catalog.db.insert(backupRecords).values({
        id: newId("bkp"),
        backupType: "tenant",
        tenantId: tenant,
        filename: `seed-${day}`,
        encryptionKeyId: "k",
        status: "completed",
        fileSize: size,
        providers: { b2: stored, r2: stored },
        createdAt: at,
        completedAt: at,
      });
      for (const [provider, factor] of [
        ["b2", 1],
        ["r2", 1.1],
      ] as const)
        await h.catalog.db.insert(storageSamples).values({ takenAt: at, provider, bytes: Math.round(size * 4 * factor), objects: (8 - day) * 2 });
    }
  }

  async function signedIn(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    page.on("console", (m) => {
      if (/Content Security Policy|Refused to (apply|load|execute)/i.test(m.text())) violations.push(m.text());
    });
    await page.goto(`${h.gateway.address}/admin/#session=${await h.adminSession("sara")}`);
    await page.getByText("Signed in as sara").waitFor();
    return page;
  }

  /** Opens a screen from the navigation, waits for its heading, saves a screenshot and runs axe-core on it. */
  async function visit(page: Page, s: { link: string; heading: string; shot: string }) {
    const { link, heading, shot } = s;
    await page.getByRole("navigation", { name: "screens" }).getByRole("link", { name: link }).click();
    await page.getByRole("heading", { level: 2, name: heading }).waitFor();
    await expect.poll(() => page.getByText(/^Loading /).count()).toBe(0);
    await screenshot(page, shot);
    await expectAccessible(page, shot);
  }

  /** Until the page's transitions have ended: a drawer or modal still fading in has blended colours (in a screenshot, and to axe's contrast check). */
  const settled = (page: Page) =>
    page.evaluate(async () => {
      const doc = (globalThis as unknown as { document: { getAnimations(): { finished: Promise<unknown> }[] } }).document;
      await Promise.all(doc.getAnimations().map((a) => a.finished.catch(() => undefined)));
    });
  const screenshot = async (page: Page, name: string) => {
    await settled(page);
    await page.screenshot({ path: `${shots}${name}.png`, fullPage: true });
  };

  /** axe-core in the page (evaluated through the devtools protocol: the page's CSP allows no inline script): no serious or critical violation. */
  async function expectAccessible(page: Page, what: string) {
    await settled(page);
    await page.evaluate(axeSource);
    const found = await page.evaluate(async () => {
      type Axe = { run(context?: unknown): Promise<{ violations: { id: string; impact: string; nodes: { target: string[]; failureSummary?: string }[] }[] }> };
      const axe = (globalThis as unknown as { axe: Axe }).axe;
      // with a dialog open, the page behind is inert and dimmed: check the dialog
      const dialog = (globalThis as unknown as { document: { querySelector(s: string): unknown } }).document.querySelector('[role="dialog"]');
      const result = await (dialog ? axe.run(dialog) : axe.run());
      return result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        targets: v.nodes.slice(0, 3).map((n) => `${n.target.join(" ")}: ${n.failureSummary ?? ""}`),
      }));
    });
    expect(
      found.filter((v) => v.impact === "serious" || v.impact === "critical"),
      `${what}: ${JSON.stringify(found)}`,
    ).toEqual([]);
  }

  const checksums = (tenantId: string) => tableChecksums({ pool: h.pool, tenantId });
  async function damage(tenantId: string) {
    await h.pool.query("update public.customers set name = 'changed' where tenant_id = $1", [tenantId]);
    await h.pool.query("delete from public.journal_lines where tenant_id = $1 and line_no > 1", [tenantId]);
  }

  /** The percents of an operation's event log, in order. */
  async function percents(page: Page, label: string): Promise<number[]> {
    // the log sits in a closed <details>: read the items whether or not they are shown
    const items = await page.locator(`ol[aria-label="${label} events"] > li`).allTextContents();
    return items.map((t) => Number(/^(\d+(?:\.\d+)?)%/.exec(t)?.[1] ?? NaN));
  }

  it("restores two tenants through the wizard (dry run, summary, typed confirmation, live progress), then rolls them back from the UI", async () => {
    const [a, b] = h.activeTenants() as [string, string];
    const before = { [a]: await checksums(a), [b]: await checksums(b) };
    for (const t of [a, b]) await backupTenant(deps, { tenantId: t, purpose: "on_demand", requestedBy: "test" });
    await damage(a);
    await damage(b);
    const damaged = { [a]: await checksums(a), [b]: await checksums(b) };
    expect(damaged[a]).not.toEqual(before[a]);

    const page = await signedIn();
    await visit(page, { link: "Restore", heading: "Restore tenants", shot: "restore-1-tenants" });
    const picker = page.getByRole("table", { name: "tenants to restore" });
    for (const t of [a, b]) await picker.getByRole("row").filter({ hasText: t }).getByRole("checkbox").check();
    await page.getByText("2 chosen").waitFor();
    await page.getByRole("button", { name: "Next" }).click();

    await page.getByText("R2", { exact: true }).click();
    await screenshot(page, "restore-2-source");
    await expectAccessible(page, "restore: backup and target");
    await page.getByRole("button", { name: "Next" }).click();

    // the dry run must pass before the summary can be reached
    await expect(page.getByRole("button", { name: "Next" }).isDisabled()).resolves.toBe(true);
    await page.getByRole("button", { name: "Run the verify-only dry run" }).click();
    const dry = page.getByRole("table", { name: "dry run outcome" });
    await dry.getByRole("row").filter({ hasText: a }).filter({ hasText: "verified" }).waitFor({ timeout: 60_000 });
    await dry.getByRole("row").filter({ hasText: b }).filter({ hasText: "verified" }).waitFor();
    expect(await checksums(a), "a dry run changes nothing").toEqual(damaged[a]);
    await screenshot(page, "restore-3-dry-run");
    await page.getByRole("button", { name: "Next" }).click();

    const summary = page.getByRole("table", { name: "restore summary" });
    await summary.getByRole("row", { name: /Provider R2 first/ }).waitFor();
    // rows now (damaged) beside the backup's (taken before the damage), per table, for each tenant
    for (const t of [a, b]) {
      const lines = page
        .getByRole("table", { name: `rows of ${t}` })
        .getByRole("row")
        .filter({ hasText: "journal_lines" });
      await lines.waitFor();
      const cells = (await lines.getByRole("cell").allTextContents()).map((c) => Number(c.replace(/[^\d-]/g, "")));
      expect(cells.slice(1, 4), t).toEqual([
        damaged[t]!.journal_lines!.rows,
        before[t]!.journal_lines!.rows,
        before[t]!.journal_lines!.rows - damaged[t]!.journal_lines!.rows,
      ]);
      expect(damaged[t]!.journal_lines!.rows).toBeLessThan(before[t]!.journal_lines!.rows);
    }
    await screenshot(page, "restore-4-summary");
    await expectAccessible(page, "restore: summary");
    await page.getByRole("button", { name: "Next" }).click();

    // the typed confirmation: the button stays disabled until the phrase matches
    await page.getByRole("button", { name: "Restore…" }).click();
    const dialog = page.getByRole("dialog", { name: "Restore tenants" });
    await dialog.getByLabel("Confirmation").fill("restore 3 tenants");
    await expect(dialog.getByRole("button", { name: "Start the restore" }).isDisabled()).resolves.toBe(true);
    await screenshot(page, "restore-5-confirmation");
    await dialog.getByLabel("Confirmation").fill("restore 2 tenants");
    await dialog.getByRole("button", { name: "Start the restore" }).click();

    const outcome = page.getByRole("table", { name: "restore outcome" });
    await outcome.getByRole("row").filter({ hasText: a }).filter({ hasText: "restored" }).waitFor({ timeout: 120_000 });
    await outcome.getByRole("row").filter({ hasText: b }).filter({ hasText: "restored" }).waitFor();
    // progress moved: the events the page got, percent rising through values between 0 and 100 to 100
    const seen = await percents(page, "Restore");
    expect(
      seen.every((p, i) => i === 0 || p >= seen[i - 1]!),
      `percents ${seen.join(",")}`,
    ).toBe(true);
    expect(
      seen.some((p) => p > 0 && p < 100),
      `percents ${seen.join(",")}`,
    ).toBe(true);
    expect(seen.at(-1)).toBe(100);
    expect(await checksums(a)).toEqual(before[a]);
    expect(await checksums(b)).toEqual(before[b]);
    await page.locator("details summary").first().click();
    await screenshot(page, "restore-6-done");
    await expectAccessible(page, "restore: done");

    await page.getByRole("button", { name: "Roll back this restore" }).click();
    const rollback = page.getByRole("dialog", { name: "Roll back the restore" });
    await rollback.getByLabel("Rollback confirmation").fill("roll back");
    await rollback.getByRole("button", { name: "Roll back" }).click();
    await page.getByText("Finished: completed").nth(1).waitFor({ timeout: 120_000 });
    expect(await checksums(a)).toEqual(damaged[a]);
    expect(await checksums(b)).toEqual(damaged[b]);
    await screenshot(page, "restore-7-rolled-back");
    expect(violations).toEqual([]);
  });

  it("backs up the platform from the dashboard, refuses the live database, restores into a scratch one through both confirmations", async () => {
    const page = await signedIn();
    await visit(page, { link: "Disaster recovery", heading: "Disaster recovery", shot: "dr-1-empty" });
    await page.getByText("No disaster backups yet.").waitFor();
    await page.getByRole("button", { name: "Back up the platform now" }).click();
    await page.getByText("Finished: completed").waitFor({ timeout: 120_000 });
    const row = page.getByRole("table", { name: "disaster backups" }).getByRole("row").filter({ hasText: "fedcba987654" });
    await row.filter({ hasText: "B2 stored" }).filter({ hasText: "R2 stored" }).waitFor();
    await screenshot(page, "dr-2-backed-up");

    await page.getByRole("button", { name: /^Runbook/ }).click();
    await page
      .getByRole("dialog", { name: "Disaster recovery runbook" })
      .getByText(/restore/i)
      .first()
      .waitFor();
    await page.keyboard.press("Escape");

    // the platform's own database: both confirmations given, the gateway refuses it
    const fillTarget = async (name: string) => {
      await row.getByRole("button", { name: "Restore…" }).click();
      const dialog = page.getByRole("dialog", { name: "Restore the platform into a database" });
      await dialog.getByLabel("Target database", { exact: true }).fill(name);
      await dialog.getByLabel("Skip creating the backup's roles").check();
      await dialog.getByLabel("Type the target database again").fill(`${name}x`);
      await expect(dialog.getByRole("button", { name: "Continue" }).isDisabled()).resolves.toBe(true);
      await dialog.getByLabel("Type the target database again").fill(name);
      await dialog.getByRole("button", { name: "Continue" }).click();
      await expect(dialog.getByRole("button", { name: `Restore into ${name}` }).isDisabled()).resolves.toBe(true);
      await dialog.getByLabel(`I understand: restore into ${name}`).check();
      return dialog;
    };
    const live = await fillTarget(h.database.name);
    await live.getByRole("button", { name: `Restore into ${h.database.name}` }).click();
    await live
      .getByRole("alert")
      .filter({ hasText: /platform|live/ })
      .waitFor();
    await screenshot(page, "dr-3-refused-live");
    await live.getByRole("button", { name: "Back" }).click();
    await live.getByRole("button", { name: "Cancel" }).click();

    const dialog = await fillTarget(scratch());
    await screenshot(page, "dr-4-second-confirmation");
    await expectAccessible(page, "disaster restore confirmation");
    await dialog.getByRole("button", { name: `Restore into ${scratch()}` }).click();
    await page.getByRole("progressbar", { name: "Disaster restore progress" }).waitFor();
    await page.getByText("Finished: completed").nth(1).waitFor({ timeout: 180_000 });
    expect(await tableChecksums({ url: `postgres://postgres@127.0.0.1:5432/${scratch()}` })).toEqual(await tableChecksums({ pool: h.pool }));
    await screenshot(page, "dr-5-restored");
    expect(violations).toEqual([]);
  });

  it("every screen renders, charts draw the seeded history, and axe finds nothing serious", async () => {
    const page = await signedIn();
    await visit(page, { link: "Storage", heading: "Storage", shot: "storage" });
    const usage = page.getByRole("figure", { name: "usage over time chart" });
    await usage.locator(".recharts-area-curve").first().waitFor();
    await expect(usage.locator(".recharts-area-curve").count()).resolves.toBe(2);
    await usage.getByText("B2", { exact: true }).waitFor();
    await usage.getByText("R2", { exact: true }).waitFor();
    await page.getByRole("figure", { name: "cost projection chart" }).locator(".recharts-bar-rectangle").last().waitFor();
    // the usage axis spans the seeded week (a tick per sample day, at least the first and the last)
    const first = new Date(Date.now() - 7 * DAY_MS).toISOString().slice(0, 10);
    await usage.getByText(first).waitFor();

    await visit(page, { link: "Backups", heading: "Backups", shot: "backups" });
    await page.getByRole("table", { name: "backups" }).getByRole("row").nth(1).waitFor();
    await page.getByRole("table", { name: "backups" }).getByRole("button").first().click();
    await page.getByRole("table", { name: "manifest" }).waitFor();
    await screenshot(page, "backups-detail-drawer");
    await expectAccessible(page, "backup detail");
    await page.keyboard.press("Escape");

    await visit(page, { link: "Tenants", heading: "Tenants", shot: "tenants" });
    await page.getByLabel("Search").fill(h.activeTenants()[0]!.slice(0, 8));
    await page.getByRole("table", { name: "tenants" }).getByRole("row").filter({ hasText: h.activeTenants()[0]! }).waitFor();
    // the search goes to tenants.list once typing pauses: the header and the one tenant
    await expect.poll(() => page.getByRole("table", { name: "tenants" }).getByRole("row").count()).toBe(2);

    // a tenant's page, from its name in the list
    const listed = h.activeTenants()[0]!;
    await page.getByRole("table", { name: "tenants" }).getByRole("row").filter({ hasText: listed }).getByRole("link").click();
    await page.getByRole("heading", { level: 2, name: `Tenant ${listed}` }).waitFor();
    // each section loaded: a table or its empty state (this test may run alone, before any restore)
    for (const section of ["Backups", "Restores", "Key versions", "Exports", "Restore drills"])
      await page.getByRole("heading", { level: 3, name: section }).waitFor();
    await expect.poll(() => page.getByText(/^Loading /).count()).toBe(0);
    await screenshot(page, "tenant-page");
    await expectAccessible(page, "tenant page");

    // sorted by size: the tenant of the seeded week (the biggest backups) leads
    await visit(page, { link: "Tenants", heading: "Tenants", shot: "tenants" });
    await page.getByRole("combobox", { name: "Sort by" }).click();
    await page.getByRole("option", { name: "Size, largest first" }).click();
    const seeded = h.activeTenants().at(-1)!;
    await expect.poll(async () => page.getByRole("table", { name: "tenants" }).getByRole("row").nth(1).textContent()).toContain(seeded);
    await screenshot(page, "tenants-by-size");

    // its page links each backup into the wizard with that backup chosen
    await page.getByRole("table", { name: "tenants" }).getByRole("row").nth(1).getByRole("link").click();
    const newest = page.getByRole("table", { name: "tenant backups" }).getByRole("row").nth(1);
    const backupId = (await newest.getByRole("cell").first().textContent())!;
    await newest.getByRole("link", { name: `Restore from this: ${backupId}` }).click();
    await page.getByRole("heading", { level: 2, name: "Restore tenants" }).waitFor();
    await page.getByText("1 chosen").waitFor();
    await page.getByRole("button", { name: "Next" }).click();
    await expect.poll(() => page.getByRole("combobox", { name: "Backup to restore" }).inputValue()).toContain(backupId);
    await screenshot(page, "restore-chosen-backup");
    await expectAccessible(page, "restore: a chosen backup");

    // retention applies now only through its typed confirmation
    await visit(page, { link: "Retention", heading: "Retention", shot: "retention" });
    await page.getByRole("button", { name: "Apply retention now…" }).click();
    const confirm = page.getByRole("dialog", { name: "Apply retention now" });
    await expect(confirm.getByRole("button", { name: "Apply retention" }).isDisabled()).resolves.toBe(true);
    await screenshot(page, "retention-apply-confirmation");
    await expectAccessible(page, "retention: apply confirmation");
    await confirm.getByLabel("Retention confirmation").fill("apply retention");
    await confirm.getByRole("button", { name: "Apply retention" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: /Retention .* queued/ })
      .waitFor();

    for (const [link, heading] of [
      ["Verification", "Verification"],
      ["Keys", "Keys"],
      ["Drills", "Restore drills"],
      ["Alerts", "Alerts"],
      ["Audit", "Audit trail"],
    ] as const)
      await visit(page, { link, heading, shot: link.toLowerCase() });

    // a route is a link: opening it directly shows the screen
    await page.goto(`${h.gateway.address}/admin/#/storage`);
    await page.getByRole("heading", { level: 2, name: "Storage" }).waitFor();
    expect(violations).toEqual([]);
  });
});
