import path from "node:path";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/**
 * The package's own lint config, with its types: the probe files exist only as text here, so the
 * project service may open them in a project made from the package's tsconfig.json (one probe per
 * package this file lints in: more than typescript-eslint's default limit of 8).
 */
function eslintIn(pkgDir: string): ESLint {
  const projectService = {
    allowDefaultProject: ["src/probe.ts", "test/probe.test.ts"],
    defaultProject: "tsconfig.json",
    maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 32,
  };
  return new ESLint({ cwd: path.join(root, pkgDir), overrideConfig: { languageOptions: { parserOptions: { projectService } } } });
}

async function lint(pkgDir: string, code: string): Promise<string[]> {
  const [result] = await eslintIn(pkgDir).lintText(code, { filePath: path.join(root, pkgDir, "src/probe.ts") });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

// Linting with types starts a TypeScript project service: seconds on a busy machine, so a timeout that only catches a hang.
describe("layer rules", { timeout: 60_000 }, () => {
  it("fail on an app-to-app import", async () => {
    const messages = await lint("apps/backup-svc", `import { x } from "@hesaab/storage-svc";\nexport const y = x;\n`);
    expect(messages.join("\n")).toMatch(/no app imports another app/);
  });

  it("fail on a relative import into another app", async () => {
    const messages = await lint("apps/backup-svc", `import { x } from "../../gateway/src/server";\nexport const y = x;\n`);
    expect(messages.join("\n")).toMatch(/no app imports another app/);
  });

  it("fail on a package importing an app", async () => {
    const messages = await lint("packages/storage", `import { x } from "@hesaab/gateway";\nexport const y = x;\n`);
    expect(messages.join("\n")).toMatch(/packages never import apps/);
  });

  it("let an SPA import the API's router type, but not a value from it", async () => {
    expect(await lint("apps/admin-web", `import type { AppRouter } from "@hesaab/api";\nexport type R = AppRouter;\n`)).toEqual([]);
    const messages = await lint("apps/admin-web", `import { appRouter } from "@hesaab/api";\nexport const r = appRouter;\n`);
    expect(messages.join("\n")).toMatch(/only the API's router type/);
  });

  it("fail on an SPA importing from the gateway, even a type", async () => {
    const messages = await lint("apps/tenant-web", `import type { RunningGateway } from "@hesaab/gateway";\nexport type G = RunningGateway;\n`);
    expect(messages.join("\n")).toMatch(/no app imports another app/);
  });

  it("let an SPA use the browser-side packages, not a server package (not even its types)", async () => {
    expect(await lint("apps/tenant-web", `import { browserSession } from "@hesaab/web-session";\nexport const s = browserSession("k");\n`)).toEqual([]);
    expect(await lint("apps/tenant-web", `import { tenantId } from "@hesaab/contracts";\nexport const t = tenantId;\n`)).toEqual([]);
    const messages = await lint("apps/tenant-web", `import { openCatalog } from "@hesaab/db";\nexport const c = openCatalog;\n`);
    expect(messages.join("\n")).toMatch(/not on server packages/);
    const types = await lint("apps/admin-web", `import type { Catalog } from "@hesaab/db";\nexport type C = Catalog;\n`);
    expect(types.join("\n")).toMatch(/not on server packages/);
  });

  it("let the gateway mount the API's router", async () => {
    expect(await lint("apps/gateway", `import { appRouter } from "@hesaab/api";\nexport const r = appRouter;\n`)).toEqual([]);
  });

  it("let an app import packages", async () => {
    expect(await lint("apps/backup-svc", `import { newId } from "@hesaab/contracts";\nexport const id = newId("bkp");\n`)).toEqual([]);
  });

  it("fail on a package importing a layer above its own", async () => {
    const messages = await lint("packages/crypto", `import { backupTenant } from "@hesaab/tenant-backup";\nexport const b = backupTenant;\n`);
    expect(messages.join("\n")).toMatch(/crypto \(security\) may not import a layer above it \(capabilities\)/);
    const foundation = await lint("packages/contracts", `import { openCatalog } from "@hesaab/db";\nexport const c = openCatalog;\n`);
    expect(foundation.join("\n")).toMatch(/may not import a layer above it \(infrastructure\)/);
  });

  it("fail on an infrastructure package importing another (the bus knows nothing of the catalog)", async () => {
    const messages = await lint("packages/bus", `import { scheduleRuns } from "@hesaab/db";\nexport const t = scheduleRuns;\n`);
    expect(messages.join("\n")).toMatch(/bus \(infrastructure\) may not import another infrastructure package/);
  });

  it("fail on a capability importing the API (a layer above it), and let the API import capabilities", async () => {
    const messages = await lint("packages/tenant-backup", `import { appRouter } from "@hesaab/api";\nexport const r = appRouter;\n`);
    expect(messages.join("\n")).toMatch(/tenant-backup \(capabilities\) may not import a layer above it \(api\)/);
    expect(
      await lint(
        "packages/api",
        `import { customerExportLinks } from "@hesaab/tenant-backup";\nimport { storageAnalytics } from "@hesaab/storage-ops";\nexport const x = [customerExportLinks, storageAnalytics];\n`,
      ),
    ).toEqual([]);
    const app = await lint("packages/api", `import { startGateway } from "@hesaab/gateway";\nexport const s = startGateway;\n`);
    expect(app.join("\n")).toMatch(/packages never import apps/);
  });

  it("fail on a capability importing another capability", async () => {
    const messages = await lint("packages/dr", `import { restoreTenants } from "@hesaab/tenant-backup";\nexport const r = restoreTenants;\n`);
    expect(messages.join("\n")).toMatch(/dr \(capabilities\) may not import another capabilities package/);
  });

  it("let a package import lower layers, and its tests anything", async () => {
    expect(
      await lint(
        "packages/dr",
        `import { openCatalog } from "@hesaab/db";\nimport { KeyRing } from "@hesaab/crypto";\nexport const x = [openCatalog, KeyRing];\n`,
      ),
    ).toEqual([]);
    const [result] = await eslintIn("packages/bus").lintText(`import { catalogClaims } from "@hesaab/db";\nexport const c = catalogClaims;\n`, {
      filePath: path.join(root, "packages/bus", "test/probe.test.ts"),
    });
    expect(result?.messages ?? []).toEqual([]);
  });

  it("fail on a floating promise or a promise where nothing waits for it, with the types of the package", async () => {
    const floating = await lint("packages/storage", `export async function put(): Promise<void> {}\nexport function go(): void {\n  put();\n}\n`);
    expect(floating.join("\n")).toMatch(/no-floating-promises/);
    const misused = await lint(
      "apps/gateway",
      `import { EventEmitter } from "node:events";\nexport function on(e: EventEmitter): void {\n  e.on("x", async () => {});\n}\n`,
    );
    expect(misused.join("\n")).toMatch(/no-misused-promises/);
    // a promise let go on purpose, and one awaited, pass; so does a promise typed through another package
    expect(
      await lint(
        "packages/storage",
        `export async function put(): Promise<void> {}\nexport async function go(): Promise<void> {\n  void put();\n  await put();\n}\n`,
      ),
    ).toEqual([]);
    const imported = await lint(
      "packages/dr",
      `import { openCatalog } from "@hesaab/db";\nexport function go(): void {\n  openCatalog({ url: "postgres://x" }).close();\n}\n`,
    );
    expect(imported.join("\n")).toMatch(/no-floating-promises/);
  });

  it("keep process.env inside env.ts", async () => {
    const messages = await lint("apps/backup-svc", `export const u = process.env.X;\n`);
    expect(messages.join("\n")).toMatch(/src\/env\.ts/);
  });
});
