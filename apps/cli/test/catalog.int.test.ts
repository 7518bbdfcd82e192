// A catalog that was never migrated: the real CLI refuses each command that uses it with what to
// run (never a failed SQL statement), `hesaab catalog migrate` fixes it, and `backup tenant` then
// checks the ids it is given against the platform before backing any up.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPlatformSchema, generatePlatform, type GenerateResult } from "@hesaab/platform";
import { ensureStack, freshDatabase, type FreshDatabase } from "@hesaab/testkit";
import { platformEnv, runCli } from "./run-cli";

let database: FreshDatabase;
let dataDir: string;
let platform: GenerateResult;
let base: Record<string, string>;

beforeAll(async () => {
  await ensureStack();
  database = await freshDatabase("cli_catalog");
  await createPlatformSchema({ url: database.url });
  platform = await generatePlatform({ url: database.url, tenants: 3, scale: 0.02 });
  dataDir = await mkdtemp(path.join(os.tmpdir(), "cli-catalog-"));
  base = platformEnv({ url: database.url, dataDir });
}, 120_000);

afterAll(async () => {
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

const cli = (args: string[]) => runCli(args, base);

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
