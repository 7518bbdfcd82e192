import { describe, expect, it } from "vitest";
import { CREDENTIAL_COLUMN_PATTERNS, excludedColumns, formatExcludedColumns, withoutColumns, type TenantPlan } from "../src/index";

/** A plan with just what the matcher reads: tables, their schema and name, their columns. */
function planOf(tables: Record<string, [string, boolean?][]>): TenantPlan {
  const list = Object.entries(tables).map(([name, columns]) => {
    const [schema, table] = name.split(".") as [string, string];
    return { name, schema, table, sql: name, columns: columns.map(([c, notNull]) => ({ name: c, sql: c, type: "text", notNull: notNull ?? false })) };
  });
  return { tables: list, fingerprint: "f" } as unknown as TenantPlan;
}

describe("credential columns left out of customer exports", () => {
  const credentials = [
    "password_hash",
    "PasswordHash",
    "passwd",
    "user_passphrase",
    "pwd",
    "hash",
    "pin_hash",
    "hashed_pin",
    "salt",
    "password_salt",
    "client_secret",
    "mfa_secret",
    "refresh_token",
    "token",
    "api_key",
    "ApiKey",
    "aws_access_key_id",
    "private_key",
    "otp",
    "otp_seed",
    "sms_otp",
    "last_otp_sent",
    "totp_secret",
    "hotp_counter",
    "credentials",
    "recovery_codes",
    "pin",
    "pin_code",
  ];
  const ordinary = [
    "id",
    "tenant_id",
    "email",
    "full_name",
    "phone",
    "notes",
    "shipping",
    "description",
    "hashtag_count",
    "topic",
    "spinner",
    "opinion",
    "keyboard",
  ];

  it("the built-in patterns match credential names in any table, case ignored, and leave ordinary columns", () => {
    const plan = planOf({ "public.users": [...credentials, ...ordinary].map((c) => [c]) });
    expect(excludedColumns(plan).map((e) => e.column)).toEqual(credentials);
  });

  it("configured patterns: column, table.column, schema.table.column with * wildcards, added to the defaults; !defaults drops them", () => {
    const plan = planOf({
      "public.users": [["password_hash"], ["pin_hint"]],
      "public.customers": [["national_id", true], ["iban"]],
      "audit.customers": [["national_id"]],
    });
    const listed = (patterns: string[], defaults = true) => excludedColumns(plan, { defaults, patterns }).map((e) => `${e.table}.${e.column}`);
    expect(listed(["pin_*"])).toEqual(["public.users.password_hash", "public.users.pin_hint"]);
    expect(listed(["customers.national_id"])).toEqual(["public.users.password_hash", "public.customers.national_id", "audit.customers.national_id"]);
    expect(listed(["public.customers.*"])).toEqual(["public.users.password_hash", "public.customers.national_id", "public.customers.iban"]);
    expect(listed(["PUBLIC.Customers.IBAN"], false)).toEqual(["public.customers.iban"]);
    expect(listed([], false)).toEqual([]);
    expect(CREDENTIAL_COLUMN_PATTERNS).toContain("*password*");
  });

  it("the customer plan lacks the columns (a new fingerprint, tables with none left gone); the text for people names each with its pattern and the NOT NULL ones", () => {
    const plan = planOf({ "public.users": [["id", true], ["password_hash"]], "public.customers": [["national_id", true]] });
    const excluded = excludedColumns(plan, { defaults: true, patterns: ["national_id"] });
    const customer = withoutColumns(plan, excluded);
    expect(customer.tables.map((t) => t.columns.map((c) => c.name))).toEqual([["id"]]); // a table with no column left is left out whole
    expect(customer.fingerprint).not.toBe(plan.fingerprint);
    expect(plan.tables[0]!.columns).toHaveLength(2); // the plan given is not changed
    expect(formatExcludedColumns(excluded, { defaults: true, patterns: ["national_id"] })).toBe(
      [
        "customer export leaves out 2 column(s), matched by the built-in credential patterns and national_id:",
        "  public.users      password_hash (*password*)",
        "  public.customers  national_id (national_id, NOT NULL)",
        "the ZIP's backup.sql loads public.customers only where the NOT NULL columns left out have a default",
      ].join("\n"),
    );
  });
});
