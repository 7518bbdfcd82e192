// `hesaab dr backup|list|restore|rotate-keys` end to end: real CLI processes with nothing but the
// variables a bare machine would have (HESAAB_NO_STACK_ENV=1), real PostgreSQL, both s3rver endpoints.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePlatform, tableChecksums } from "@hesaab/platform";
import { adminQuery, freshDatabase, testProviders, uniquePrefix, type FreshDatabase } from "@hesaab/testkit";
import { runCli } from "./run-cli";

const DR_MASTER_KEYS = `1:${randomBytes(32).toString("base64")}`;
const root = uniquePrefix("cli-dr");

let dir: string;
let source: FreshDatabase;
const targets: string[] = [];

function providerEnv(which: ("b2" | "r2")[]): Record<string, string> {
  const p = testProviders();
  const env: Record<string, string> = {};
  for (const name of which) {
    const P = name.toUpperCase();
    Object.assign(env, {
      [`${P}_BUCKET_NAME`]: p[name].bucket,
      [`${P}_ENDPOINT_URL`]: p[name].endpoint,
      [`${P}_ACCESS_KEY_ID`]: p[name].accessKeyId,
      [`${P}_SECRET_ACCESS_KEY`]: p[name].secretAccessKey,
      [`${P}_REGION`]: p[name].region,
    });
  }
  return env;
}

const cli = (args: string[], env: Record<string, string>) => runCli(args, { DR_STORAGE_ROOT: root, DR_MASTER_KEYS, ...env });

function targetUrl(): string {
  const name = `cli_dr_dst_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  targets.push(name);
  return `postgres://postgres@127.0.0.1:5432/${name}`;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "cli-dr-"));
  source = await freshDatabase("cli_dr_src");
  await generatePlatform({ url: source.url, tenants: 3, scale: 0.05, seed: 3, analyze: false });
  writeFileSync(path.join(dir, "app.env"), "APP_SECRET=not-a-real-one\n");
});
afterAll(async () => {
  for (const name of targets) await adminQuery(`drop database if exists "${name}" with (force)`);
  await source.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("hesaab dr", () => {
  let backupId: string;

  it("backup: both providers, configuration files, the configured git commit", async () => {
    const r = await cli(["dr", "backup", "--no-catalog", "--json"], {
      ...providerEnv(["b2", "r2"]),
      PLATFORM_DATABASE_URL: source.url,
      DR_CONFIG_FILES: path.join(dir, "app.env"),
      DEPLOYED_GIT_COMMIT: "0123abc",
    });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ status: "completed", manifest: { gitCommit: "0123abc", configFiles: [path.join(dir, "app.env")] } });
    backupId = result.backupId;
  });

  it("list and restore on a bare machine: R2 credentials and DR_MASTER_KEYS only", async () => {
    const env = providerEnv(["r2"]);
    const list = await cli(["dr", "list", "--from", "r2"], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${backupId}\\s.*0123abc.*complete`));

    const target = targetUrl();
    const configDir = path.join(dir, "restored");
    const r = await cli(["dr", "restore", "--latest", "--from", "b2", "--target-db", target, "--config-dir", configDir, "--json"], env);
    expect(r.stderr).toMatch(/b2 is not configured/);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: true, backupId, providerUsed: "r2", createdDatabase: true, mismatches: 0 });
    expect(await tableChecksums({ url: target })).toEqual(await tableChecksums({ url: source.url }));
    expect(readFileSync(path.join(configDir, dir, "app.env"), "utf8")).toBe("APP_SECRET=not-a-real-one\n");

    // The same target again: not empty, refused with exit 1 and the reason.
    const again = await cli(["dr", "restore", "--backup", backupId, "--from", "r2", "--target-db", target], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not empty.*\[dr_target_not_empty\]/s);
  });

  it("falls back when the requested provider is unreachable, and says so", async () => {
    const env = { ...providerEnv(["b2", "r2"]), B2_ENDPOINT_URL: "http://127.0.0.1:9" };
    const r = await cli(["dr", "restore", "--backup", backupId, "--from", "b2", "--target-db", targetUrl()], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/from +r2 — FELL BACK: b2 could not serve it/);
    expect(r.stdout).toMatch(/passed over b2 \(listing\): storage_unavailable/);
    expect(r.stdout).toMatch(/\nOK\n$/);
  });

  it("rotate-keys --dry-run reports without writing", async () => {
    const r = await cli(["dr", "rotate-keys", "--dry-run", "--no-catalog", "--json"], {
      ...providerEnv(["b2", "r2"]),
      DR_MASTER_KEYS: `${DR_MASTER_KEYS},2:${randomBytes(32).toString("base64")}`,
    });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ dryRun: true, ok: true, catalog: null });
    expect(report.providers.map((p: { rewrapped: number }) => p.rewrapped)).toEqual([2, 2]);
  });

  it("refuses to run without a provider, and restore without --backup or --latest", async () => {
    const none = await cli(["dr", "list"], {});
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no storage provider is configured/);
    const which = await cli(["dr", "restore", "--from", "r2", "--target-db", targetUrl()], providerEnv(["r2"]));
    expect(which.code).toBe(1);
    expect(which.stderr).toMatch(/give --backup <id> or --latest/);
  });
});
