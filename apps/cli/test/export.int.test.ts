// `hesaab export customer|sweep` end to end: the real CLI process against a generated platform.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "@hesaab/db";
import { createPlatformSchema, generatePlatform } from "@hesaab/platform";
import { ensureStack, freshDatabase, testEnv, type FreshDatabase } from "@hesaab/testkit";

const cliDir = fileURLToPath(new URL("..", import.meta.url));
let database: FreshDatabase;
let dataDir: string;
let tenantId: string;
let base: Record<string, string>;

beforeAll(async () => {
  await ensureStack();
  database = await freshDatabase("cli_export");
  await createPlatformSchema({ url: database.url });
  const generated = await generatePlatform({ url: database.url, tenants: 3, scale: 0.05 });
  tenantId = generated.tenants.find((t) => t.status === "active")!.id;
  await migrate({ url: database.url });
  dataDir = await mkdtemp(path.join(os.tmpdir(), "cli-export-"));
  const env = testEnv();
  const pick = (prefix: string) => Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith(prefix)));
  base = {
    ...pick("B2_"),
    ...pick("R2_"),
    PLATFORM_DATABASE_URL: database.url,
    BACKUP_MASTER_KEYS: `1:${randomBytes(32).toString("base64")}`,
    HESAAB_DATA_DIR: dataDir,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
}, 120_000);

afterAll(async () => {
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/main.ts", ...args],
      { cwd: cliDir, env: { PATH: process.env.PATH ?? "", HESAAB_NO_STACK_ENV: "1", ...base } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("hesaab export", { timeout: 120_000 }, () => {
  it("customer: today's export, saved as a ZIP; a second one the same day is refused with the reason", async () => {
    const out = path.join(dataDir, "mine.zip");
    const first = await cli(["export", "customer", tenantId, "--out", out, "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const result = JSON.parse(first.stdout) as { export: { id: string; status: string; path: string }; savedTo: string };
    expect(result.export.status).toBe("ready");
    expect(result.export.path).toBe(path.join(dataDir, "exports", tenantId, `${result.export.id}.zip.bkp1`));
    const { stdout: listing } = await promisify(execFile)("unzip", ["-Z1", out]);
    expect(listing).toMatch(/README\.txt/);

    const again = await cli(["export", "customer", tenantId]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already asked for its export of/);
    expect(again.stderr).toMatch(/One export per day/);
    expect(again.stderr).not.toMatch(/at .*\.ts:\d+/); // a sentence, not a stack trace

    const sweep = await cli(["export", "sweep", "--json"]);
    expect(sweep.code, sweep.stderr).toBe(0);
    expect(JSON.parse(sweep.stdout)).toEqual({ expired: [] }); // still within its 24 hours
  });
});
