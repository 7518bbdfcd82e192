// `hesaab export customer|sweep` end to end: the real CLI process against a generated platform.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliPlatform, runCli, type CliPlatform } from "./run-cli";

let fixture: CliPlatform;
let dataDir: string;
let tenantId: string;

beforeAll(async () => {
  fixture = await cliPlatform("cli_export", { tenants: 3, scale: 0.05, migrated: true });
  dataDir = fixture.dataDir;
  tenantId = fixture.platform.tenants.find((t) => t.status === "active")!.id;
}, 120_000);

afterAll(async () => {
  await fixture?.drop();
});

const cli = (args: string[]) => runCli(args, fixture.env);

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
