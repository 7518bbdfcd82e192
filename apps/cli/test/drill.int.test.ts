// `hesaab drill run|report` end to end: the real CLI process backs up a tenant, drills it (an attested
// match), then drills a backup whose recorded checksums were edited (exit 2, mismatch), and reports coverage.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onDatabase } from "@hesaab/testkit";
import { cliPlatform, runCli, type CliPlatform } from "./run-cli";

let fixture: CliPlatform;
let env: Record<string, string>;

beforeAll(async () => {
  fixture = await cliPlatform("cli_drill", { tenants: 3, scale: 0.02, migrated: true });
  env = { ...fixture.env, DR_MASTER_KEYS: `1:${randomBytes(32).toString("base64")}`, HESAAB_VERSION: "9.9.9-test", DEPLOYED_GIT_COMMIT: "feedbee" };
}, 120_000);

afterAll(async () => {
  await fixture?.drop();
});

const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { ...env, ...extra });

describe("hesaab drill", { timeout: 240_000 }, () => {
  it("drills a tenant's latest backup (attested match), fails an edited manifest with exit 2, and reports coverage", async () => {
    const [a, b] = fixture.platform.tenants.filter((t) => t.status === "active").map((t) => t.id);
    const backedUp = await cli(["backup", "tenant", a!, b!, "--json"]);
    expect(backedUp.code, backedUp.stderr).toBe(0);

    const ok = await cli(["drill", "run", "--tenant", a!, "--json"]);
    expect(ok.code, ok.stderr).toBe(0);
    const [drill] = (JSON.parse(ok.stdout) as { drills: { outcome: string; tenantId: string; drillId: string }[] }).drills;
    expect(drill).toMatchObject({ outcome: "match", tenantId: a });

    await onDatabase(fixture.database.url, (client) =>
      client.query(
        `update backup.backup_records set metadata = jsonb_set(metadata, '{checksums,public.invoices}', '"0123456789abcdef"') where tenant_id = $1`,
        [b],
      ),
    );
    const bad = await cli(["drill", "run", "--tenant", b!]);
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stdout).toMatch(new RegExp(`mismatch\\s+tenant ${b}`));

    const report = await cli(["drill", "report", "--json"]);
    expect(report.code, report.stderr).toBe(0);
    const parsed = JSON.parse(report.stdout) as {
      coverage: { tenantsWithBackups: number; drilledInWindow: number };
      drills: { id: string; attestation: string; restoredByVersion: string; restoredByCommit: string }[];
      tampered: number;
    };
    expect(parsed.coverage).toMatchObject({ tenantsWithBackups: 2, drilledInWindow: 2 });
    expect(parsed.tampered).toBe(0);
    expect(parsed.drills.find((d) => d.id === drill!.drillId)).toMatchObject({
      attestation: "valid",
      restoredByVersion: "9.9.9-test",
      restoredByCommit: "feedbee",
    });

    const text = await cli(["drill", "report"]);
    expect(text.stdout).toContain("coverage (30 days): 2 of 2 tenants with a backup drilled");
  });

  it("refuses contradictory options in one line, and a drill without DR_MASTER_KEYS names it", async () => {
    const both = await cli(["drill", "run", "--disaster", "--tenant", "x"]);
    expect(both.code).toBe(1);
    expect(both.stderr.trim().split("\n")).toHaveLength(1);
    expect(both.stderr).toMatch(/--disaster/);
    const noKey = await cli(["drill", "report"], { DR_MASTER_KEYS: "" });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/DR_MASTER_KEYS/);
  });
});
