// `hesaab storage|verify|retention|catalog` end to end: the real CLI process against a fresh catalog
// database and both local S3 endpoints (under a private key prefix).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "@hesaab/db";
import { ensureStack, freshDatabase, uniquePrefix, type FreshDatabase } from "@hesaab/testkit";
import { providerEnv, runCli } from "./run-cli";

let database: FreshDatabase;
let base: Record<string, string>;

beforeAll(async () => {
  await ensureStack();
  database = await freshDatabase("cli_storage");
  await migrate({ url: database.url });
  base = {
    ...providerEnv(),
    BACKUP_DATABASE_URL: database.url,
    STORAGE_KEY_PREFIX: uniquePrefix("cli-storage"),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
}, 120_000);

afterAll(async () => {
  await database?.drop();
});

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { ...base, ...env });

describe("hesaab storage commands", { timeout: 120_000 }, () => {
  it("a missing bucket is one clear line naming the provider and the bucket, not a stack trace", async () => {
    for (const [args, env, name, bucket] of [
      [["storage", "stats"], { B2_BUCKET_NAME: "does-not-exist" }, "b2", "does-not-exist"],
      [["verify"], { B2_BUCKET_NAME: "does-not-exist" }, "b2", "does-not-exist"],
      [["storage", "reconcile", "--json"], { R2_BUCKET_NAME: "no-such-r2-bucket" }, "r2", "no-such-r2-bucket"],
    ] as const) {
      const { code, stdout, stderr } = await cli([...args], env);
      expect(code, stderr).toBe(1);
      expect(stdout).toBe("");
      const lines = stderr.trim().split("\n");
      expect(lines, stderr).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(`^error: ${name}: bucket "${bucket}" does not exist at .*${name.toUpperCase()}_BUCKET_NAME.*\\[storage_bucket_missing\\]$`),
      );
      expect(stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("stats, verify, retention and catalog rebuild run against an empty catalog and prefix", async () => {
    const stats = await cli(["storage", "stats", "--json"]);
    expect(stats.code, stats.stderr).toBe(0);
    const parsed = JSON.parse(stats.stdout);
    expect(parsed.listing).toEqual([
      { provider: "b2", bytes: 0, objects: 0 },
      { provider: "r2", bytes: 0, objects: 0 },
    ]);
    expect(parsed.prices.providers.b2.storagePerGbMonth).toBe(0.006);

    const verify = await cli(["verify", "--json"]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toEqual([]);

    const retention = await cli(["retention", "apply", "--dry-run", "--json"]);
    expect(retention.code, retention.stderr).toBe(0);
    expect(JSON.parse(retention.stdout)).toMatchObject({ dryRun: true, expired: [], rules: { tenant: { days: 30 }, disaster: { days: 90 } } });

    const rebuild = await cli(["catalog", "rebuild", "--from", "r2", "--json"]);
    expect(rebuild.code, rebuild.stderr).toBe(0);
    expect(JSON.parse(rebuild.stdout)).toMatchObject({ from: "r2", inserted: 0, others: [{ provider: "b2", listed: true }] });

    const bad = await cli(["catalog", "rebuild", "--from", "s3"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/argument 's3' is invalid/);
  });
});
