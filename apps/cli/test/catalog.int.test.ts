// A catalog that was never migrated: the real CLI refuses each command that uses it with what to
// run (never a failed SQL statement), `hesaab catalog migrate` fixes it, and `backup tenant` then
// checks the ids it is given against the platform before backing any up.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GenerateResult } from "@hesaab/platform";
import { cliPlatform, runCli, type CliPlatform } from "./run-cli";

let fixture: CliPlatform;
let platform: GenerateResult;

beforeAll(async () => {
  // the catalog is left unmigrated: that is what the commands must refuse
  fixture = await cliPlatform("cli_catalog", { tenants: 3, scale: 0.02, migrated: false });
  platform = fixture.platform;
}, 120_000);

afterAll(async () => {
  await fixture?.drop();
});

const cli = (args: string[]) => runCli(args, fixture.env);

describe("hesaab catalog migrate", { timeout: 180_000 }, () => {
  it("commands refuse a catalog that was never migrated, naming what to run; after `catalog migrate` they work", async () => {
    const active = platform.tenants.find((t) => t.status === "active")!.id;
    for (const args of [
      ["backup", "tenant", active],
      ["restore", "tenant", active],
      ["export", "customer", active],
      ["retention", "apply"],
    ]) {
      const out = await cli(args);
      expect(out.code, args.join(" ")).not.toBe(0);
      expect(out.stderr).toMatch(/^error: the catalog at postgres:\/\/\S+ is not migrated: run `hesaab catalog migrate`/);
      expect(out.stderr).toMatch(/\[catalog_not_migrated\]/);
      expect(out.stderr + out.stdout).not.toMatch(/Failed query|update "backup"|insert into|select /i);
    }

    const migrated = await cli(["catalog", "migrate", "--json"]);
    expect(migrated.code, migrated.stderr).toBe(0);
    // every migration of this release, in one run
    const migrations = (
      JSON.parse(readFileSync(new URL("../../../packages/db/migrations/meta/_journal.json", import.meta.url), "utf8")) as { entries: unknown[] }
    ).entries.length;
    expect(JSON.parse(migrated.stdout)).toMatchObject({ applied: migrations, migrations, pending: [] });
    const again = await cli(["catalog", "migrate"]);
    expect(again.stdout).toMatch(/up to date/);

    const listed = await cli(["backups", "list", "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
  });

  it("backup tenant: backs up the tenants of the platform it is given, refuses the others with the reason (--json)", async () => {
    const active = platform.tenants.find((t) => t.status === "active")!.id;
    const suspended = platform.tenants.find((t) => t.status === "suspended")!.id;
    const stranger = "00000000-0000-4000-8000-000000000000";
    await cli(["catalog", "migrate"]);
    const out = await cli(["backup", "tenant", active, suspended, stranger, "--json"]);
    expect(out.code, "something asked was not done").toBe(1);
    const result = JSON.parse(out.stdout) as {
      backups: { tenantId: string; status: string }[];
      failures: unknown[];
      refused: { tenantId: string; code: string; message: string }[];
    };
    expect(result.backups.map((b) => [b.tenantId, b.status])).toEqual([[active, "completed"]]);
    expect(result.failures).toEqual([]);
    expect(result.refused).toEqual([
      { tenantId: suspended, code: "tenant_not_active", message: `tenant ${suspended} is suspended: suspended and deleted tenants are not backed up` },
      { tenantId: stranger, code: "not_a_tenant", message: `${stranger} is not a tenant of this platform (no row in public.tenants)` },
    ]);

    const text = await cli(["backup", "tenant", stranger]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(new RegExp(`REFUSED  ${stranger}  ${stranger} is not a tenant of this platform`));
    expect(text.stdout).toMatch(/0 backed up, 0 failed, 1 refused/);
  });
});
