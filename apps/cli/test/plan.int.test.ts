// `hesaab plan --customer`: the real CLI process against a generated platform.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPlatformSchema, generatePlatform } from "@hesaab/platform";
import { ensureStack, freshDatabase, type FreshDatabase } from "@hesaab/testkit";
import { runCli } from "./run-cli";

let database: FreshDatabase;

beforeAll(async () => {
  await ensureStack();
  database = await freshDatabase("cli_plan");
  await createPlatformSchema({ url: database.url });
  await generatePlatform({ url: database.url, tenants: 2, scale: 0.05 });
}, 120_000);

afterAll(async () => {
  await database?.drop();
});

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { PLATFORM_DATABASE_URL: database.url, ...env });

describe("hesaab plan --customer", { timeout: 120_000 }, () => {
  it("shows, per table, the columns a customer export leaves out: the built-in patterns and CUSTOMER_EXPORT_EXCLUDE_COLUMNS", async () => {
    const plain = await cli(["plan"]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).not.toContain("customer export leaves out");

    const text = await cli(["plan", "--customer"], { CUSTOMER_EXPORT_EXCLUDE_COLUMNS: "customers.national_id, public.customers.name" });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(
      "customer export leaves out 3 column(s), matched by the built-in credential patterns and customers.national_id, public.customers.name:\n",
    );
    expect(text.stdout).toMatch(/\n {2}public\.users +password_hash \(\*password\*\)\n/);
    expect(text.stdout).toMatch(/\n {2}public\.customers +name \(public\.customers\.name, NOT NULL\), national_id \(customers\.national_id\)\n/);
    expect(text.stdout).toContain("the ZIP's backup.sql loads public.customers only where the NOT NULL columns left out have a default");

    const json = await cli(["plan", "--customer", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as { customerExport: unknown; plan: { tables: unknown[] } };
    expect(parsed.customerExport).toEqual({
      defaults: true,
      patterns: [],
      excludedColumns: [{ table: "public.users", column: "password_hash", pattern: "*password*", notNull: false }],
    });
    expect(parsed.plan.tables.length).toBeGreaterThan(5);
  });

  it("a bad CUSTOMER_EXPORT_EXCLUDE_COLUMNS is refused, saying what an entry looks like", async () => {
    const bad = await cli(["plan", "--customer"], { CUSTOMER_EXPORT_EXCLUDE_COLUMNS: "a.b.c.d" });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("CUSTOMER_EXPORT_EXCLUDE_COLUMNS");
    expect(bad.stderr).toContain("each entry is column, table.column or schema.table.column");
  });
});
