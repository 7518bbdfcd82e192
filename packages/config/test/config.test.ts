import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { envPieces, errorText, HesaabError, parseEnv, queryErrorCause, redactUrl, Secret } from "../src";

describe("Secret", () => {
  it("never prints its value", () => {
    const s = new Secret("hunter2");
    expect(String(s)).toBe("**redacted**");
    expect(JSON.stringify({ s })).toBe('{"s":"**redacted**"}');
    expect(inspect({ s })).not.toContain("hunter2");
    expect(`${s}`).not.toContain("hunter2");
    expect(s.reveal()).toBe("hunter2");
  });
});

describe("redactUrl", () => {
  it("hides passwords in connection strings", () => {
    expect(redactUrl("postgres://app:s3cret@db:5432/x")).not.toContain("s3cret");
    expect(redactUrl("postgres://app:s3cret@db:5432/x")).toContain("app:");
    expect(redactUrl("https://h/x?token=abc")).not.toContain("abc");
  });
});

describe("parseEnv", () => {
  const schema = z.object({ ...envPieces.platformDb, ...envPieces.backupKeys, ...envPieces.b2 });
  it("names every bad variable without showing values", () => {
    let message = "";
    try {
      parseEnv(schema, { BACKUP_MASTER_KEYS: "1:dG9vc2hvcnQ=", B2_SECRET_ACCESS_KEY: "topsecretvalue" });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain("PLATFORM_DATABASE_URL");
    expect(message).toContain("BACKUP_MASTER_KEYS");
    expect(message).toContain("B2_BUCKET_NAME");
    expect(message).not.toContain("topsecretvalue");
    expect(message).not.toContain("dG9vc2hvcnQ");
  });
  it("parses versioned master keys", () => {
    const k = Buffer.alloc(32, 7).toString("base64");
    const env = parseEnv(z.object(envPieces.backupKeys), { BACKUP_MASTER_KEYS: `2:${k},1:${k}` });
    expect([...env.BACKUP_MASTER_KEYS.keys()]).toEqual([2, 1]);
    expect(env.BACKUP_MASTER_KEYS.get(2)!.reveal().length).toBe(32);
  });
});

describe("envPieces", () => {
  const schema = z.object({ ...envPieces.retentionKeeps, ...envPieces.tenantBackup, ...envPieces.deepVerify, ...envPieces.dataDir, ...envPieces.busPrefix });
  it("gives the shared pieces their defaults", () => {
    const env = parseEnv(schema, {});
    expect(env.BACKUP_RETENTION_KEEP_DAILY).toBe(0);
    expect(env.DISASTER_RETENTION_KEEP_MONTHLY).toBe(0);
    expect(env.BACKUP_GZIP_LEVEL).toBe(6);
    expect(env.BACKUP_COMPRESSION).toBe("gzip");
    expect(env.BACKUP_ZSTD_LEVEL).toBe(3);
    expect(env.TENANT_COLUMN).toBe("tenant_id");
    expect(env.STORAGE_DEEP_VERIFY_PERCENT).toBe(5);
    expect(env.HESAAB_DATA_DIR).toMatch(/hesaab$/);
    expect(env.HESAAB_BUS_PREFIX).toBeUndefined();
  });
  it("rejects a negative keep count and a gzip level out of range", () => {
    expect(() => parseEnv(schema, { BACKUP_RETENTION_KEEP_WEEKLY: "-1" })).toThrow(/BACKUP_RETENTION_KEEP_WEEKLY/);
    expect(() => parseEnv(schema, { BACKUP_GZIP_LEVEL: "10" })).toThrow(/BACKUP_GZIP_LEVEL/);
    expect(() => parseEnv(schema, { BACKUP_ZSTD_LEVEL: "20" })).toThrow(/BACKUP_ZSTD_LEVEL/);
  });
  it("takes zstd as BACKUP_COMPRESSION, and refuses a codec it does not have, naming the allowed values", () => {
    expect(parseEnv(schema, { BACKUP_COMPRESSION: "zstd" }).BACKUP_COMPRESSION).toBe("zstd");
    expect(() => parseEnv(schema, { BACKUP_COMPRESSION: "brotli" })).toThrow('BACKUP_COMPRESSION: must be gzip or zstd, got "brotli"');
  });
});

describe("CUSTOMER_EXPORT_EXCLUDE_COLUMNS", () => {
  const schema = z.object({ ...envPieces.customerExport });
  const parse = (value?: string) => parseEnv(schema, value === undefined ? {} : { CUSTOMER_EXPORT_EXCLUDE_COLUMNS: value }).CUSTOMER_EXPORT_EXCLUDE_COLUMNS;
  it("extends the built-in credential patterns unless !defaults is listed", () => {
    expect(parse()).toEqual({ defaults: true, patterns: [] });
    expect(parse(" users.pin , public.customers.national_id,*_iban ,")).toEqual({
      defaults: true,
      patterns: ["users.pin", "public.customers.national_id", "*_iban"],
    });
    expect(parse("!defaults,password_hash")).toEqual({ defaults: false, patterns: ["password_hash"] });
  });
  it("refuses entries that name no column, saying what an entry looks like", () => {
    for (const bad of ["a.b.c.d", "users.", "two words", "!pin"]) {
      expect(() => parse(bad), bad).toThrow(/CUSTOMER_EXPORT_EXCLUDE_COLUMNS: .*column, table\.column or schema\.table\.column/);
    }
  });
});

describe("errorText", () => {
  it("gives a HesaabError's code with its message, and a plain error's message alone", () => {
    expect(errorText(new HesaabError({ code: "storage_not_found", message: "object not found" }))).toBe("object not found [storage_not_found]");
    expect(errorText(new Error("boom"))).toBe("boom");
    expect(errorText("just text")).toBe("just text");
  });

  it("gives a failed statement's database error, never its SQL or values (drizzle's `Failed query: …`)", () => {
    const cause = Object.assign(new Error('relation "backup.backup_records" does not exist'), { code: "42P01" });
    const wrapped = new Error('Failed query: update "backup"."backup_records" set "status" = $1\nparams: failed,secret-value', { cause });
    expect(errorText(wrapped)).toBe('relation "backup.backup_records" does not exist');
    expect(queryErrorCause(wrapped)).toBe(cause);
    expect(errorText(new Error('Failed query: select "x"\nparams: '))).toBe("a database statement failed");
  });
});
